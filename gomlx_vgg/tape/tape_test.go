package tape

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's own style for graph code.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/weights"
)

// syntheticFile writes deterministic synthetic weights for spec in the Keras 2
// layout under t's temporary directory.
func syntheticFile(t *testing.T, spec weights.Spec) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "synthetic.h5")
	if err := weights.WriteKeras2(path, weights.Synthetic(spec, 7)); err != nil {
		t.Fatal(err)
	}
	return path
}

// syntheticVGG16 is VGG16 without its top on h x w inputs with synthetic
// weights, and a random batch of n (values of spread 60, from seed).
func syntheticVGG16(t *testing.T, n, h, w int, seed uint64) (*gomlx_vgg.Model, *tensors.Tensor) {
	t.Helper()
	path := syntheticFile(t, weights.MustVGG("vgg16", false, 1000))
	m, err := gomlx_vgg.VGG16().IncludeTop(false).InputShape(h, w, 3).Weights(gomlx_vgg.WeightSource(path)).
		LoadOptions(weights.WithoutCache()).Done()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(seed, seed+1))
	xs := make([]float32, n*h*w*3)
	for i := range xs {
		xs[i] = float32(r.NormFloat64() * 60)
	}
	return m, tensors.FromFlatDataAndDimensions(xs, n, h, w, 3)
}

// record is New(m) and Record(x, grads...).
func record(m *gomlx_vgg.Model, x *tensors.Tensor, grads ...string) (*Tape, error) {
	r, err := New(m)
	if err != nil {
		return nil, err
	}
	return r.Record(x, grads...)
}

// probeTensor is torchref's probe P (ProbeValue over the flat index) in the
// given shape: the gradient of Σ out·P with respect to out.
func probeTensor(dims []int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	p := make([]float32, n)
	for i := range p {
		p[i] = float32(torchref.ProbeValue(i))
	}
	return tensors.FromFlatDataAndDimensions(p, dims...)
}

// convNames lists m's Conv2D layers.
func convNames(m *gomlx_vgg.Model) []string {
	var names []string
	for _, l := range m.Layers() {
		if l.Class == weights.Conv2D {
			names = append(names, l.Name)
		}
	}
	return names
}

// TestTapeGradientsMatchPyTorch: the native backward pass (Record, Backward)
// gives every convolution's kernel and bias gradients equal to float64
// PyTorch autograd's within 1e-4 of the largest value, for VGG16 to
// block5_pool and cut after a convolution (whose ReLU comes first).
func TestTapeGradientsMatchPyTorch(t *testing.T) {
	if err := torchref.Check(python.FromEnv()); err != nil {
		t.Fatal(err)
	}
	photo := filepath.Join("..", "imagenet", "demo", "chelsea.png")
	path := syntheticFile(t, weights.MustVGG("vgg16", false, 1000))
	const h, w = 64, 96
	for _, cut := range []string{"block5_pool", "block3_conv3"} {
		t.Run(cut, func(t *testing.T) {
			ref, err := torchref.Run(torchref.Options{Python: python.FromEnv(), CacheDir: python.ReferenceCacheFromEnv(), Weights: path, Model: "vgg16", Image: photo, Height: h, Width: w, Probe: cut})
			if err != nil {
				t.Fatal(err)
			}
			truth, _ := consistency.FromTorch(ref)
			m, err := gomlx_vgg.VGG16().IncludeTop(false).InputShape(h, w, 3).Weights(gomlx_vgg.WeightSource(path)).
				LoadOptions(weights.WithoutCache()).Done()
			if err != nil {
				t.Fatal(err)
			}
			if m, err = m.Truncate(cut); err != nil {
				t.Fatal(err)
			}
			img, err := imagenet.LoadImg(photo, imagenet.TargetSize(h, w))
			if err != nil {
				t.Fatal(err)
			}
			x := imagenet.MustBatch(imagenet.MustPreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast))
			convs := convNames(m)
			tape, err := record(m, x, convs...)
			if err != nil {
				t.Fatal(err)
			}
			grads, err := tape.Backward(probeTensor(tape.Output().Shape().Dimensions))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]*tensors.Tensor{}
			var names []string
			for _, l := range convs {
				got["probe_kernel_gradient_"+l], got["probe_bias_gradient_"+l] = grads[l].Kernel, grads[l].Bias
				names = append(names, "probe_kernel_gradient_"+l, "probe_bias_gradient_"+l)
			}
			if len(names) != 2*len(convs) || len(convs) < 7 {
				t.Fatalf("%d gradients for %d convolutions", len(names), len(convs))
			}
			r := consistency.Check(consistency.FromTensors("native", got), truth, names, 1e-4)
			for _, row := range r.Rows {
				t.Logf("%-40s %v rel %.2g %s", row.Layer, row.Shape, row.Rel, row.Problem)
			}
			if !r.Passed() {
				t.Errorf("native gradients differ from float64 PyTorch autograd beyond 1e-4: %v", r.Failed())
			}
		})
	}
}

