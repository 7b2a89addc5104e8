package gomlx_vgg

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/weights"
)

// referencePython returns the Python torchref uses, failing the test (not
// skipping it) when it lacks torch, h5py or PIL.
func referencePython(t testing.TB) string {
	t.Helper()
	if err := torchref.Check(""); err != nil {
		t.Fatal(err)
	}
	return torchref.Python()
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

// nhwc returns a rank-4 NCHW tensor in NHWC; other tensors unchanged.
func nhwc(x *tensors.Tensor, df weights.DataFormat) *tensors.Tensor {
	d := x.Shape().Dimensions
	if df != weights.ChannelsFirst || len(d) != 4 {
		return x
	}
	n, c, h, w := d[0], d[1], d[2], d[3]
	out := make([]float32, x.Size())
	tensors.ConstFlatData(x, func(v []float32) {
		for b := range n {
			for ch := range c {
				for y := range h {
					for xx := range w {
						out[((b*h+y)*w+xx)*c+ch] = v[((b*c+ch)*h+y)*w+xx]
					}
				}
			}
		}
	})
	return tensors.FromFlatDataAndDimensions(out, n, h, w, c)
}

// FidelityTolerance is the largest max|go - torch| / max|torch| accepted per layer.
const FidelityTolerance = 1e-5

// TestFidelityTorch compares every layer of VGG16 and VGG19, with and without
// the top, with an independent PyTorch implementation reading the same Keras
// file and photo.
func TestFidelityTorch(t *testing.T) {
	referencePython(t)
	photo := filepath.Join("demo", "chelsea.png")
	cases := []struct {
		model  string
		top    bool
		h, w   int
		interp string
		df     weights.DataFormat
	}{
		{"vgg16", false, 200, 300, Nearest, weights.ChannelsLast},
		{"vgg19", false, 200, 300, Nearest, weights.ChannelsLast},
		{"vgg16", true, 224, 224, Nearest, weights.ChannelsLast},
		{"vgg19", true, 224, 224, Bilinear, weights.ChannelsLast},
		{"vgg19", false, 0, 0, Nearest, weights.ChannelsLast}, // the photo at its own size, 300x451
		{"vgg19", true, 224, 224, Nearest, weights.ChannelsFirst},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/top=%v/%dx%d/%s/%s", c.model, c.top, c.h, c.w, c.interp, c.df)
		t.Run(name, func(t *testing.T) {
			spec := weights.MustVGG(c.model, c.top, 1000)
			path := syntheticFile(t, spec)
			ref, err := torchref.Run(torchref.Options{Weights: path, Model: c.model, IncludeTop: c.top,
				Image: photo, Height: c.h, Width: c.w, Interpolation: c.interp})
			if err != nil {
				t.Fatal(err)
			}

			m, err := New(c.model).IncludeTop(c.top).Weights(path).DataFormat(c.df).
				LoadOptions(weights.WithoutCache()).Done()
			if err != nil {
				t.Fatal(err)
			}
			var opts []ImgOption
			if c.h > 0 {
				opts = append(opts, TargetSize(c.h, c.w), Interpolation(c.interp))
			}
			img, err := LoadImg(photo, opts...)
			if err != nil {
				t.Fatal(err)
			}
			x := MustBatch(MustPreprocessInput(ImgToArray(img, c.df), c.df))
			// Both implementations: the native kernels (Outputs' default on the Go
			// backend) and the GoMLX graph.
			for _, kernels := range []string{KernelsNative, KernelsGraph} {
				t.Run(kernels, func(t *testing.T) {
					outs, err := m.outputs(kernels, x, append([]string{"input_1"}, m.LayerNames()...))
					if err != nil {
						t.Fatal(err)
					}
					if len(outs) != len(ref.Layers) {
						t.Fatalf("Go gave %d layers, torch %d", len(outs), len(ref.Layers))
					}
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
						var e float64
						tensors.ConstFlatData(got, func(g []float32) {
							_, e = torchref.Compare(g, want)
							if l.Name == "input_1" && e != 0 {
								t.Errorf("input_1 (load_img + preprocess_input) differs from PIL/numpy: rel %.3g", e)
							}
						})
						if e > FidelityTolerance {
							t.Errorf("%s: max|go-torch|/max|torch| = %.3g > %g", l.Name, e, FidelityTolerance)
						}
						t.Logf("  %-14s rel err %.3g", l.Name, e)
						if l.Name == "block5_pool" || l.Name == "predictions" {
							var tm float64
							for _, v := range want {
								tm += float64(v)
							}
							tm /= float64(len(want))
							t.Logf("%s %v: mean Go %.9g, torch %.9g; rel err %.3g", l.Name, got.Shape().Dimensions, StatsOf(got).Mean, tm, e)
						}
					}
					if c.h == 200 && c.w == 300 {
						if d := outs["block5_pool"].Shape().Dimensions; !slices.Equal(d, []int{1, 6, 9, 512}) {
							t.Errorf("block5_pool of a 200x300 input has shape %v, want [1 6 9 512]", d)
						}
					}
				})
			}
		})
	}
}

// chwOrder reorders a flattened (H, W, C) vector to (C, H, W).
func chwOrder(v []float32, h, w, c int) []float32 {
	out := make([]float32, len(v))
	for y := range h {
		for x := range w {
			for ch := range c {
				out[(ch*h+y)*w+x] = v[(y*w+x)*c+ch]
			}
		}
	}
	return out
}
