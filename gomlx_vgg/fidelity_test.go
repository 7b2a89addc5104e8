package gomlx_vgg

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/weights"
)

// referencePython returns the Python torchref uses, failing the test (not
// skipping it) when it lacks torch, h5py or PIL.
func referencePython(t testing.TB) string {
	t.Helper()
	if err := torchref.Check(python.FromEnv()); err != nil {
		t.Fatal(err)
	}
	return python.FromEnv()
}

// syntheticFile writes deterministic synthetic weights for spec in the Keras 2
// layout, once per spec for the whole test binary.
var syntheticFiles sync.Map

type syntheticEntry struct {
	once sync.Once
	path string
	err  error
}

func syntheticFile(t testing.TB, spec weights.Spec) string {
	t.Helper()
	v, _ := syntheticFiles.LoadOrStore(spec.String(), &syntheticEntry{})
	e := v.(*syntheticEntry)
	e.once.Do(func() {
		dir, err := os.MkdirTemp("", "vggnb-synthetic-")
		if err != nil {
			e.err = err
			return
		}
		e.path = filepath.Join(dir, fmt.Sprintf("%s_top%v.h5", spec.Model, spec.IncludeTop))
		e.err = weights.WriteKeras2(e.path, weights.Synthetic(spec, 7))
	})
	if e.err != nil {
		t.Fatal(e.err)
	}
	return e.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	syntheticFiles.Range(func(_, v any) bool {
		_ = os.RemoveAll(filepath.Dir(v.(*syntheticEntry).path))
		return true
	})
	os.Exit(code)
}

// nhwc returns a rank-4 tensor in the data format df in NHWC; other tensors
// unchanged.
func nhwc(x *tensors.Tensor, df weights.DataFormat) *tensors.Tensor {
	if x.Rank() != 4 {
		return x
	}
	out, err := imagenet.ToDataFormat(x, df, weights.ChannelsLast)
	if err != nil {
		panic(err)
	}
	return out
}

// FidelityTolerance is the largest max|go - ref| / max|ref| accepted per layer,
// ref being PyTorch's float64 computation (the truth, whatever BLAS it used).
const FidelityTolerance = 1e-5

// fidelityCase is one configuration compared with the float64 reference.
type fidelityCase struct {
	model  string
	top    bool
	h, w   int
	interp imagenet.Filter
	df     weights.DataFormat
}

// fidelityErrors runs m through engine on the case's photo and returns, for
// every layer, max|go - ref| / max|ref| against the float64 reference ref,
// failing the test on shape or layer mismatches (those are not tolerances).
func fidelityErrors(t *testing.T, m *Model, engine Engine, x *tensors.Tensor, ref *torchref.Result, c fidelityCase) map[string]float64 {
	t.Helper()
	outs, err := m.outputs(engine, x, append([]string{"input_1"}, m.LayerNames()...))
	if err != nil {
		t.Fatal(err)
	}
	if len(outs) != len(ref.Layers) {
		t.Fatalf("Go gave %d layers, torch %d", len(outs), len(ref.Layers))
	}
	errs := map[string]float64{}
	for _, l := range m.Layers() {
		got := nhwc(outs[l.Name], c.df)
		rl := ref.Layer(l.Name)
		if rl == nil {
			t.Fatalf("torch reference has no layer %s", l.Name)
		}
		want := rl.Data
		if l.Name == "flatten" && c.df == weights.ChannelsFirst {
			// Keras flattens channels_first activations in (C, H, W) order.
			want = chwOrder(want, 7, 7, 512)
		}
		if !slices.Equal(got.Shape().Dimensions, rl.Shape) {
			t.Fatalf("%s: Go shape %v, torch %v", l.Name, got.Shape().Dimensions, rl.Shape)
		}
		tensors.ConstFlatData(got, func(g []float32) {
			_, errs[l.Name] = consistency.Compare(g, want)
		})
		if l.Name == "block5_pool" || l.Name == "predictions" {
			var tm float64
			for _, v := range want {
				tm += v
			}
			tm /= float64(len(want))
			t.Logf("%s %v: mean Go %.9g, float64 torch %.9g; rel err %.3g", l.Name, got.Shape().Dimensions, StatsOf(got).Mean, tm, errs[l.Name])
		}
	}
	if c.h == 200 && c.w == 300 {
		if d := outs["block5_pool"].Shape().Dimensions; !slices.Equal(d, []int{1, 6, 9, 512}) {
			t.Errorf("block5_pool of a 200x300 input has shape %v, want [1 6 9 512]", d)
		}
	}
	return errs
}

