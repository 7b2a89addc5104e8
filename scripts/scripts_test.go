// Package scripts holds the set-up scripts' tests: scripts/*.sh are what the
// README's two commands run on a fresh Debian machine.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vggnb/vggnb/kernel"
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

// TestBinderDockerfile: binder/Dockerfile is docker/Dockerfile's stages plus
// docker/binder.Dockerfile's, as `make binder/Dockerfile` writes it.
func TestBinderDockerfile(t *testing.T) {
	var want []byte
	for _, f := range []string{"../docker/Dockerfile", "../docker/binder.Dockerfile"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, b...)
	}
	got, err := os.ReadFile("../binder/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Error("binder/Dockerfile is not docker/Dockerfile + docker/binder.Dockerfile: run make binder/Dockerfile")
	}
}

// TestCUDAPin: docker/Dockerfile.cuda installs the JAX release the kernel pins.
func TestCUDAPin(t *testing.T) {
	b, err := os.ReadFile("../docker/Dockerfile.cuda")
	if err != nil {
		t.Fatal(err)
	}
	if want := "ARG JAX_CUDA_VERSION=" + kernel.JAXCUDAVersion + "\n"; !strings.Contains(string(b), want) {
		t.Errorf("docker/Dockerfile.cuda lacks %q (kernel.JAXCUDAVersion)", strings.TrimSpace(want))
	}
}

// TestStartScript runs the image's entry point (docker/start.sh) with a fake
// jupyter that prints its arguments and $JUPYTER_TOKEN: a given token is used,
// none gives a random one that is printed, an empty one is refused before any
// server starts, and arguments are run instead of the server.
func TestStartScript(t *testing.T) {
	bin := t.TempDir()
	fake := "#!/bin/sh\necho \"jupyter $* token=$JUPYTER_TOKEN\"\n"
	if err := os.WriteFile(filepath.Join(bin, "jupyter"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".vggnb-image"), []byte("weights=synthetic\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The image's Go build cache, last trimmed when the image was built.
	trim := filepath.Join(home, ".cache", "go-build", "trim.txt")
	if err := os.MkdirAll(filepath.Dir(trim), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trim, []byte("1000000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(token *string, args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{"../docker/start.sh"}, args...)...)
		cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "HOME=" + home}
		if token != nil {
			cmd.Env = append(cmd.Env, "JUPYTER_TOKEN="+*token)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	given, empty := "s3cret-token", ""
	tests := []struct {
		name    string
		token   *string
		args    []string
		wantErr bool
		want    []string
		notWant string
	}{
		{name: "given token", token: &given, want: []string{"token=s3cret-token", "--ip=0.0.0.0", "SYNTHETIC"}},
		{name: "random token", want: []string{"this server's token is ", "jupyter notebook"}},
		{name: "empty token", token: &empty, wantErr: true, want: []string{"refusing"}, notWant: "jupyter notebook"},
		{name: "command", token: &empty, args: []string{"echo", "hello"}, want: []string{"hello"}, notWant: "jupyter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(tt.token, tt.args...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v:\n%s", err, tt.wantErr, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if tt.notWant != "" && strings.Contains(out, tt.notWant) {
				t.Errorf("output has %q:\n%s", tt.notWant, out)
			}
		})
	}
	// Go's cache trim (entries unused for 5 days) counts from the container's start.
	b, err := os.ReadFile(trim)
	if err != nil {
		t.Fatal(err)
	}
	if sec, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err != nil || time.Since(time.Unix(sec, 0)) > time.Minute {
		t.Errorf("trim.txt = %q, want the start's time", b)
	}
	// The random token is 48 hex digits, and the server gets the one printed.
	out, err := run(nil)
	if err != nil {
		t.Fatal(err)
	}
	printed := strings.Fields(out[strings.Index(out, "token is ")+len("token is "):])[0]
	if len(printed) != 48 || !strings.Contains(out, "token="+printed) {
		t.Errorf("random token %q (want 48 hex digits, passed to jupyter):\n%s", printed, out)
	}
}
