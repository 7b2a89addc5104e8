package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/vggnb/vggnb/gomlx_vgg"
)

func TestInspect(t *testing.T) {
	nb := `{"cells": [
 {"cell_type": "markdown", "source": "x"},
 {"cell_type": "code", "execution_count": 1, "outputs": [{"output_type": "stream", "name": "stdout", "text": ["ok\n"]}]},
 {"cell_type": "code", "execution_count": 2, "outputs": [{"output_type": "stream", "name": "stderr", "text": ["panic: boom\n", "\n", "goroutine 1\n"]}]},
 {"cell_type": "code", "execution_count": 3, "outputs": [{"output_type": "error", "ename": "ERROR", "evalue": "x", "traceback": ["Cell[3]: Line 2", "undefined: y"]}]},
 {"cell_type": "code", "execution_count": 4, "outputs": [{"output_type": "stream", "name": "stderr", "text": "warning: slow\n"}]},
 {"cell_type": "code", "execution_count": 5, "outputs": [{"output_type": "stream", "name": "stderr", "text": "\u001b[7mexit status 3\u001b[0m\n"}]},
 {"cell_type": "code", "execution_count": 6, "outputs": [{"output_type": "stream", "name": "stderr", "text": "pan"}, {"output_type": "stream", "name": "stdout", "text": "x"}, {"output_type": "stream", "name": "stderr", "text": "ic: split\n"}]}
]}`
	path := filepath.Join(t.TempDir(), "nb.ipynb")
	if err := os.WriteFile(path, []byte(nb), 0o644); err != nil {
		t.Fatal(err)
	}
	failures, code, err := Inspect(path)
	if err != nil {
		t.Fatal(err)
	}
	if code != 6 {
		t.Errorf("%d code cells, want 6", code)
	}
	var cells []int
	for _, f := range failures {
		cells = append(cells, f.Cell)
	}
	if len(cells) != 4 || cells[0] != 3 || cells[1] != 4 || cells[2] != 6 || cells[3] != 7 {
		t.Fatalf("failed cells %v, want [3 4 6 7]", cells)
	}
	if !strings.Contains(failures[1].Message, "undefined: y") || !strings.Contains(failures[2].Message, "exit status 3") ||
		!strings.Contains(failures[3].Message, "panic: split") {
		t.Errorf("messages %+v", failures)
	}
}

func TestFindCheckout(t *testing.T) {
	wd, _ := os.Getwd()
	root, err := FindCheckout(wd)
	if err != nil || root != filepath.Dir(wd) {
		t.Errorf("FindCheckout(%s) = %s, %v", wd, root, err)
	}
	if _, err := FindCheckout(t.TempDir()); err == nil {
		t.Error("found a checkout in an empty directory")
	}
}

