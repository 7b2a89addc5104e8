// Package scripts holds the set-up scripts' tests: scripts/*.sh are what the
// README's two commands run on a fresh Debian machine.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDepsFailureStops runs run.sh and test.sh in a copy of the checkout whose
// deps.sh fails the way a failed Go download does, with a `make` on PATH that
// records being called: both scripts must exit non-zero with deps.sh's error and
// never reach make.
func TestDepsFailureStops(t *testing.T) {
	for _, script := range []string{"run.sh", "test.sh"} {
		t.Run(script, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
				t.Fatal(err)
			}
			src, err := os.ReadFile(script)
			if err != nil {
				t.Fatal(err)
			}
			write := func(path, s string) {
				t.Helper()
				if err := os.WriteFile(path, []byte(s), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			write(filepath.Join(dir, "scripts", script), string(src))
			write(filepath.Join(dir, "scripts", "deps.sh"),
				"#!/bin/sh\necho 'export PATH=\"/nonexistent:$PATH\"'\necho 'deps: downloading Go failed: https://proxy.golang.org/x.zip' >&2\nexit 1\n")
			bin := filepath.Join(dir, "bin")
			if err := os.Mkdir(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(dir, "make-ran")
			write(filepath.Join(bin, "make"), "#!/bin/sh\ntouch "+marker+"\n")
			cmd := exec.Command("bash", filepath.Join(dir, "scripts", script))
			cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Errorf("%s exited 0 after deps.sh failed:\n%s", script, out)
			}
			if !strings.Contains(string(out), "downloading Go failed") {
				t.Errorf("%s did not pass on deps.sh's error:\n%s", script, out)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Errorf("%s went on to make after deps.sh failed", script)
			}
		})
	}
}
