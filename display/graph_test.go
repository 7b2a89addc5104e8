package display

import (
	"os"
	"os/exec"
	"path/filepath"
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
	fresh := filepath.Join(t.TempDir(), GraphvizHelper)
	build := exec.Command(goBin, "build", "-o", fresh, helperPackage)
	build.Env = append(os.Environ(), "GOEXPERIMENT=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", helperPackage, err, out)
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
		if got := helperStale(goBin, tc.path); got != tc.stale {
			t.Errorf("%s: helperStale = %v, want %v", tc.name, got, tc.stale)
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
