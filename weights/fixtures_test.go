package weights

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vggnb/vggnb/weights/download"
)

// The fixtures are SYNTHETIC weights in the real Keras layouts, written by h5py
// (testdata/make_fixtures.py). They are generated on first use into a directory
// keyed by the script's hash, shared by test runs, so no binaries are committed.

var (
	pythonOnce sync.Once
	pythonPath string
	pythonErr  string
)

// h5pyPython finds a python3 that imports h5py and numpy: $VGGNB_PYTHON, then
// Debian's /usr/bin/python3, then python3 on PATH. Tests fail (not skip) without
// one: `make deps` (apt-get install python3-h5py) provides it.
func h5pyPython(t testing.TB) string {
	t.Helper()
	pythonOnce.Do(func() {
		cands := []string{os.Getenv("VGGNB_PYTHON"), "/usr/bin/python3", "python3"}
		for _, c := range cands {
			if c == "" {
				continue
			}
			if out, err := exec.Command(c, "-c", "import h5py, numpy").CombinedOutput(); err == nil {
				pythonPath = c
				return
			} else {
				pythonErr += c + ": " + string(out) + "\n"
			}
		}
	})
	if pythonPath == "" {
		t.Fatalf("no python3 with h5py and numpy (install Debian's python3-h5py, or set VGGNB_PYTHON):\n%s", pythonErr)
	}
	return pythonPath
}

func fixtureDir(t testing.TB) string {
	t.Helper()
	script, err := os.ReadFile("testdata/make_fixtures.py")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(script)
	dir := filepath.Join(os.TempDir(), "vggnb-fixtures-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// fixture returns the path of a generated fixture such as "vgg19_tf2016_notop.h5".
func fixture(t testing.TB, name string) string {
	t.Helper()
	dir := fixtureDir(t)
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	unlock, err := download.LockFile(ctx, filepath.Join(dir, name+".lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := os.Stat(p); err == nil {
		return p
	}
	cmd := exec.CommandContext(ctx, h5pyPython(t), "testdata/make_fixtures.py", dir, name)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("generating fixture %s: %v\n%s", name, err, out)
	}
	return p
}

type digest struct {
	Shape  []int  `json:"shape"`
	SHA256 string `json:"sha256"`
}

// h5pyDigests returns, per dataset path, the shape and the sha256 of the
// little-endian float32 bytes that h5py reads.
func h5pyDigests(t testing.TB, path string) map[string]digest {
	t.Helper()
	out, err := exec.Command(h5pyPython(t), "testdata/make_fixtures.py", "--digests", path).Output()
	if err != nil {
		t.Fatalf("h5py digests of %s: %v", path, err)
	}
	d := map[string]digest{}
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func sha(v []float32) string {
	s := sha256.Sum256(bytesOf(v))
	return hex.EncodeToString(s[:])
}
