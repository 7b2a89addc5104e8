package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// vggnbBinary builds this command once per test binary, for tests that need a
// real process (signals, start-up, other users).
func vggnbBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vggnb-bin-")
		if err != nil {
			binErr = err
			return
		}
		// World-readable, so that a test can run it as another user.
		if err := os.Chmod(dir, 0o755); err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "vggnb")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = err
			binPath = string(out)
		}
	})
	if binErr != nil {
		t.Fatalf("go build: %v\n%s", binErr, binPath)
	}
	return binPath
}

// asOtherUser returns a command that runs name as an unprivileged user when the
// tests run as root (setpriv, from util-linux), else as this user.
func asOtherUser(name string, args ...string) *exec.Cmd {
	if os.Geteuid() == 0 {
		return exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", name}, args...)...)
	}
	return exec.Command(name, args...)
}

// TestStartupTouchesNoDisk: a second user on a shared machine, whose $TMPDIR
// holds another user's Graphviz (wazero) cache, runs vggnb. go-graphviz compiled
// its WebAssembly into that cache at package initialisation and panicked
// (`panic: open $TMPDIR/go-graphviz/wazero-...: permission denied`); vggnb must
// not link it, and must start.
func TestStartupTouchesNoDisk(t *testing.T) {
	bin := vggnbBinary(t)
	tmp, err := os.MkdirTemp("", "vggnb-sharedtmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	// Another user's cache: present, not writable (nor readable) for us.
	foreign := filepath.Join(tmp, "go-graphviz", "wazero-v1.8.1-amd64-linux")
	if err := os.MkdirAll(foreign, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{tmp, filepath.Dir(foreign)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(foreign, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(foreign, 0o755)
	for _, args := range [][]string{{"help"}, {"layers", "--model", "vgg16"}} {
		cmd := asOtherUser(bin, args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "HOME="+tmp, "VGGNB_CACHE="+filepath.Join(tmp, "nocache"))
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Contains(string(out), "panic:") {
			t.Errorf("vggnb %s with another user's graphviz cache in $TMPDIR: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	deps, err := exec.Command("go", "list", "-deps", ".", "../../display").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(deps), "go-graphviz") {
		t.Error("vggnb or display links github.com/goccy/go-graphviz (its init writes to $TMPDIR); only cmd/vggnb-graphviz may")
	}
}