// TestTapeMatchesGraph: on a batch of 3, the native gradients equal GoMLX
// autodiff's through the graph (Apply), for the layers asked only, and the
// recorded output is Predict's.
func TestTapeMatchesGraph(t *testing.T) {
	m, x := syntheticVGG16(t, 3, 32, 48, 3)
	asked := []string{"block2_conv1", "block4_conv2", "block5_conv3"}
	tape, err := record(m, x, asked...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := m.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	if _, rel := consistency.Compare(tensors.MustCopyFlatData[float32](tape.Output()), tensors.MustCopyFlatData[float32](want)); rel != 0 {
		t.Errorf("the recorded output differs from Predict's: rel %.3g", rel)
	}
	p := probeTensor(tape.Output().Shape().Dimensions)
	grads, err := tape.Backward(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(grads) != len(asked) {
		t.Errorf("Backward returned %d layers' gradients, want the %d asked", len(grads), len(asked))
	}
	graphGrads, err := model.ExecOnceN(m.Backend(), m.Store(), func(_ *model.Scope, x, p *Node) []*Node {
		var vs []*Node
		for _, l := range asked {
			ls := m.Scope().At("%s", l)
			vs = append(vs, ls.GetVariable("kernel").NodeValue(x.Graph()), ls.GetVariable("bias").NodeValue(x.Graph()))
		}
		return Gradient(ReduceAllSum(Mul(m.Apply(m.Scope(), x), p)), vs...)
	}, x, p)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range asked {
		for j, g := range []*tensors.Tensor{grads[l].Kernel, grads[l].Bias} {
			_, rel := consistency.Compare(tensors.MustCopyFlatData[float32](g), tensors.MustCopyFlatData[float32](graphGrads[2*i+j]))
			if !(rel < 1e-4) {
				t.Errorf("%s %s gradient: native and graph differ by %.3g of the largest value", l, []string{"kernel", "bias"}[j], rel)
			}
		}
	}
}

func TestTapeErrors(t *testing.T) {
	path := syntheticFile(t, weights.MustVGG("vgg16", false, 1000))
	m, err := gomlx_vgg.VGG16().IncludeTop(false).InputShape(32, 32, 3).Weights(gomlx_vgg.WeightSource(path)).
		LoadOptions(weights.WithoutCache()).Done()
	if err != nil {
		t.Fatal(err)
	}
	x := tensors.FromShape(tensors.FromFlatDataAndDimensions(make([]float32, 2*32*32*3), 2, 32, 32, 3).Shape())
	for _, c := range []struct {
		grads []string
		want  string
	}{{[]string{"block1_pool"}, `no Conv2D layer "block1_pool"`}, {[]string{"fc1"}, `no Conv2D layer "fc1"`}} {
		if _, err := record(m, x, c.grads...); !errors.Is(err, gomlx_vgg.ErrUnknownLayer) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Record(%v): error %v, want %q", c.grads, err, c.want)
		}
	}
	tape, err := record(m, x, "block5_conv3")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tape.Backward(x); !errors.Is(err, gomlx_vgg.ErrInputShape) || !strings.Contains(err.Error(), "gradient of the output's shape [2 1 1 512]") {
		t.Errorf("Backward with the input's shape: error %v", err)
	}
	graph, err := gomlx_vgg.VGG16().IncludeTop(false).InputShape(32, 32, 3).Weights(gomlx_vgg.WeightSource(path)).Engine(gomlx_vgg.EngineGraph).
		LoadOptions(weights.WithoutCache()).Done()
	if err != nil {
		t.Fatal(err)
	}
	for _, zero := range []*gomlx_vgg.Model{nil, {}} {
		if _, err := New(zero); !errors.Is(err, gomlx_vgg.ErrConfig) {
			t.Errorf("New(%v): error %v, want ErrConfig", zero, err)
		}
	}
	if err := Recordable(graph); !errors.Is(err, ErrNotRecordable) || !strings.Contains(err.Error(), "native engine") {
		t.Errorf("Recordable on the graph engine: %v", err)
	}
	top, err := gomlx_vgg.VGG16().Weights(gomlx_vgg.WeightSource(syntheticFile(t, weights.MustVGG("vgg16", true, 1000)))).
		LoadOptions(weights.WithoutCache()).Done()
	if err != nil {
		t.Fatal(err)
	}
	if err := Recordable(top); !errors.Is(err, ErrNotRecordable) || !strings.Contains(err.Error(), "not flatten") {
		t.Errorf("Recordable with the top: %v", err)
	}
}

// TestBackwardInputMatchesGraph: the gradient with respect to the input of
// a loss on two layers' outputs (one inside, one the output), from a tape of
// RecordInput, equals GoMLX autodiff's through the graph; Activation returns
// the recorded outputs; BackwardInput refuses a tape from Record and a
// gradient of the wrong shape.
//
// Through max pooling the two may send a window's gradient to different
// inputs where the window's two largest values are within the two
// implementations' rounding of each other: the graph's gradient then differs
// around that input (measured: one window of 2x16x20x64, 102 of 7680
// gradient values). Behind pooling at most 3% of the values may differ;
// without pooling none.
func TestBackwardInputMatchesGraph(t *testing.T) {
	full, x := syntheticVGG16(t, 2, 32, 40, 5)
	for _, c := range []struct {
		layers   []string // the last is the cut
		maxShare float64
	}{{[]string{"block1_conv1", "block1_conv2"}, 0}, {[]string{"block2_conv1", "block3_conv2"}, 0.03}} {
		t.Run(strings.Join(c.layers, "+"), func(t *testing.T) {
			m, err := full.Truncate(c.layers[len(c.layers)-1])
			if err != nil {
				t.Fatal(err)
			}
			rec, err := New(m)
			if err != nil {
				t.Fatal(err)
			}
			tp, err := rec.RecordInput(x)
			if err != nil {
				t.Fatal(err)
			}
			dOuts := map[string]*tensors.Tensor{}
			var probes []*tensors.Tensor
			for _, l := range c.layers {
				a, err := tp.Activation(l)
				if err != nil {
					t.Fatal(err)
				}
				p := probeTensor(a.Shape().Dimensions)
				dOuts[l], probes = p, append(probes, p)
			}
			dx, err := tp.BackwardInput(dOuts)
			if err != nil {
				t.Fatal(err)
			}
			outs, err := model.ExecOnceN(m.Backend(), m.Store(), func(_ *model.Scope, in []*Node) []*Node {
				feats := m.ApplyLayers(m.Scope(), in[0], c.layers...)
				loss := Add(ReduceAllSum(Mul(feats[0], in[1])), ReduceAllSum(Mul(feats[1], in[2])))
				return append(feats, Gradient(loss, in[0])...)
			}, x, probes[0], probes[1])
			if err != nil {
				t.Fatal(err)
			}
			for i, l := range c.layers {
				a, _ := tp.Activation(l)
				if _, rel := consistency.Compare(tensors.MustCopyFlatData[float32](a), tensors.MustCopyFlatData[float32](outs[i])); !(rel < 1e-5) {
					t.Errorf("Activation(%s) differs from the graph's by %.3g of the largest value", l, rel)
				}
			}
			got, want := tensors.MustCopyFlatData[float32](dx), tensors.MustCopyFlatData[float32](outs[2])
			var largest float64
			for _, v := range want {
				largest = max(largest, math.Abs(float64(v)))
			}
			differ := 0
			for i := range got {
				if math.Abs(float64(got[i])-float64(want[i])) > 1e-4*largest {
					differ++
				}
			}
			t.Logf("input gradient: %d of %d values differ from the graph's by more than 1e-4 of the largest", differ, len(got))
			if share := float64(differ) / float64(len(got)); share > c.maxShare {
				t.Errorf("input gradient: %d of %d values differ from the graph's by more than 1e-4 of the largest, allowed %.0f%%", differ, len(got), 100*c.maxShare)
			}
			plain, err := rec.Record(x, c.layers[0])
			if err != nil {
				t.Fatal(err)
			}
			if _, err := plain.BackwardInput(dOuts); !errors.Is(err, gomlx_vgg.ErrConfig) {
				t.Errorf("BackwardInput on a tape from Record: error %v, want ErrConfig", err)
			}
			if _, err := tp.BackwardInput(map[string]*tensors.Tensor{c.layers[0]: x}); !errors.Is(err, gomlx_vgg.ErrInputShape) {
				t.Errorf("BackwardInput with a gradient of another shape: error %v, want ErrInputShape", err)
			}
		})
	}
}
