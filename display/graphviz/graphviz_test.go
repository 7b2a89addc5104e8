package graphviz

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestHelperStale: a cached helper is rebuilt when it was built with other
// versions of go-graphviz or wazero than the checkout selects (a wazero
// upgrade must reach users whose cache holds the old helper), and kept when
// it matches.
func TestHelperStale(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go is needed to build the helper:", err)
	}
	fresh := filepath.Join(t.TempDir(), Command)
	if err := Build(context.Background(), goBin, "", fresh, nil); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		stale      bool
	}{
		{"built from this checkout", fresh, false},
		{"without go-graphviz and wazero (this test binary)", self, true},
		{"unreadable: used as it is", filepath.Join(t.TempDir(), "missing"), false},
	} {
		if got := stale(goBin, "", tc.path); got != tc.stale {
			t.Errorf("%s: stale = %v, want %v", tc.name, got, tc.stale)
		}
	}
}

func TestClip(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"fatal error: fault\nstack", 100, "fatal error: fault\nstack"},
		{"fatal error: fault, then a long trace, then the end", 5, "fatal … e end"},
	} {
		if got := clip(tc.s, tc.n); got != tc.want {
			t.Errorf("clip(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

// TestRender: a configured helper that is not there is an error naming it,
// and the helper draws a graph as SVG.
func TestRender(t *testing.T) {
	missing := filepath.Join(t.TempDir(), Command)
	if _, err := (Helper{Path: missing}).Render(context.Background(), "digraph { a -> b }"); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Render with a missing helper: %v, want an error naming %s", err, missing)
	}
	svg, err := Helper{CacheDir: t.TempDir()}.Render(context.Background(), "digraph { alpha -> beta }")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(svg, "<svg") || !strings.Contains(svg, "alpha") {
		t.Errorf("Render gave %.200q, want an SVG with node alpha", svg)
	}
}
