package display

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// GraphvizHelper is the command RenderDOT runs (cmd/vggnb-graphviz).
const GraphvizHelper = "vggnb-graphviz"

// helperPackage is the Go package that builds GraphvizHelper.
const helperPackage = "github.com/vggnb/vggnb/cmd/" + GraphvizHelper

// RenderDOT lays out a Graphviz DOT graph and returns it as SVG. Graphviz runs
// as WebAssembly in its own process, the vggnb-graphviz command, so that nothing
// graphviz-related happens in this one until a graph is drawn: its compiled
// module is cached under the user's vggnb cache (download.CacheDir()/graphviz),
// never in a shared temp directory.
//
// The command is found as $VGGNB_GRAPHVIZ, on PATH, beside this executable, or
// in download.CacheDir()/bin; failing those it is built there once with `go
// build` (from $VGGNB_CHECKOUT or the working directory, as in a GoNB cell or a
// checkout). Errors say which and how to install it.
func RenderDOT(dot string) (SVG, error) {
	helper, err := graphvizCommand()
	if err != nil {
		return "", err
	}
	tmp := filepath.Join(download.CacheDir(), "graphviz")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return "", fmt.Errorf("display: graphviz cache: %w (set VGGNB_CACHE to a writable directory)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helper)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stdin = strings.NewReader(dot)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("display: graphviz (%s): %v: %s", helper, err, strings.TrimSpace(tail(stderr.String(), 2000)))
	}
	return SVG(fitWidth(stripProlog(stdout.String()))), nil
}

var svgOpen = regexp.MustCompile(`<svg\b`)

