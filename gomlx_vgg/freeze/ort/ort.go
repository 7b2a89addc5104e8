// Package ort runs frozen ONNX files in ONNX Runtime, the reference runtime
// another program would serve them with: the npm package onnxruntime-node
// (CPU library bundled), pinned in the repository's scripts/ort, driven by
// scripts/ort/run.mjs through Node.js. It is how vggnb proves that a frozen
// file means the same thing outside GoMLX.
package ort

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/internal/atomicfile"
	"github.com/vggnb/vggnb/weights"
)

// Version is the pinned onnxruntime-node release (scripts/ort/package.json).
const Version = "1.30.0"

// Runtime is an ONNX Runtime installation: Dir holds run.mjs, package.json
// and package-lock.json (a vggnb checkout's scripts/ort), and Install puts the
// pinned onnxruntime-node in Dir/node_modules. Commands and notebooks find
// Dir (notebooks/nb.ORT: $VGGNB_ORT_DIR or the checkout's scripts/ort); the
// package itself looks nowhere.
type Runtime struct {
	// Dir is the directory of run.mjs; required.
	Dir string
}

var installMu sync.Mutex

// dir checks that r.Dir is set and holds run.mjs, and returns it absolute:
// node runs in it, so a relative path would be resolved from it a second time.
func (r Runtime) dir() (string, error) {
	if r.Dir == "" {
		return "", errors.New("ort: Runtime.Dir is not set (a vggnb checkout's scripts/ort)")
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "run.mjs")); err != nil {
		return "", fmt.Errorf("ort: Runtime.Dir: %w", err)
	}
	dir, err := filepath.Abs(r.Dir)
	if err != nil {
		return "", fmt.Errorf("ort: Runtime.Dir: %w", err)
	}
	return dir, nil
}

// Install installs the pinned onnxruntime-node into Dir/node_modules with
// `npm ci --ignore-scripts` (no download at install time: the CPU library is
// in the package), unless the lock file it was installed from is the current
// one (node_modules/.vggnb-lock).
func (r Runtime) Install(ctx context.Context) error {
	dir, err := r.dir()
	if err != nil {
		return err
	}
	installMu.Lock()
	defer installMu.Unlock()
	lock, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		return fmt.Errorf("ort: %w", err)
	}
	stamp := filepath.Join(dir, "node_modules", ".vggnb-lock")
	if have, err := os.ReadFile(stamp); err == nil && bytes.Equal(have, lock) {
		return nil
	}
	if _, err := exec.LookPath("npm"); err != nil {
		return errors.New("ort: npm is not installed (Debian: apt-get install nodejs npm; scripts/deps.sh does)")
	}
	cmd := exec.CommandContext(ctx, "npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ort: npm ci in %s: %w\n%s", dir, err, out)
	}
	return atomicfile.WriteFile(stamp, lock)
}

// Result is what one ONNX Runtime run gave.
type Result struct {
	// Output is the graph's output.
	Output *tensors.Tensor
	// Version is ONNX Runtime's; Millis the run's time in milliseconds (session
	// creation excluded; with Options.Reps, the median of the timed runs), Runs
	// each timed run's.
	Version string
	Millis  float64
	Runs    []float64
}

// Options tune RunWith.
type Options struct {
	// Output names the output to return ("": the model's only output).
	Output string
	// Threads is ONNX Runtime's intra-op thread count (0: its default).
	Threads int
	// Reps > 0 times that many runs after one untimed run (a benchmark).
	Reps int
}

// Run installs ONNX Runtime if needed (Install), then runs the ONNX file at
// model on x (float32) as input, and returns the named output (the model's
// only output when output is "").
func (r Runtime) Run(ctx context.Context, model, input string, x *tensors.Tensor, output string) (*Result, error) {
	return r.RunWith(ctx, model, input, x, Options{Output: output})
}

// RunWith is Run with options: the output, ONNX Runtime's threads, timed runs.
func (r Runtime) RunWith(ctx context.Context, model, input string, x *tensors.Tensor, opts Options) (*Result, error) {
	res, err := r.RunBatches(ctx, model, input, []*tensors.Tensor{x}, opts)
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// RunBatches is RunWith on each of xs in turn, in one ONNX Runtime session:
// the model is loaded and optimized once (for VGG16 with its top, about 10 s
// of each run here), and the results come in the order of xs.
func (r Runtime) RunBatches(ctx context.Context, model, input string, xs []*tensors.Tensor, opts Options) ([]*Result, error) {
	if len(xs) == 0 {
		return nil, fmt.Errorf("ort: %s: no input to run", model)
	}
	output := opts.Output
	if err := r.Install(ctx); err != nil {
		return nil, err
	}
	dir, err := r.dir()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "vggnb-ort-")
	if err != nil {
		return nil, fmt.Errorf("ort: %w", err)
	}
	defer os.RemoveAll(tmp)
	feeds := make([]map[string]any, len(xs))
	for i, x := range xs {
		var raw []byte
		tensors.MustConstFlatData(x, func(v []float32) { raw = weights.Float32sToLE(v) })
		xfile := filepath.Join(tmp, fmt.Sprintf("input-%d.f32", i))
		if err := os.WriteFile(xfile, raw, 0o600); err != nil {
			return nil, fmt.Errorf("ort: %w", err)
		}
		feeds[i] = map[string]any{input: map[string]any{"file": xfile, "dims": x.Shape().Dimensions}}
	}
	abs, err := filepath.Abs(model)
	if err != nil {
		return nil, fmt.Errorf("ort: %w", err)
	}
	job := map[string]any{"model": abs, "out": tmp, "feeds": feeds}
	if output != "" {
		job["outputs"] = []string{output}
	}
	if opts.Threads > 0 {
		job["threads"] = opts.Threads
	}
	if opts.Reps > 0 {
		job["reps"] = opts.Reps
	}
	jb, _ := json.Marshal(job)
	jfile := filepath.Join(tmp, "job.json")
	if err := os.WriteFile(jfile, jb, 0o600); err != nil {
		return nil, fmt.Errorf("ort: %w", err)
	}
	cmd := exec.CommandContext(ctx, "node", filepath.Join(dir, "run.mjs"), jfile)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ort: %s: %w: %s", model, err, strings.TrimSpace(stderr.String()))
	}
	var res struct {
		ORT     string `json:"ort"`
		Results []struct {
			Outputs map[string]struct {
				File string `json:"file"`
				Dims []int  `json:"dims"`
			} `json:"outputs"`
			MS   float64   `json:"ms"`
			Runs []float64 `json:"runs"`
		} `json:"results"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil || len(res.Results) != len(xs) {
		return nil, fmt.Errorf("ort: %s: unexpected answer %q (%v)", model, stdout.String(), err)
	}
	out := make([]*Result, len(xs))
	for i, rr := range res.Results {
		if len(rr.Outputs) != 1 {
			return nil, fmt.Errorf("ort: %s: %d outputs, want one (name it with Options.Output)", model, len(rr.Outputs))
		}
		for _, o := range rr.Outputs {
			b, err := os.ReadFile(o.File)
			if err != nil {
				return nil, fmt.Errorf("ort: %w", err)
			}
			v := weights.Float32sFromLE(b)
			n := 1
			for _, d := range o.Dims {
				n *= d
			}
			if n != len(v) {
				return nil, fmt.Errorf("ort: %s: output dims %v but %d values", model, o.Dims, len(v))
			}
			out[i] = &Result{Output: tensors.FromFlatDataAndDimensions(v, o.Dims...), Version: res.ORT, Millis: rr.MS, Runs: rr.Runs}
		}
	}
	return out, nil
}