// TestFidelityTorch compares every layer of VGG16 and VGG19, with and without
// the top, through the native kernels and the GoMLX graph, with an independent
// PyTorch implementation computing in float64 from the same Keras file and
// photo. PyTorch's own float32 error against the same truth is logged beside.
func TestFidelityTorch(t *testing.T) {
	referencePython(t)
	photo := filepath.Join("imagenet", "demo", "chelsea.png")
	cases := []fidelityCase{
		{"vgg16", false, 200, 300, imagenet.Nearest, weights.ChannelsLast},
		{"vgg19", false, 200, 300, imagenet.Nearest, weights.ChannelsLast},
		{"vgg16", true, 224, 224, imagenet.Nearest, weights.ChannelsLast},
		{"vgg19", true, 224, 224, imagenet.Bilinear, weights.ChannelsLast},
		{"vgg19", false, 0, 0, imagenet.Nearest, weights.ChannelsLast}, // the photo at its own size, 300x451
		{"vgg19", true, 224, 224, imagenet.Nearest, weights.ChannelsFirst},
	}
	if testing.Short() {
		// Both models, with and without the top, both filters: the rest in the full suite.
		cases = []fidelityCase{cases[0], cases[3]}
	}
	for i, c := range cases {
		name := fmt.Sprintf("%s/top=%v/%dx%d/%s/%s", c.model, c.top, c.h, c.w, c.interp, c.df)
		t.Run(name, func(t *testing.T) {
			spec := weights.MustVGG(c.model, c.top, 1000)
			path := syntheticFile(t, spec)
			ref, err := torchref.Run(torchref.Options{Python: python.FromEnv(), CacheDir: python.ReferenceCacheFromEnv(), Weights: path, Model: c.model, IncludeTop: c.top,
				Image: photo, Height: c.h, Width: c.w, Interpolation: string(c.interp), Float32: true})
			if err != nil {
				t.Fatal(err)
			}

			m, err := New(c.model).IncludeTop(c.top).Weights(WeightSource(path)).DataFormat(c.df).
				LoadOptions(weights.WithoutCache()).Done()
			if err != nil {
				t.Fatal(err)
			}
			var opts []imagenet.ImgOption
			if c.h > 0 {
				opts = append(opts, imagenet.TargetSize(c.h, c.w), imagenet.Interpolation(c.interp))
			}
			img, err := imagenet.LoadImg(photo, opts...)
			if err != nil {
				t.Fatal(err)
			}
			x := imagenet.MustBatch(imagenet.MustPreprocessInput(imagenet.ImgToArray(img, c.df), c.df))
			// Both implementations: the native kernels (Outputs' default on the Go
			// backend) and the GoMLX graph.
			for _, engine := range []Engine{EngineNative, EngineGraph} {
				t.Run(string(engine), func(t *testing.T) {
					errs := fidelityErrors(t, m, engine, x, ref, c)
					if errs["input_1"] != 0 {
						t.Errorf("input_1 (load_img + preprocess_input) differs from PIL/numpy: rel %.3g", errs["input_1"])
					}
					for _, l := range m.Layers() {
						e := errs[l.Name]
						if e > FidelityTolerance {
							t.Errorf("%s: max|go-ref|/max|ref| = %.3g > %g (ref: float64 PyTorch)", l.Name, e, FidelityTolerance)
						}
						_, e32 := consistency.Compare(ref.Layer(l.Name).Float32, ref.Layer(l.Name).Data)
						t.Logf("  %-14s rel err Go %.3g, float32 PyTorch %.3g", l.Name, e, e32)
					}
				})
			}
			if i == 0 {
				t.Run("detects a 1e-4 weight change", func(t *testing.T) {
					fidelityDetectsPerturbation(t, m, x, ref, c)
				})
			}
		})
	}
}

// fidelityDetectsPerturbation scales one conv layer's kernel (block3_conv1's
// weight tensor) by 1+1e-4 in the Go model only and checks that the fidelity
// comparison then fails from that layer on, through both engines, while every
// layer before it still passes: the 1e-5 check can fail.
func fidelityDetectsPerturbation(t *testing.T, m *Model, x *tensors.Tensor, ref *torchref.Result, c fidelityCase) {
	const layer = "block3_conv1"
	v := m.Store().RootScope().At(layer).GetVariable("kernel")
	old := v.MustValue()
	scaled := tensors.FromShape(old.Shape())
	tensors.MustConstFlatData(old, func(src []float32) {
		tensors.MustMutableFlatData(scaled, func(dst []float32) {
			for i, s := range src {
				dst[i] = s * (1 + 1e-4)
			}
		})
	})
	if err := v.SetValue(scaled); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := v.SetValue(old); err != nil {
			t.Fatal(err)
		}
	}()
	for _, engine := range []Engine{EngineNative, EngineGraph} {
		errs := fidelityErrors(t, m, engine, x, ref, c)
		before := true
		for _, l := range m.Layers() {
			if l.Name == layer {
				before = false
			}
			e := errs[l.Name]
			switch {
			case before && e > FidelityTolerance:
				t.Errorf("%s: %s fails (%.3g) before the changed layer", engine, l.Name, e)
			case !before && l.Name != "input_1" && e <= FidelityTolerance:
				t.Errorf("%s: %s passes (%.3g <= %g) with %s's kernel scaled by 1+1e-4", engine, l.Name, e, FidelityTolerance, layer)
			}
		}
		t.Logf("%s: %s rel err %.3g, block5_pool %.3g with the change", engine, layer, errs[layer], errs["block5_pool"])
	}
}

// chwOrder reorders a flattened (H, W, C) vector to (C, H, W).
func chwOrder(v []float64, h, w, c int) []float64 {
	out := make([]float64, len(v))
	for y := range h {
		for x := range w {
			for ch := range c {
				out[(ch*h+y)*w+x] = v[(y*w+x)*c+ch]
			}
		}
	}
	return out
}
