// Command gen writes notebooks/*.ipynb from their Go sources,
// notebooks/src/<pkg>/<pkg>.go, where gofmt, go vet and gopls see the code:
//
//	go run ./notebooks/gen        (make notebooks)
//
// A source is an ordinary Go package whose //gonb: comments mark the cells, in
// order:
//
//	//gonb:notebook NAME.ipynb   (once, before the package clause) the notebook written
//	//gonb:markdown              a markdown cell: the /* ... */ comment that follows
//	//gonb:setup                 the set-up cell: GoNB's go get pinning GoMLX at go.mod's
//	                             versions (quiet on success), then the lines up to the next
//	                             //gonb: (the imports); tagged "setup", the cell to run first
//	                             after a kernel restart
//	//gonb:code                  a code cell of declarations: the lines up to the next //gonb:
//	//gonb:main                  a code cell run as a program (GoNB's %%): the body of the
//	                             func _() { ... } that follows
//	//gonb:main same-cell        the same, appended to the preceding code cell
//
// Code cells never scroll their output (metadata "scrolled": false): a diagram
// or a table is seen whole, not folded. The kernelspec comes from package kernel. TestNotebooksUpToDate fails when a
// committed notebook differs from what its source generates.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/vggnb/vggnb/kernel"
)

func main() {
	root := "."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	out, err := generateAll(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	for path, b := range out {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
		fmt.Println("wrote", path)
	}
}

// generateAll generates every notebook of the checkout at root, by path.
func generateAll(root string) (map[string][]byte, error) {
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return nil, err
	}
	srcs, err := filepath.Glob(filepath.Join(root, "notebooks", "src", "*", "*.go"))
	if err != nil || len(srcs) == 0 {
		return nil, fmt.Errorf("no notebook sources under %s/notebooks/src (%v)", root, err)
	}
	out := map[string][]byte{}
	for _, src := range srcs {
		b, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		name, nb, err := generate(string(b), string(gomod))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		out[filepath.Join(root, "notebooks", name)] = nb
	}
	return out, nil
}

// cell is one notebook cell.
type cell struct {
	kind, source string
	tags         []string
}

var notebookName = regexp.MustCompile(`(?m)^//gonb:notebook (\S+\.ipynb)$`)

// generate turns a notebook source into the notebook's name and JSON.
func generate(src, gomod string) (string, []byte, error) {
	m := notebookName.FindStringSubmatch(src)
	if m == nil {
		return "", nil, fmt.Errorf("no //gonb:notebook NAME.ipynb line")
	}
	lines := strings.Split(src, "\n")
	var cells []cell
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "//gonb:") {
			continue
		}
		marker, arg, _ := strings.Cut(strings.TrimPrefix(lines[i], "//gonb:"), " ")
		// block returns the lines after the opening one up to the closing one.
		block := func(open, close string) ([]string, error) {
			if i+1 >= len(lines) || lines[i+1] != open {
				return nil, fmt.Errorf("line %d: //gonb:%s wants %q on the next line", i+1, marker, open)
			}
			j := i + 2
			for j < len(lines) && lines[j] != close {
				j++
			}
			b := lines[i+2 : j]
			i = j
			return b, nil
		}
		switch marker {
		case "notebook":
		case "markdown":
			text, err := block("/*", "*/")
			if err != nil {
				return "", nil, err
			}
			cells = append(cells, cell{kind: "markdown", source: strings.Join(text, "\n")})
		case "setup", "code":
			j := i + 1
			for j < len(lines) && !strings.HasPrefix(lines[j], "//gonb:") {
				j++
			}
			c := cell{kind: "code", source: strings.TrimSpace(strings.Join(lines[i+1:j], "\n"))}
			i = j - 1
			if marker == "setup" {
				get, err := goGet(gomod)
				if err != nil {
					return "", nil, err
				}
				c.source, c.tags = get+"\n\n"+c.source, []string{"setup"}
			}
			cells = append(cells, c)
		case "main":
			fn, err := block("func _() {", "}")
			if err != nil {
				return "", nil, err
			}
			body := make([]string, 0, len(fn))
			for _, l := range fn {
				body = append(body, strings.TrimPrefix(l, "\t"))
			}
			code := "%%\n" + strings.Join(body, "\n")
			if arg == "same-cell" {
				if len(cells) == 0 || cells[len(cells)-1].kind != "code" {
					return "", nil, fmt.Errorf("line %d: //gonb:main same-cell without a code cell before", i+1)
				}
				cells[len(cells)-1].source += "\n" + code
			} else {
				cells = append(cells, cell{kind: "code", source: code})
			}
		default:
			return "", nil, fmt.Errorf("line %d: unknown marker //gonb:%s", i+1, marker)
		}
	}
	b, err := notebookJSON(cells)
	return m[1], b, err
}

// goGet is the cell that pins GoMLX at go.mod's versions (GoNB's own go get
// would ask the module proxy for @latest).
func goGet(gomod string) (string, error) {
	var mods []string
	for _, mod := range []string{"github.com/gomlx/gomlx", "github.com/gomlx/compute"} {
		m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(mod) + `\s+(v\S+)`).FindStringSubmatch(gomod)
		if m == nil {
			return "", fmt.Errorf("go.mod does not require %s", mod)
		}
		mods = append(mods, mod+"@"+m[1])
	}
	// Quiet on success (go get reports on stderr, which notebooks show as an
	// error box); on failure the second go get shows why.
	// Two lines (GoNB joins a line ending in \ with the next), so that neither
	// is cut off in the notebook's input column.
	get := "go get " + strings.Join(mods, " ")
	return "!*" + get + " 2>/dev/null || \\\n  " + get, nil
}

// notebookJSON writes nbformat 4.5 JSON as nbformat does (indent 1, sorted keys,
// sources as lists of lines), with stable cell ids.
func notebookJSON(cells []cell) ([]byte, error) {
	var js []map[string]any
	for i, c := range cells {
		lines := strings.SplitAfter(c.source, "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		meta := map[string]any{}
		if len(c.tags) > 0 {
			meta["tags"] = c.tags
		}
		m := map[string]any{"cell_type": c.kind, "id": fmt.Sprintf("c%02d", i), "metadata": meta, "source": lines}
		if c.kind == "code" {
			meta["scrolled"] = false
			m["execution_count"] = nil
			m["outputs"] = []any{}
		}
		js = append(js, m)
	}
	nb := map[string]any{
		"cells": js,
		"metadata": map[string]any{
			"kernelspec":    map[string]any{"name": kernel.KernelName, "display_name": kernel.DisplayName, "language": "go"},
			"language_info": map[string]any{"name": "go"},
		},
		"nbformat": 4, "nbformat_minor": 5,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(nb); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
