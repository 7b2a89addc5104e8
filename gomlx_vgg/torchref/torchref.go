// Package torchref runs an independent PyTorch implementation of Keras' VGG16 and
// VGG19 (torch_reference.py, run by Debian's python3 with python3-torch,
// python3-h5py and python3-pil) on a Keras weight file and an image, and returns
// every layer's output, for consistency checks against gomlx_vgg.
//
// The reference is computed in float64 (the float32 weights and preprocessed
// input converted after loading), so it is the truth to within ~1e-16 whatever
// BLAS the machine has; float32 PyTorch's own outputs can come alongside
// (Options.Float32) to show its error against the same truth.
//
// The script shares nothing with the Go code: it reads the .h5 with h5py as Keras
// 2's load_weights does, loads and resizes the image with PIL as Keras' load_img
// does, preprocesses in numpy (caffe mode) and runs torch.nn.functional.
package torchref

import (
	_ "embed" // the reference script
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/internal/refcache"
)

//go:embed torch_reference.py
var script []byte

// Options describes one reference run.
type Options struct {
	// Weights is a Keras .h5 weight file (any layout h5py reads as Keras 2 does).
	Weights string
	// Model is "vgg16" or "vgg19"; IncludeTop adds flatten, fc1, fc2, predictions.
	Model      string
	IncludeTop bool
	// Image is a JPEG/PNG file; Height and Width (0: the image's own size) and
	// Interpolation ("nearest" by default) resize it like load_img.
	Image         string
	Height, Width int
	Interpolation string
	// Python is the interpreter (default /usr/bin/python3, Debian's).
	Python string
	// CacheDir, if set, keeps each run's outputs under it (package
	// internal/refcache), keyed by a SHA-256 of everything they depend on: the
	// script, the interpreter and its torch, numpy, h5py and PIL versions and
	// torch's build configuration, the options, the contents of the weight,
	// image and style files and, with Float32 (whose rounding depends on the
	// CPU's BLAS kernels), the CPU's model and features. A later Run with the
	// same key reads them instead of running Python again (Result.Cached).
	// Style runs with Steps, which report PyTorch's time per step, are never
	// cached.
	CacheDir string
	// Threads for torch (default 2).
	Threads int
	// Float32 also runs the network in float32, PyTorch's default precision,
	// and returns those outputs in Layer.Float32.
	Float32 bool
	// GradCAM, a convolution layer's name (needs IncludeTop), returns instead
	// of the layers Grad-CAM's ingredients for each of GradCAMClasses, computed
	// in float64 with autograd from one forward pass: "gradcam_activation" (the
	// layer's output, NHWC) and, for class k, "gradcam_gradient_k" (the class
	// score before softmax differentiated with respect to it) and
	// "gradcam_score_k" (that score).
	GradCAM        string
	GradCAMClasses []int
	// Probe, a layer's name, returns instead of the layers the gradients of
	// the loss Σ out·P, out being that layer's output (NHWC) and P[i] =
	// ProbeValue(i) over its flat NHWC index, with respect to the kernel and
	// bias of every convolution up to it, in float64 with autograd:
	// "probe_kernel_gradient_<layer>" (HWIO) and "probe_bias_gradient_<layer>".
	// The loss's gradient with respect to out is then P itself.
	Probe string
	// Style, if not nil, returns instead of the layers neural style transfer's
	// (Keras' example's) loss and gradient, or runs its optimisation: see Style.
	Style *Style
}

