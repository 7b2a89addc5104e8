package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestNotebooksUpToDate fails when a committed notebook differs from what its
// Go source generates: edit notebooks/src, then run go run ./notebooks/gen.
func TestNotebooksUpToDate(t *testing.T) {
	out, err := generateAll(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 2 {
		t.Fatalf("generated %d notebooks, want every notebook", len(out))
	}
	for path, want := range out {
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run go run ./notebooks/gen)", err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from its source under notebooks/src: run go run ./notebooks/gen", path)
		}
	}
	committed, _ := filepath.Glob(filepath.Join("..", "*.ipynb"))
	for _, p := range committed {
		if _, ok := out[filepath.Join("..", "..", "notebooks", filepath.Base(p))]; !ok {
			t.Errorf("%s has no source under notebooks/src", p)
		}
	}
}

// maxCodeColumns is the widest code line (a tab counted as 4) that Jupyter
// Notebook's input column shows whole in the browser test's 1280-pixel window
// (1026 pixels, about 9.3 per character): wider lines fail it there, minutes
// into make test; this test fails them at once.
const maxCodeColumns = 110

func TestCodeFitsTheColumn(t *testing.T) {
	out, err := generateAll(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for path, b := range out {
		var nb struct {
			Cells []struct {
				CellType string   `json:"cell_type"`
				Source   []string `json:"source"`
			} `json:"cells"`
		}
		if err := json.Unmarshal(b, &nb); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for i, c := range nb.Cells {
			if c.CellType != "code" {
				continue
			}
			for _, line := range c.Source {
				line = strings.TrimRight(strings.ReplaceAll(line, "\t", "    "), "\n")
				if n := utf8.RuneCountInString(line); n > maxCodeColumns {
					t.Errorf("%s, cell %d: a code line of %d columns, more than %d: %q", filepath.Base(path), i, n, maxCodeColumns, line)
				}
			}
		}
	}
}

func TestGenerateCells(t *testing.T) {
	src := "//gonb:notebook x.ipynb\npackage x\n\n//gonb:markdown\n/*\n# Title\n*/\n\n//gonb:setup\nimport \"fmt\"\n\n//gonb:code\nfunc f() {}\n\n//gonb:main same-cell\nfunc _() {\n\tf()\n}\n\n//gonb:main\nfunc _() {\n\tfmt.Println(`a\n\tb`)\n}\n"
	name, b, err := generate(src, "require (\n\tgithub.com/gomlx/compute v0.1.6\n\tgithub.com/gomlx/gomlx v0.28.8\n)\n")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{`"# Title"`, `"!*go get github.com/gomlx/gomlx@v0.28.8 github.com/gomlx/compute@v0.1.6 2>/dev/null || \\\n",` + "\n" +
		`    "  go get github.com/gomlx/gomlx@v0.28.8 github.com/gomlx/compute@v0.1.6\n",`,
		`"import \"fmt\""`, `"tags": [` + "\n" + `     "setup"`, `"scrolled": false`,
		`"func f() {}\n",`, `"%%\n",` + "\n" + `    "f()"`, `"fmt.Println(` + "`a\\n\"", `"name": "vggnb"`} {
		if !strings.Contains(s, want) {
			t.Errorf("generated notebook lacks %q:\n%s", want, s)
		}
	}
	if name != "x.ipynb" || strings.Count(s, `"cell_type"`) != 4 {
		t.Errorf("name %q, %d cells", name, strings.Count(s, `"cell_type"`))
	}
	if _, _, err := generate("//gonb:notebook y.ipynb\n//gonb:bogus\n", ""); err == nil {
		t.Error("an unknown marker was accepted")
	}
}
