package ort

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

// TestRuntimeDir: a Runtime without its directory, or with one lacking
// run.mjs, fails before anything is installed or run, saying what is missing.
func TestRuntimeDir(t *testing.T) {
	_, err := Runtime{}.Run(context.Background(), "m.onnx", "input_1", nil, "")
	if err == nil || !strings.Contains(err.Error(), "Runtime.Dir is not set") {
		t.Errorf("Runtime{}.Run: %v, want an error naming Runtime.Dir", err)
	}
	err = Runtime{Dir: t.TempDir()}.Install(context.Background())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "run.mjs") {
		t.Errorf("Install in an empty directory: %v, want run.mjs not found", err)
	}
}

// TestRelativeDir: a Runtime whose Dir is relative to the working directory
// runs its run.mjs (node runs in Dir: the script's path was resolved from
// there a second time). A fake run.mjs echoes the input.
func TestRelativeDir(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed (scripts/deps.sh installs it)")
	}
	dir := filepath.Join(t.TempDir(), "rt")
	lock := []byte(`{"lockfileVersion": 3}`)
	files := map[string][]byte{
		"run.mjs": []byte(`import fs from 'fs';
const job = JSON.parse(fs.readFileSync(process.argv[2]));
const results = job.feeds.map((f, i) => {
  const x = Object.values(f)[0];
  const out = job.out + '/out-' + i + '.f32';
  fs.copyFileSync(x.file, out);
  return {outputs: {y: {file: out, dims: x.dims}}, ms: 1, runs: [1]};
});
console.log(JSON.stringify({ort: 'fake', results}));
`),
		"package-lock.json":        lock,
		"node_modules/.vggnb-lock": lock,
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(filepath.Dir(dir))
	const rel = "rt"
	x := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3)
	res, err := Runtime{Dir: rel}.Run(context.Background(), "m.onnx", "x", x, "")
	if err != nil {
		t.Fatalf("Dir %s: %v", rel, err)
	}
	if got := tensors.MustCopyFlatData[float32](res.Output); res.Version != "fake" || len(got) != 3 || got[2] != 3 {
		t.Errorf("Dir %s: version %q, output %v", rel, res.Version, got)
	}
}