// Style is a style transfer reference with Image as the content image; both
// images are loaded at Height x Width (which must be set).
//
// With Steps 0 it evaluates, in float64, the weighted loss terms at
// Combination: layers "style_content_loss", "style_style_loss" and
// "style_tv_loss" (one value each) and "style_gradient" (their sum
// differentiated with respect to the image, NHWC); with Options.Float32 the
// same computed in float32 too (Layer.Float32).
// With Steps > 0 it runs Keras' example's SGD loop for that many steps in
// float32 (PyTorch's default precision), timed: Result.StyleRun.
type Style struct {
	// Image is the style image file.
	Image string
	// Combination is the image evaluated (preprocessed, NHWC, 1 x Height x
	// Width x 3 values); nil: the content image.
	Combination []float32
	// ContentLayer and StyleLayers default to Keras' example's (block5_conv2;
	// block1_conv1 .. block5_conv1).
	ContentLayer string
	StyleLayers  []string
	// Weights are content_weight, style_weight and total_variation_weight
	// (default 2.5e-8, 1e-6, 1e-6).
	Weights []float64
	// KernelGradients names convolution layers whose kernels' gradients (of
	// the same loss, HWIO) are returned too: "style_kernel_gradient_<layer>".
	KernelGradients []string
	// Steps > 0 runs the optimisation; LearningRate is its ExponentialDecay:
	// initial rate, decay steps, decay rate (default 100, 100, 0.96).
	Steps        int
	LearningRate []float64
}

// StyleStep is one step of a PyTorch style transfer run: the weighted losses
// before the step and the step's time.
type StyleStep struct {
	Content        float64 `json:"content"`
	Style          float64 `json:"style"`
	TotalVariation float64 `json:"tv"`
	Seconds        float64 `json:"seconds"`
}

// Total is the step's total loss.
func (s StyleStep) Total() float64 { return s.Content + s.Style + s.TotalVariation }

// StyleRun is a PyTorch style transfer run (Style.Steps > 0).
type StyleRun struct {
	Steps []StyleStep `json:"steps"`
	// Image is the final image, preprocessed NHWC.
	Image []float32 `json:"-"`
}

// SecondsPerStep is the mean time of the steps after the first (which
// includes PyTorch's warm-up), or the first's with one step.
func (r *StyleRun) SecondsPerStep() float64 {
	if len(r.Steps) < 2 {
		return r.Steps[0].Seconds
	}
	t := 0.0
	for _, s := range r.Steps[1:] {
		t += s.Seconds
	}
	return t / float64(len(r.Steps)-1)
}

// Layer is one layer's output, NHWC (Keras channels_last) for 4-D activations.
type Layer struct {
	Name  string
	Shape []int
	// Data is the float64 truth.
	Data []float64
	// Float32 is float32 PyTorch's output for the same layer (nil unless
	// Options.Float32 asked for it).
	Float32 []float32
}

// Result is a reference run: the layers in network order, input_1 (the
// preprocessed input) first.
type Result struct {
	Layers []Layer
	// Cached reports outputs read from Options.CacheDir, computed by an
	// earlier run of the same inputs.
	Cached bool
	// Torch is the torch version that computed them.
	Torch string
	// StyleRun is the run of Options.Style with Steps > 0.
	StyleRun *StyleRun
}

// Layer returns the named layer, or nil.
func (r *Result) Layer(name string) *Layer {
	for i := range r.Layers {
		if r.Layers[i].Name == name {
			return &r.Layers[i]
		}
	}
	return nil
}

// ProbeValue is the probe of Options.Probe at flat index i: sin(0.37 i + 0.11).
func ProbeValue(i int) float64 { return math.Sin(0.37*float64(i) + 0.11) }

