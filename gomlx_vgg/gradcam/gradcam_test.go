package gradcam_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/gradcam"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/weights"
)

// photo is the demo photo at 224x224, preprocessed, a batch of one.
func photo(t *testing.T) *tensors.Tensor {
	t.Helper()
	x, err := imagenet.PhotoInput(imagenet.DemoImage, 224, 224)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

// TestGradCAMMatchesPyTorch: VGG19's block5_conv4 output, the class score
// before softmax and its gradient equal float64 PyTorch autograd's on the same
// weights (relative 1e-4, the bound), for the top class and another;
// the maps are in [0, 1] with a maximum of 1: on the native kernels and
// through the graph.
func TestGradCAMMatchesPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("VGG19 with its top in Go and in PyTorch")
	}
	path, _, err := weights.ImageNetOrSynthetic("vgg19", true, 1)
	if err != nil {
		t.Fatal(err)
	}
	m := gomlx_vgg.VGG19().Weights(gomlx_vgg.WeightSource(path)).ClassifierActivation("linear").Notices(nil).MustDone()
	for _, graph := range []bool{false, true} {
		t.Run(map[bool]string{false: "native", true: "graph"}[graph], func(t *testing.T) {
			e, err := gradcam.New(m, "block5_conv4")
			if err != nil {
				t.Fatal(err)
			}
			if e.GraphOnly(graph).Native() == graph {
				t.Fatalf("GraphOnly(%v): Native() = %v", graph, e.Native())
			}
			matchesPyTorch(t, m, e, path)
		})
	}
}

// matchesPyTorch is TestGradCAMMatchesPyTorch for one explainer.
func matchesPyTorch(t *testing.T, m *gomlx_vgg.Model, e *gradcam.Explainer, path string) {
	x := photo(t)
	preds, err := m.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	top := imagenet.TopIndices(tensors.MustCopyFlatData[float32](preds), 2)
	maps, err := e.Explain(x, top[0], 7)
	if err != nil {
		t.Fatal(err)
	}
	img, err := imagenet.DemoImageFile()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := torchref.Run(torchref.Options{Python: python.FromEnv(), CacheDir: python.ReferenceCacheFromEnv(), Weights: path, Model: "vgg19", IncludeTop: true, Image: img,
		Height: 224, Width: 224, GradCAM: "block5_conv4", GradCAMClasses: []int{maps[0].Class, maps[1].Class}})
	if err != nil {
		t.Fatal(err)
	}
	for _, mp := range maps {
		for _, c := range []struct {
			name string
			got  *tensors.Tensor
		}{{"gradcam_activation", mp.Activation}, {fmt.Sprintf("gradcam_gradient_%d", mp.Class), mp.Gradient}} {
			want := ref.Layer(c.name)
			if want == nil {
				t.Fatalf("PyTorch gave no %s", c.name)
			}
			_, rel := consistency.Compare(tensors.MustCopyFlatData[float32](c.got), want.Data)
			if !(rel <= 1e-4) {
				t.Errorf("class %d: %s differs from PyTorch float64 autograd: max|diff|/max|ref| = %.3g", mp.Class, c.name, rel)
			}
			t.Logf("class %d: %s max|diff|/max|ref| = %.2g", mp.Class, c.name, rel)
		}
		ws := ref.Layer(fmt.Sprintf("gradcam_score_%d", mp.Class)).Data[0]
		if d := math.Abs(mp.Score-ws) / math.Abs(ws); !(d <= 1e-4) {
			t.Errorf("class %d: score %.6g, PyTorch %.6g", mp.Class, mp.Score, ws)
		}
		hi := 0.0
		for _, row := range mp.Heat {
			for _, v := range row {
				if v < 0 || v > 1 {
					t.Fatalf("class %d: heat %v outside [0, 1]", mp.Class, v)
				}
				hi = math.Max(hi, v)
			}
		}
		if len(mp.Heat) != 14 || len(mp.Heat[0]) != 14 || hi != 1 {
			t.Errorf("class %d: heat map %dx%d with maximum %v, want 14x14 and 1", mp.Class, len(mp.Heat), len(mp.Heat[0]), hi)
		}
	}
}

// TestNewRefuses: a model without its top, with softmax, or a layer that is not
// a convolution is refused, saying what to do.
func TestNewRefuses(t *testing.T) {
	noTop := gomlx_vgg.VGG16().IncludeTop(false).Weights(gomlx_vgg.WeightsNone).MustDone()
	softmax := gomlx_vgg.VGG16().Weights(gomlx_vgg.WeightsNone).MustDone()
	linear := gomlx_vgg.VGG16().Weights(gomlx_vgg.WeightsNone).ClassifierActivation("linear").MustDone()
	for _, tt := range []struct {
		m     *gomlx_vgg.Model
		layer string
		kind  error
		want  string
	}{
		{noTop, "block5_conv3", gomlx_vgg.ErrConfig, "IncludeTop(true)"},
		{softmax, "block5_conv3", gomlx_vgg.ErrConfig, `ClassifierActivation("linear")`},
		{linear, "block5_pool", gomlx_vgg.ErrConfig, "convolution"},
		{linear, "block9_conv1", gomlx_vgg.ErrUnknownLayer, "block9_conv1"},
		{nil, "block5_conv3", gomlx_vgg.ErrConfig, "nil model"},
	} {
		_, err := gradcam.New(tt.m, tt.layer)
		if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%s, %s) = %v, want an error of kind %v with %q", tt.m, tt.layer, err, tt.kind, tt.want)
		}
	}
	e, err := gradcam.New(linear, "block5_conv3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Explain(photo(t), 1000); !errors.Is(err, gomlx_vgg.ErrInputShape) || !strings.Contains(err.Error(), "class 1000") {
		t.Errorf("Explain(class 1000) = %v", err)
	}
}

// BenchmarkExplain is one VGG19 Grad-CAM at block5_conv4 (224x224, one
// class), differentiated on the native kernels and through the graph.
func BenchmarkExplain(b *testing.B) {
	path, _, err := weights.ImageNetOrSynthetic("vgg19", true, 1)
	if err != nil {
		b.Fatal(err)
	}
	m := gomlx_vgg.VGG19().Weights(gomlx_vgg.WeightSource(path)).ClassifierActivation("linear").Notices(nil).MustDone()
	x, err := imagenet.PhotoInput(imagenet.DemoImage, 224, 224)
	if err != nil {
		b.Fatal(err)
	}
	for _, graph := range []bool{false, true} {
		b.Run(map[bool]string{false: "native", true: "graph"}[graph], func(b *testing.B) {
			e, err := gradcam.New(m, "block5_conv4")
			if err != nil {
				b.Fatal(err)
			}
			e.GraphOnly(graph)
			if _, err := e.Explain(x, 1); err != nil { // compiles the graph
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := e.Explain(x, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