// installed installs the kernel into a temporary Jupyter data directory (the
// tools go to their usual cache, shared with `make run`).
func installed(t *testing.T) Config {
	t.Helper()
	if _, err := exec.LookPath("jupyter"); err != nil {
		t.Fatal("jupyter is not installed: apt-get install jupyter-nbconvert python3-nbclient python3-ipykernel (scripts/deps.sh does)")
	}
	cfg, err := Install(context.Background(), Config{JupyterDataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Doctor(cfg) {
		if c.Required && !c.OK {
			t.Errorf("doctor after install: %s missing: %s", c.Name, c.Detail)
		}
	}
	return cfg
}

func TestRunFailsOnBrokenCells(t *testing.T) {
	if testing.Short() {
		t.Skip("runs Jupyter")
	}
	cfg := installed(t)
	out := t.TempDir()
	for _, c := range []struct {
		nb, want string
		cell     int
	}{
		{"panic.ipynb", "panic: boom from the fixture", 3},
		{"compile_error.ipynb", "undefined: undefinedThing", 1},
		{"exit.ipynb", "exit status 3", 1},
	} {
		_, err := Run(context.Background(), []string{filepath.Join("testdata", c.nb)}, RunOptions{OutDir: out, JupyterDataDir: cfg.JupyterDataDir})
		var nbErr *NotebookError
		if !errors.As(err, &nbErr) {
			t.Fatalf("%s: error %v, want a *NotebookError", c.nb, err)
		}
		if len(nbErr.Failures) != 1 || nbErr.Failures[0].Cell != c.cell || !strings.Contains(nbErr.Failures[0].Message, c.want) {
			t.Errorf("%s: %v\nwant one failure in cell %d mentioning %q", c.nb, err, c.cell, c.want)
		}
		if _, err := os.Stat(filepath.Join(out, strings.TrimSuffix(c.nb, ".ipynb")+".html")); err != nil {
			t.Errorf("%s: no HTML export of the failed run: %v", c.nb, err)
		}
	}
}

// The flagship notebook runs headless and its outputs hold the table, the
// activation grids and the diagrams as images, and block5_pool's shape.
func TestFlagshipNotebook(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the flagship notebook")
	}
	res, executed := executeNotebook(t, "01_vgg19_consistency.ipynb")
	for _, w := range []string{`"image/png"`, `"image/svg+xml"`, `"text/html"`, "block5_pool shape [1 6 9 512]",
		"identical: true", "unchanged: true", "PASS", "pure Go, native kernels vs PyTorch", "pure Go, GoMLX graph vs PyTorch"} {
		if !strings.Contains(executed, w) {
			t.Errorf("executed notebook lacks %q", w)
		}
	}
	if strings.Contains(executed, `class=\"fail\"`) {
		t.Error("the consistency report has failing layers")
	}
	h, err := os.ReadFile(res.HTML)
	if err != nil {
		t.Fatal(err)
	}
	html := string(h)
	// SVGs are embedded as images: nbconvert's sanitizer strips inline SVG elements.
	svgs, pngs := strings.Count(html, `src="data:image/svg+xml;charset=utf-8,%3Csvg`), strings.Count(html, "data:image/png;base64")
	if svgs < 4 || pngs < 2 || !strings.Contains(html, `<table class="vggnb">`) {
		t.Errorf("HTML export lacks the diagrams and charts (%d SVG images), grids (%d PNG) or tables", svgs, pngs)
	}
}

// Notebook 02 (the seed's MLP) runs headless and shows each idea's outcome.
func TestMLPNotebook(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the MLP in a notebook")
	}
	b := runNotebook(t, "02_mnist_mlp.ipynb")
	for _, w := range []string{"after 100 steps", sized(b, "after 18000 steps: test accuracy 0.8", "after 2400 steps: test accuracy 0.8"), "two calls equal: true",
		"training phase, two calls equal:   false", "variable /shared/dense/weights", "unchanged by evaluation: true",
		"changed by a training step: true", "frozen dense_1 unchanged: true", "dense_2 trained: true", "1 device",
		"data:image/svg+xml"} {
		if !strings.Contains(b, w) {
			t.Errorf("executed notebook 02 lacks %q", w)
		}
	}
}

// sized is full, or quick where the executed notebook says it ran at CI's size
// (VGGNB_QUICK=1, notebooks/nb.QuickNote).
func sized(executed, full, quick string) string {
	if strings.Contains(executed, "VGGNB_QUICK=1 (CI's size)") {
		return quick
	}
	return full
}

// executedEnv names a directory of notebooks already executed from this
// checkout (make test: the browser test's Run All, scripts/browser-test.sh):
// the notebook tests check those instead of executing each notebook again.
// Unset, they execute the notebooks headless.
const executedEnv = "VGGNB_EXECUTED_NOTEBOOKS"

// runNotebook returns the JSON of notebooks/name executed (see executeNotebook).
func runNotebook(t *testing.T, name string) string {
	t.Helper()
	_, b := executeNotebook(t, name)
	return b
}