// Check reports whether python has torch, h5py, numpy and PIL, with the fix if not.
func Check(interpreter string) error {
	if interpreter == "" {
		interpreter = python.Interpreter
	}
	out, err := exec.Command(interpreter, "-c", "import torch, h5py, numpy, PIL; print(torch.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("torchref: %s cannot import torch, h5py, numpy and PIL (%v: %s); on Debian: apt-get install python3-torch python3-h5py python3-pil, or set VGGNB_PYTHON",
			interpreter, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Run runs the reference and reads back its layers.
func Run(o Options) (*Result, error) {
	if o.Python == "" {
		o.Python = python.Interpreter
	}
	if o.Interpolation == "" {
		o.Interpolation = "nearest"
	}
	if o.Threads == 0 {
		o.Threads = 2
	}
	dir, err := os.MkdirTemp("", "vggnb-torchref-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	args := []string{"--weights", o.Weights, "--model", o.Model, "--image", o.Image,
		"--interpolation", o.Interpolation, "--threads", fmt.Sprint(o.Threads)}
	if o.IncludeTop {
		args = append(args, "--top")
	}
	if o.Float32 {
		args = append(args, "--float32")
	}
	if o.GradCAM != "" {
		if len(o.GradCAMClasses) == 0 {
			return nil, errors.New("torchref: GradCAM without GradCAMClasses")
		}
		ks := make([]string, len(o.GradCAMClasses))
		for i, k := range o.GradCAMClasses {
			ks[i] = fmt.Sprint(k)
		}
		args = append(args, "--gradcam", o.GradCAM, "--classes", strings.Join(ks, ","))
		o.Float32 = false
	}
	if o.Probe != "" {
		args = append(args, "--probe", o.Probe)
		o.Float32 = false
	}
	if o.Height > 0 {
		args = append(args, "--size", fmt.Sprintf("%dx%d", o.Height, o.Width))
	}
	if o.Style != nil {
		more, err := o.Style.args(dir, o.Height, o.Width)
		if err != nil {
			return nil, err
		}
		args = append(args, more...)
		o.Float32 = o.Float32 && o.Style.Steps == 0
	}
	run := func(out string) error {
		if _, err := python.Run(o.Python, "torch_reference.py", script, append(args, "--out", out)...); err != nil {
			if cerr := Check(o.Python); cerr != nil {
				return cerr
			}
			return err
		}
		return nil
	}
	out := filepath.Join(dir, "out")
	cached := false
	if o.CacheDir != "" && (o.Style == nil || o.Style.Steps == 0) {
		key, err := cacheKey(o, args)
		if err != nil {
			return nil, err
		}
		if out, cached, err = refcache.Do(o.CacheDir, key, run); err != nil {
			return nil, err
		}
	} else if err := run(out); err != nil {
		return nil, err
	}
	var man struct {
		Layers []struct {
			Name   string `json:"name"`
			Shape  []int  `json:"shape"`
			File   string `json:"file"`
			File32 string `json:"float32_file"`
		} `json:"layers"`
		Torch string `json:"torch"`
	}
	b, err := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err != nil {
		return nil, fmt.Errorf("torchref: %w", err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		return nil, fmt.Errorf("torchref: manifest: %w", err)
	}
	res := &Result{Torch: man.Torch, Cached: cached}
	if o.Style != nil && o.Style.Steps > 0 {
		res.StyleRun, err = readStyleRun(out, 3*o.Height*o.Width)
		return res, err
	}
	for _, l := range man.Layers {
		n := 1
		for _, d := range l.Shape {
			n *= d
		}
		raw, err := readRaw(filepath.Join(out, l.File), 8*n, l.Shape)
		if err != nil {
			return nil, err
		}
		layer := Layer{Name: l.Name, Shape: l.Shape, Data: make([]float64, n)}
		for i := range layer.Data {
			layer.Data[i] = math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
		}
		if o.Float32 {
			raw, err := readRaw(filepath.Join(out, l.File32), 4*n, l.Shape)
			if err != nil {
				return nil, err
			}
			layer.Float32 = float32s(raw)
		}
		res.Layers = append(res.Layers, layer)
	}
	return res, nil
}

// cacheKey is the key of a run of the script with args (Options.CacheDir):
// every argument that names a file stands for the file's contents.
func cacheKey(o Options, args []string) (string, error) {
	env, err := environment(o.Python)
	if err != nil {
		return "", err
	}
	k := refcache.NewKey("torchref 1", string(script), o.Python, env)
	if o.Float32 {
		k.Add(refcache.CPU())
	}
	for _, a := range args {
		if st, err := os.Stat(a); err == nil && st.Mode().IsRegular() {
			k.AddFile(a)
		} else {
			k.Add(a)
		}
	}
	return k.String()
}

// environments memoizes environment by interpreter.
var environments sync.Map

// environment describes what the script's results depend on in the
// interpreter: the versions of torch, numpy, h5py and PIL, and torch's build
// configuration (its BLAS).
func environment(interpreter string) (string, error) {
	if v, ok := environments.Load(interpreter); ok {
		return v.(string), nil
	}
	out, err := exec.Command(interpreter, "-c",
		"import torch, numpy, h5py, PIL; print(torch.__version__, numpy.__version__, h5py.__version__, PIL.__version__); print(torch.__config__.show())").CombinedOutput()
	if err != nil {
		if cerr := Check(interpreter); cerr != nil {
			return "", cerr
		}
		return "", fmt.Errorf("torchref: %s: %v: %s", interpreter, err, out)
	}
	environments.Store(interpreter, string(out))
	return string(out), nil
}

// readRaw reads a layer file the script wrote, checking its size for shape.
func readRaw(path string, size int, shape []int) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("torchref: %w", err)
	}
	if len(raw) != size {
		return nil, fmt.Errorf("torchref: %s: %d bytes for shape %v, want %d", filepath.Base(path), len(raw), shape, size)
	}
	return raw, nil
}

// args writes the combination into dir and returns the script's style arguments.
func (s *Style) args(dir string, h, w int) ([]string, error) {
	if s.Image == "" || h <= 0 || w <= 0 {
		return nil, fmt.Errorf("torchref: Style needs a style image and Height and Width (got %q, %dx%d)", s.Image, h, w)
	}
	args := []string{"--style", s.Image}
	if s.Combination != nil {
		if len(s.Combination) != h*w*3 {
			return nil, fmt.Errorf("torchref: Style.Combination has %d values, want 1x%dx%dx3 = %d", len(s.Combination), h, w, h*w*3)
		}
		raw := make([]byte, 4*len(s.Combination))
		for i, v := range s.Combination {
			binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
		}
		path := filepath.Join(dir, "combination.f32")
		if err := os.WriteFile(path, raw, 0o644); err != nil {
			return nil, fmt.Errorf("torchref: %w", err)
		}
		args = append(args, "--combination", path)
	}
	if len(s.KernelGradients) > 0 {
		args = append(args, "--kernel-gradients", strings.Join(s.KernelGradients, ","))
	}
	if s.ContentLayer != "" {
		args = append(args, "--content-layer", s.ContentLayer)
	}
	if len(s.StyleLayers) > 0 {
		args = append(args, "--style-layers", strings.Join(s.StyleLayers, ","))
	}
	list := func(flag string, v []float64) error {
		if v == nil {
			return nil
		}
		if len(v) != 3 {
			return fmt.Errorf("torchref: Style %s: want 3 values, got %v", flag, v)
		}
		args = append(args, flag, fmt.Sprintf("%g,%g,%g", v[0], v[1], v[2]))
		return nil
	}
	if err := errors.Join(list("--style-weights", s.Weights), list("--style-lr", s.LearningRate)); err != nil {
		return nil, err
	}
	if s.Steps > 0 {
		args = append(args, "--style-steps", fmt.Sprint(s.Steps))
	}
	return args, nil
}

// readStyleRun reads a style run's steps and final image (n values).
func readStyleRun(out string, n int) (*StyleRun, error) {
	b, err := os.ReadFile(filepath.Join(out, "style_run.json"))
	if err != nil {
		return nil, fmt.Errorf("torchref: %w", err)
	}
	run := &StyleRun{}
	if err := json.Unmarshal(b, run); err != nil {
		return nil, fmt.Errorf("torchref: style_run.json: %w", err)
	}
	if len(run.Steps) == 0 {
		return nil, errors.New("torchref: style_run.json has no steps")
	}
	raw, err := readRaw(filepath.Join(out, "style_image.f32"), 4*n, []int{n})
	if err != nil {
		return nil, err
	}
	run.Image = float32s(raw)
	return run, nil
}

// float32s decodes little-endian float32 values.
func float32s(raw []byte) []float32 {
	v := make([]float32, len(raw)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return v
}
