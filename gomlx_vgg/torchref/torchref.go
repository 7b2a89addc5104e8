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

	"github.com/vggnb/vggnb/internal/python"
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
	// Python is the interpreter (default: $VGGNB_PYTHON, else /usr/bin/python3).
	Python string
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
	// Torch is the torch version that computed them.
	Torch string
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

// Python returns the interpreter torchref uses by default: python.Default().
func Python() string { return python.Default() }

// Check reports whether python has torch, h5py, numpy and PIL, with the fix if not.
func Check(python string) error {
	if python == "" {
		python = Python()
	}
	out, err := exec.Command(python, "-c", "import torch, h5py, numpy, PIL; print(torch.__version__)").CombinedOutput()
	if err != nil {
		return fmt.Errorf("torchref: %s cannot import torch, h5py, numpy and PIL (%v: %s); on Debian: apt-get install python3-torch python3-h5py python3-pil, or set VGGNB_PYTHON",
			python, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Run runs the reference and reads back its layers.
func Run(o Options) (*Result, error) {
	if o.Python == "" {
		o.Python = Python()
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
	out := filepath.Join(dir, "out")
	args := []string{"--weights", o.Weights, "--model", o.Model, "--image", o.Image,
		"--interpolation", o.Interpolation, "--out", out, "--threads", fmt.Sprint(o.Threads)}
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
	if o.Height > 0 {
		args = append(args, "--size", fmt.Sprintf("%dx%d", o.Height, o.Width))
	}
	if _, err := python.Run(o.Python, "torch_reference.py", script, args...); err != nil {
		if cerr := Check(o.Python); cerr != nil {
			return nil, cerr
		}
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
	res := &Result{Torch: man.Torch}
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
			layer.Float32 = make([]float32, n)
			for i := range layer.Float32 {
				layer.Float32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		res.Layers = append(res.Layers, layer)
	}
	return res, nil
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