// executeNotebook runs notebooks/name headless with the installed kernel, or
// takes it from $VGGNB_EXECUTED_NOTEBOOKS, failing the test on any broken
// cell, and returns the result (its HTML export included) and the executed
// notebook's JSON. A headless run must leave the checkout as it was.
func executeNotebook(t *testing.T, name string) (Result, string) {
	t.Helper()
	var res Result
	if dir := os.Getenv(executedEnv); dir != "" {
		res = Result{Notebook: name, Executed: filepath.Join(dir, name), HTML: filepath.Join(t.TempDir(), strings.TrimSuffix(name, ".ipynb")+".html")}
		failures, _, err := Inspect(res.Executed)
		if err != nil {
			t.Fatalf("%s: %v (make browser-test writes the executed notebooks)", executedEnv, err)
		}
		if len(failures) > 0 {
			t.Fatal(&NotebookError{Notebook: name, Failures: failures, Executed: res.Executed})
		}
		if err := exportHTML(context.Background(), "jupyter", os.Environ(), res.Executed, res.HTML); err != nil {
			t.Fatalf("HTML export of %s: %v", res.Executed, err)
		}
	} else {
		cfg := installed(t)
		nb := filepath.Join(cfg.Checkout, "notebooks", name)
		before, isRepo := gitStatus(t, cfg.Checkout)
		rs, err := Run(context.Background(), []string{nb}, RunOptions{OutDir: t.TempDir(), JupyterDataDir: cfg.JupyterDataDir})
		if err != nil {
			t.Fatal(err)
		}
		res = rs[0]
		// A headless run leaves the checkout as it was (Jupyter's own files are ignored).
		if after, _ := gitStatus(t, cfg.Checkout); isRepo && after != before {
			t.Errorf("running %s changed the checkout:\nbefore:\n%s\nafter:\n%s", name, before, after)
		} else if !isRepo {
			t.Logf("%s is not a git checkout: its status is not compared", cfg.Checkout)
		}
	}
	b, err := os.ReadFile(res.Executed)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// Notebook 04 (transfer learning) runs headless: the stacked model, feature
// extraction with its cache, a checkpoint carried to the next cell, frozen
// layers unchanged, fine-tuning, the surgery's distillation.
func TestTransferNotebook(t *testing.T) {
	if testing.Short() {
		t.Skip("trains VGG16's transfer-learning models in a notebook")
	}
	out := runNotebook(t, "04_transfer_learning.ipynb")
	for _, w := range []string{"Total params", "6251402", "5991242", "frozen: layers[:7]", sized(out, "second call: 300+100 images", "second call: 100+50 images"),
		"(a) head on frozen VGG features: test accuracy", "(b) the same head on raw 40x40 pixels",
		"block1_conv1 unchanged: true", "block2_conv2 unchanged: true", "block2_conv2 changed:   true",
		"(c) after fine-tuning", "new_conv", "distilled", "faster"} {
		if !strings.Contains(out, w) {
			t.Errorf("executed notebook 04 lacks %q", w)
		}
	}
	// The head loaded in the next cell scores exactly what the trained one did.
	a := regexp.MustCompile(`\(a\) head on frozen VGG features: test accuracy (\d\.\d+)`).FindStringSubmatch(out)
	loaded := regexp.MustCompile(`loaded head: test accuracy (\d\.\d+)`).FindStringSubmatch(out)
	if a == nil || loaded == nil || a[1] != loaded[1] {
		t.Errorf("trained head %v, loaded from its checkpoint %v: want the same accuracy", a, loaded)
	}
	if strings.Contains(out, "trainable=true") && strings.Contains(out, "block2_conv2  trainable=true") {
		t.Error("a pretrained layer is trainable after loading the checkpoint")
	}
}

// TestKernelPath: the kernelspec's PATH lists every directory once, tools and Go first.
func TestKernelPath(t *testing.T) {
	got := kernelPath("/t/bin", "/go/bin", "/usr/bin:/go/bin:/t/bin/:/go/bin:/bin")
	if want := "/t/bin:/go/bin:/usr/bin:/bin"; got != want {
		t.Errorf("kernelPath = %q, want %q", got, want)
	}
}

// TestKernelBuildCheck: doctor reports what the kernel's cells are built with
// (the kernelspec's Go, GOEXPERIMENT and why) and the native kernels this CPU
// runs, whatever the doctor's own build.
func TestKernelBuildCheck(t *testing.T) {
	for _, goVersion := range []string{"go1.26.8", "go1.27.3"} {
		dir := t.TempDir()
		c := Config{JupyterDataDir: dir}
		if err := os.MkdirAll(c.KernelDir(), 0o755); err != nil {
			t.Fatal(err)
		}
		cells := cellsBuildFor(goVersion)
		spec, err := json.Marshal(kernelSpec{Argv: []string{"gonb"}, Env: map[string]string{"GOEXPERIMENT": cells.Experiment},
			Metadata: map[string]any{"vggnb": map[string]string{"cells_go": cells.GoVersion, "cells_goexperiment": cells.Why}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(c.KernelDir(), "kernel.json"), spec, 0o644); err != nil {
			t.Fatal(err)
		}
		ch := kernelBuildCheck(c)
		want := fmt.Sprintf("cells build with %s, GOEXPERIMENT=%q (%s); native VGG kernels %s", goVersion, cells.Experiment, cells.Why, gomlx_vgg.NativeSIMD())
		if ch.OK != (gomlx_vgg.NativeFix() == "") || !strings.HasPrefix(ch.Detail, want) {
			t.Errorf("%s: %+v, want a detail starting %q", goVersion, ch, want)
		}
	}
	if ch := kernelBuildCheck(Config{JupyterDataDir: t.TempDir()}); ch.OK || ch.Fix == "" {
		t.Errorf("no kernelspec: %+v", ch)
	}
}

// TestCellsBuildFor: cells get GOEXPERIMENT=simd from the Go that GoMLX
// compute v0.1.6's SIMD code builds on (1.26), and none from Go 1.27 on.
func TestCellsBuildFor(t *testing.T) {
	for v, want := range map[string]string{"go1.26.8": "simd", "go1.26.5": "simd", "go1.27.3": "", "go1.28rc1": "", "devel": ""} {
		if got := cellsBuildFor(v); got.Experiment != want || got.GoVersion != v || got.Why == "" {
			t.Errorf("cellsBuildFor(%q) = %+v, want GOEXPERIMENT %q", v, got, want)
		}
	}
}

// gitStatus returns `git status --porcelain` of dir, and whether dir is a git
// checkout at all (a copy without .git, as scripts/fresh-check.sh makes, is not).
func gitStatus(t *testing.T, dir string) (string, bool) {
	t.Helper()
	if err := exec.Command("git", "-C", dir, "rev-parse", "--is-inside-work-tree").Run(); err != nil {
		return "", false
	}
	out, err := exec.Command("git", "-C", dir, "status", "--porcelain").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out), true
}

// Notebook 05 (freezing) runs headless: the MLP trained and frozen, its node
// names and graph, ONNX Runtime agreeing with the trained model within 1e-5,
// VGG19 frozen and served.
func TestFreezingNotebook(t *testing.T) {
	if testing.Short() {
		t.Skip("trains, freezes and serves models in a notebook")
	}
	out := runNotebook(t, "05_freezing.ipynb")
	for _, w := range []string{"input node:  input_1 float32 (N, 784)", "output node: dense_3 float32 (N, 10)",
		"dense_3       Softmax", "image/svg+xml", "ONNX Runtime 1.30.0 ran mlp.onnx",
		"ONNX Runtime: the same class as the trained model for 100 of 100 images",
		"GoMLX, frozen file: the same class as the trained model for 100 of 100 images",
		"output node: block5_pool float32 (N, ?, ?, 512)", "POST /predict (the demo photo) -> 200 OK: block5_pool [1 7 7 512]",
		"GET /metadata -> 200 OK: input input_1", "server stopped"} {
		if !strings.Contains(out, w) {
			t.Errorf("executed notebook 05 lacks %q", w)
		}
	}
	if n := strings.Count(out, `class=\"pass\"`); n != 2 {
		t.Errorf("notebook 05 shows %d PASS verdicts, want 2 (ONNX Runtime and GoMLX on the frozen file)", n)
	}
}

// TestConversionNotebook runs notebook 03: the Theano file converted gives every
// layer and the predictions identical to the TensorFlow file's, both classic
// mistakes are caught where they start, and the files round-trip byte-exact.
func TestConversionNotebook(t *testing.T) {
	if testing.Short() {
		t.Skip("converts VGG16 with its top (about 2 GB of files and memory) in a notebook")
	}
	out := runNotebook(t, "03_weight_conversion.ipynb")
	for _, w := range []string{"block1_conv1/kernel    [3 3 3 64]           [64 3 3 3]",
		"fc1: TensorFlow row 1 (h0, w0, c1) equals Theano row 49 (c1, h0, w0): true; Theano row 1 (c0, h0, w1): false",
		"every layer identical: true",
		"caught: 18 of 18 layers differ, from block1_conv1 on",
		"caught: the first 19 layers match exactly, 3 differ from fc1 on",
		"Theano round trip byte-exact: true", "TensorFlow round trip byte-exact: true", "image/png", "image/svg+xml"} {
		if !strings.Contains(out, w) {
			t.Errorf("executed notebook 03 lacks %q", w)
		}
	}
	if n := strings.Count(out, `class=\"pass\"`); n != 22 {
		t.Errorf("notebook 03's conversion table shows %d PASS verdicts, want 22 (every layer of VGG16)", n)
	}
}

// TestGradCAMNotebook runs notebook 06: two Grad-CAM overlays and maps, and
// the gradient checked against float64 PyTorch autograd for both classes.
func TestGradCAMNotebook(t *testing.T) {
	if testing.Short() {
		t.Skip("VGG19 with its top in Go and in PyTorch in a notebook")
	}
	out := runNotebook(t, "06_grad_cam.ipynb")
	for _, w := range []string{"top 5 classes (score before softmax):", "class 1 of the top 2:", "class 2 of the top 2:",
		"the two maps differ by up to", "gradient checks passed: 2 of 2"} {
		if !strings.Contains(out, w) {
			t.Errorf("executed notebook 06 lacks %q", w)
		}
	}
	if n := strings.Count(out, `"image/png"`); n != 4 {
		t.Errorf("notebook 06 shows %d images, want 4 (two overlays, two maps)", n)
	}
	if n := strings.Count(out, `class=\"pass\"`); n != 6 {
		t.Errorf("notebook 06 shows %d PASS verdicts, want 6 (activation, gradient, score for 2 classes)", n)
	}
}

// TestStyleTransferNotebook: notebook 07 runs headless; its loss falls, its
// losses and gradient pass the float64 PyTorch check, and PyTorch's run of
// the same steps ends at the same image (up to float32 rounding).
func TestStyleTransferNotebook(t *testing.T) {
	if testing.Short() {
		t.Skip("VGG19 style transfer in Go and in PyTorch in a notebook")
	}
	out := runNotebook(t, "07_style_transfer.ipynb")
	for _, w := range []string{"image 128x128; content layer block5_conv2", sized(out, "20 steps at 128x128: first step", "8 steps at 128x128: first step"),
		"checks passed: true", "seconds per step after the first: Go"} {
		if !strings.Contains(out, w) {
			t.Errorf("executed notebook 07 lacks %q", w)
		}
	}
	if n := strings.Count(out, `class=\"pass\"`); n != 4 {
		t.Errorf("notebook 07 shows %d PASS verdicts, want 4 (three losses, the gradient)", n)
	}
	m := regexp.MustCompile(`final images differ by up to ([0-9.e+-]+) of the largest value`).FindStringSubmatch(out)
	if m == nil {
		t.Fatal("executed notebook 07 lacks the Go/PyTorch image comparison")
	}
	if rel, err := strconv.ParseFloat(m[1], 64); err != nil || rel > 0.05 {
		t.Errorf("Go's and PyTorch's final images differ by %s of the largest value, want <= 0.05", m[1])
	}
	// The content, the style, 5 intermediate images (one live gallery), Go's and PyTorch's final images.
	if n := strings.Count(out, `data:image/png;base64,`); n < 9 {
		t.Errorf("notebook 07 shows %d images, want at least 9", n)
	}
}
