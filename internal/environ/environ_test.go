package environ

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// envRead matches a read of a named environment variable.
var envRead = regexp.MustCompile(`os\.(?:Getenv|LookupEnv)\("([A-Za-z0-9_]+)"\)`)

// mayRead are the directories whose code may read the environment: the
// commands, the kernel, the notebooks and their helpers, this package, and
// the two libraries the package doc names.
var mayRead = []string{"cmd", "bench", "kernel", "notebooks", "scripts", "internal/environ", "weights/download", "internal/python"}

// TestVariables: every variable the module's code reads is in Variables, each
// read is where reading is allowed (library code takes options), no library
// sets one (os.Setenv), and README.md's table lists exactly Variables.
func TestVariables(t *testing.T) {
	root := filepath.Join("..", "..")
	known := map[string]bool{}
	for _, v := range Variables {
		if known[v.Name] || v.Meaning == "" {
			t.Errorf("Variables: %s listed twice or without a meaning", v.Name)
		}
		known[v.Name] = true
	}
	read := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		allowed := slices.ContainsFunc(mayRead, func(dir string) bool { return strings.HasPrefix(rel, dir+"/") })
		for _, m := range envRead.FindAllStringSubmatch(string(b), -1) {
			read[m[1]] = true
			if !known[m[1]] {
				t.Errorf("%s reads $%s, which Variables (and README.md's table) does not list", rel, m[1])
			}
			if !allowed {
				t.Errorf("%s reads $%s: library code takes options (internal/environ turns the environment into them)", rel, m[1])
			}
		}
		if strings.Contains(string(b), "os.Setenv(") && !allowed {
			t.Errorf("%s calls os.Setenv: a library changes no one's environment", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range Variables {
		if !read[v.Name] && v.Name != "VGGNB_EXECUTED_NOTEBOOKS" {
			t.Errorf("Variables lists $%s, which no code reads", v.Name)
		}
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var inTable []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]+)` \\|").FindAllStringSubmatch(string(readme), -1) {
		inTable = append(inTable, m[1])
	}
	var want []string
	for _, v := range Variables {
		want = append(want, v.Name)
	}
	if !slices.Equal(inTable, want) {
		t.Errorf("README.md's environment table lists %v, want Variables in order: %v", inTable, want)
	}
}
