// Package filepairs finds the files of a Go package that use each other both
// ways: file A uses a package-level name (function, type, method, field,
// variable, constant) declared in B, and B one declared in A. A package laid
// out by concern has such pairs only inside a concern; the tests of vggnb's
// packages check theirs against the groups of files they declare.
//
// It type-checks the package's non-test files with the go command's export
// data (go list -export), so it needs the go command and a buildable package.
package filepairs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
)

// Pair is two files of a package that use each other: A's uses of B's names
// (sorted, once each) and B's of A's.
type Pair struct {
	A, B         string
	AUses, BUses []string
}

func (p Pair) String() string {
	return fmt.Sprintf("%s <-> %s: %s uses %v; %s uses %v", p.A, p.B, p.A, p.AUses, p.B, p.BUses)
}

// TwoWay returns the pairs of the package in dir (file base names, A < B),
// sorted, for the build the environment gives (GOOS, GOARCH, GOEXPERIMENT,
// GOFLAGS' tags).
func TwoWay(dir string) ([]Pair, error) {
	var pkg struct {
		ImportPath string
		Dir        string
		GoFiles    []string
	}
	out, err := goList(dir, "-json", ".")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(out, &pkg); err != nil {
		return nil, fmt.Errorf("filepairs: go list: %w", err)
	}
	exports := map[string]string{}
	out, err = goList(dir, "-export", "-deps", "-json=ImportPath,Export", ".")
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct{ ImportPath, Export string }
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("filepairs: go list -export: %w", err)
		}
		exports[p.ImportPath] = p.Export
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, 0)
		if err != nil {
			return nil, fmt.Errorf("filepairs: %w", err)
		}
		files = append(files, f)
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		e, ok := exports[path]
		if !ok || e == "" {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(e)
	})
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	tpkg, err := (&types.Config{Importer: imp}).Check(pkg.ImportPath, fset, files, info)
	if err != nil {
		return nil, fmt.Errorf("filepairs: type-checking %s: %w", pkg.ImportPath, err)
	}
	uses := map[[2]string]map[string]bool{}
	for id, obj := range info.Uses {
		if obj == nil || obj.Pkg() != tpkg || !obj.Pos().IsValid() {
			continue
		}
		if _, ok := obj.(*types.PkgName); ok {
			continue
		}
		_, isVar := obj.(*types.Var)
		field := isVar && obj.(*types.Var).IsField()
		_, isFunc := obj.(*types.Func)
		if obj.Parent() != tpkg.Scope() && !field && !isFunc { // locals
			continue
		}
		from := filepath.Base(fset.Position(id.Pos()).Filename)
		to := filepath.Base(fset.Position(obj.Pos()).Filename)
		if from == to {
			continue
		}
		k := [2]string{from, to}
		if uses[k] == nil {
			uses[k] = map[string]bool{}
		}
		uses[k][obj.Name()] = true
	}
	var pairs []Pair
	for k, names := range uses {
		if k[0] >= k[1] {
			continue
		}
		if back, ok := uses[[2]string{k[1], k[0]}]; ok {
			pairs = append(pairs, Pair{A: k[0], B: k[1], AUses: sorted(names), BUses: sorted(back)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		return pairs[i].A < pairs[j].A || pairs[i].A == pairs[j].A && pairs[i].B < pairs[j].B
	})
	return pairs, nil
}

// Across returns the pairs whose files are not in one of groups (each a list
// of file base names that belong to one concern).
func Across(pairs []Pair, groups ...[]string) []Pair {
	var out []Pair
	for _, p := range pairs {
		if !slices.ContainsFunc(groups, func(g []string) bool { return slices.Contains(g, p.A) && slices.Contains(g, p.B) }) {
			out = append(out, p)
		}
	}
	return out
}

func sorted(m map[string]bool) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

func goList(dir string, args ...string) ([]byte, error) {
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("filepairs: go list %v in %s: %v: %s", args, dir, err, stderr.String())
	}
	return out, nil
}