// fitWidth lets an SVG shrink to its container (a notebook column) instead of
// overflowing it: max-width 100% and an automatic height, with its viewBox (which
// Graphviz writes) keeping the proportions. Small drawings keep their size.
func fitWidth(svg string) string {
	return svgOpen.ReplaceAllLiteralString(svg, `<svg style="max-width:100%;height:auto"`)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// graphvizCommand finds (or, once, builds) the vggnb-graphviz command.
func graphvizCommand() (string, error) {
	helperOnce.Do(func() { helperPath, helperErr = findOrBuildHelper() })
	return helperPath, helperErr
}

func findOrBuildHelper() (string, error) {
	if p := os.Getenv("VGGNB_GRAPHVIZ"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("display: VGGNB_GRAPHVIZ: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath(GraphvizHelper); err == nil {
		return p, nil
	}
	cached := filepath.Join(download.CacheDir(), "bin", GraphvizHelper)
	candidates := []string{cached}
	if exe, err := os.Executable(); err == nil {
		candidates = append([]string{filepath.Join(filepath.Dir(exe), GraphvizHelper)}, candidates...)
	}
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	install := "go install " + helperPackage + " (vggnb kernel install does), or set VGGNB_GRAPHVIZ"
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("display: drawing graphs needs the %s command, not found on PATH, beside %s or in %s, and no go to build it: %s",
			GraphvizHelper, os.Args[0], filepath.Dir(cached), install)
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		return "", fmt.Errorf("display: building %s: %w; %s", GraphvizHelper, err, install)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", cached, os.Getpid())
	cmd := exec.Command(goBin, "build", "-o", tmp, helperPackage)
	cmd.Dir = os.Getenv("VGGNB_CHECKOUT")
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("display: drawing graphs needs the %s command; building it failed (%v: %s); %s",
			GraphvizHelper, err, strings.TrimSpace(tail(string(out), 1000)), install)
	}
	if err := os.Rename(tmp, cached); err != nil {
		_ = os.Remove(tmp)
		return "", errors.Join(fmt.Errorf("display: installing %s", GraphvizHelper), err)
	}
	return cached, nil
}

var prolog = regexp.MustCompile(`(?s)^.*?(<svg)`)

// stripProlog drops the XML declaration and DOCTYPE so the SVG can be inlined.
func stripProlog(s string) string { return prolog.ReplaceAllString(s, "$1") }

func dotQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

var classColor = map[weights.Class]string{
	weights.InputLayer: "#eeeeee", weights.Conv2D: "#c6dbef", weights.MaxPooling2D: "#fdd0a2", weights.Flatten: "#eeeeee",
	weights.Dense: "#c7e9c0", weights.GlobalAveragePooling2D: "#fdd0a2", weights.GlobalMaxPooling2D: "#fdd0a2",
}

// LayerGraph draws the model's layers top to bottom with their classes, output
// shapes and parameter counts, like keras.utils.plot_model(show_shapes=True).
func LayerGraph(m *gomlx_vgg.Model) (SVG, error) {
	var b strings.Builder
	b.WriteString("digraph vgg {\nrankdir=TB; node [shape=box style=\"rounded,filled\" fontname=\"Helvetica\" fontsize=10];\n")
	fmt.Fprintf(&b, "label=%s; labelloc=t; fontname=\"Helvetica\";\n", dotQuote(m.Title()))
	layers := m.Layers()
	for i, l := range layers {
		label := fmt.Sprintf("%s\\n%s\\n%s", l.Name, l.Class, gomlx_vgg.KerasShape(l.OutputShape))
		if l.Params > 0 {
			label += fmt.Sprintf("\\n%d params", l.Params)
		}
		fmt.Fprintf(&b, "n%d [label=%s fillcolor=%s];\n", i, dotQuote(label), dotQuote(classColor[l.Class]))
		if i > 0 {
			fmt.Fprintf(&b, "n%d -> n%d;\n", i-1, i)
		}
	}
	b.WriteString("}\n")
	return RenderDOT(b.String())
}

// OpGraph draws the GoMLX ops of a model graph (gomlx_vgg.Model.Ops), grouped in
// one box per Keras layer. maxLayers > 0 keeps only the first layers, which
// keeps the drawing of a 400-op VGG19 readable.
func OpGraph(groups []gomlx_vgg.OpGroup, maxLayers int) (SVG, error) {
	if maxLayers > 0 && len(groups) > maxLayers {
		groups = groups[:maxLayers]
	}
	var b strings.Builder
	b.WriteString("digraph ops {\nrankdir=TB; compound=true; node [shape=box style=filled fillcolor=white fontname=\"Helvetica\" fontsize=9];\n")
	known := map[int]bool{}
	for gi, g := range groups {
		fmt.Fprintf(&b, "subgraph cluster_%d {\nlabel=%s; style=\"rounded,filled\"; fillcolor=\"#f3f6fb\"; fontname=\"Helvetica\";\n", gi, dotQuote(g.Layer))
		for _, op := range g.Ops {
			known[op.ID] = true
			fill := "white"
			switch op.Type {
			case "Parameter":
				fill = "#fff2cc"
			case "DotGeneral":
				fill = "#c6dbef"
			}
			fmt.Fprintf(&b, "op%d [label=%s fillcolor=%s];\n", op.ID, dotQuote(fmt.Sprintf("%s\\n%v", op.Type, op.Shape)), dotQuote(fill))
		}
		b.WriteString("}\n")
	}
	for _, g := range groups {
		for _, op := range g.Ops {
			for _, in := range op.Inputs {
				if known[in] {
					fmt.Fprintf(&b, "op%d -> op%d;\n", in, op.ID)
				}
			}
		}
	}
	b.WriteString("}\n")
	return RenderDOT(b.String())
}

// OpCounts renders a table of how many ops of each type each layer adds.
func OpCounts(groups []gomlx_vgg.OpGroup) HTML {
	types := []string{}
	seen := map[string]bool{}
	for _, g := range groups {
		for _, op := range g.Ops {
			if !seen[op.Type] {
				seen[op.Type] = true
				types = append(types, op.Type)
			}
		}
	}
	header := append([]string{"layer", "ops"}, types...)
	var rows [][]string
	total := 0
	for _, g := range groups {
		count := map[string]int{}
		for _, op := range g.Ops {
			count[op.Type]++
		}
		row := []string{esc(g.Layer), fmt.Sprint(len(g.Ops))}
		for _, t := range types {
			row = append(row, fmt.Sprint(count[t]))
		}
		total += len(g.Ops)
		rows = append(rows, row)
	}
	return table(fmt.Sprintf("GoMLX ops per layer (%d in all)", total), header, rows)
}
