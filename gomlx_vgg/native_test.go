package gomlx_vgg

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's own style for graph code.
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/weights"
)

// randomBatch is a deterministic batch with the spread of preprocessed pixels.
func randomBatch(seed uint64, dims ...int) *tensors.Tensor {
	r := rand.New(rand.NewPCG(seed, 1))
	t := tensors.FromShape(shapes.Make(dtypes.Float32, dims...))
	tensors.MustMutableFlatData(t, func(v []float32) {
		for i := range v {
			v[i] = float32(r.NormFloat64() * 60)
		}
	})
	return t
}

// relDiff is max|a-b| / max|b| over two tensors of one shape.
func relDiff(t *testing.T, a, b *tensors.Tensor) float64 {
	t.Helper()
	if !slices.Equal(a.Shape().Dimensions, b.Shape().Dimensions) {
		t.Fatalf("shapes differ: %v and %v", a.Shape(), b.Shape())
	}
	var diff, scale float64
	tensors.MustConstFlatData(a, func(av []float32) {
		tensors.MustConstFlatData(b, func(bv []float32) {
			for i := range av {
				diff = max(diff, math.Abs(float64(av[i])-float64(bv[i])))
				scale = max(scale, math.Abs(float64(bv[i])))
			}
		})
	})
	if scale == 0 {
		return diff
	}
	return diff / scale
}

// compareKernels checks that every layer from the native kernels matches the
// GoMLX graph on x.
func compareKernels(t *testing.T, m *Model, x *tensors.Tensor) {
	t.Helper()
	if m.Engine() != EngineNative {
		t.Fatalf("%s on the Go backend runs %s, want %s", m, m.Engine(), EngineNative)
	}
	native, err := m.Outputs(x, AllLayers)
	if err != nil {
		t.Fatal(err)
	}
	graph, err := m.GraphOutputs(x, AllLayers)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range m.LayerNames()[1:] {
		if name == "input_1" {
			continue
		}
		if e := relDiff(t, native[name], graph[name]); e > FidelityTolerance {
			t.Errorf("%s: native vs graph: max|diff|/max = %.3g > %g", name, e, FidelityTolerance)
		}
	}
}

func TestNativeMatchesGraph(t *testing.T) {
	cases := []struct {
		name string
		b    *Builder
		dims []int
	}{
		{"vgg16/max pooling/odd sizes", VGG16().IncludeTop(false).Pooling("max"), []int{2, 45, 67, 3}},
		{"vgg19/avg pooling/channels_first", VGG19().IncludeTop(false).Pooling("avg").DataFormat(weights.ChannelsFirst), []int{1, 3, 40, 64}},
		{"vgg16/top/10 classes/linear", VGG16().Classes(10).ClassifierActivation("linear"), []int{1, 224, 224, 3}},
		{"vgg16/top/softmax/channels_first", VGG16().Classes(7).DataFormat(weights.ChannelsFirst), []int{2, 3, 224, 224}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.b.Weights(WeightsNone).Done()
			if err != nil {
				t.Fatal(err)
			}
			compareKernels(t, m, randomBatch(uint64(i), c.dims...))
		})
	}
}

// TestNativeRepacks checks that the native kernels follow the variables: a
// new value (training, SetValue) is used by the next run, in a truncated
// model too.
func TestNativeRepacks(t *testing.T) {
	m, err := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).Done()
	if err != nil {
		t.Fatal(err)
	}
	cut, err := m.Truncate("block2_conv1")
	if err != nil {
		t.Fatal(err)
	}
	x := randomBatch(9, 1, 32, 48, 3)
	before, err := cut.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	v := m.Store().RootScope().At("block1_conv2").GetVariable("kernel")
	old := v.MustValue()
	doubled := tensors.FromShape(old.Shape())
	tensors.MustConstFlatData(old, func(src []float32) {
		tensors.MustMutableFlatData(doubled, func(dst []float32) {
			for i, s := range src {
				dst[i] = 2 * s
			}
		})
	})
	if err := v.SetValue(doubled); err != nil {
		t.Fatal(err)
	}
	after, err := cut.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	if e := relDiff(t, after, before); e < 0.1 {
		t.Errorf("block2_conv1 changed by only %.3g after doubling block1_conv2's kernel", e)
	}
	compareKernels(t, cut, x)
}

func TestEngineOption(t *testing.T) {
	if _, err := VGG16().IncludeTop(false).Weights(WeightsNone).Engine("cudnn").Done(); err == nil {
		t.Error("Engine(\"cudnn\") was accepted")
	}
	for k, want := range map[Engine]Engine{"": EngineNative, EngineAuto: EngineNative, EngineNative: EngineNative, EngineGraph: EngineGraph} {
		m, err := VGG16().IncludeTop(false).Weights(WeightsNone).Engine(k).Done()
		if err != nil {
			t.Fatal(err)
		}
		if got := m.Engine(); got != want {
			t.Errorf("Engine(%q) on the Go backend runs %s, want %s", k, got, want)
		}
	}
	// Both reject an input that does not fit, with the same message.
	m := VGG16().IncludeTop(false).Weights(WeightsNone).MustDone()
	bad := randomBatch(1, 1, 31, 40, 3)
	_, errNative := m.Outputs(bad)
	_, errGraph := m.GraphOutputs(bad)
	if errNative == nil || errGraph == nil {
		t.Fatalf("a 31x40 input was accepted: native %v, graph %v", errNative, errGraph)
	}
	t.Logf("native: %v\ngraph: %v", errNative, errGraph)
}

// TestKernelsOptions: Builder.SIMD and Builder.ConvAlgorithm choose one
// model's native kernels, leaving other models on the fastest; each choice
// computes the same features (within float32 rounding), and one this CPU or
// build lacks fails Done with ErrConfig.
func TestKernelsOptions(t *testing.T) {
	t.Parallel()
	x := randomBatch(3, 1, 40, 36, 3)
	build := func(b *Builder) *Model {
		t.Helper()
		m, err := b.IncludeTop(false).InputShape(40, 36, 3).Weights(WeightsSynthetic).Notices(nil).Done()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	best := build(VGG16())
	want, err := best.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		simd string
		conv ConvAlgorithm
		desc string
	}{
		{"none", "", "SIMD none, Winograd F(2x2,3x3)"},
		{"", ConvDirect, "SIMD " + NativeSIMD() + ", direct"},
		{"none", ConvDirect, "SIMD none, direct"},
		{"", ConvWinograd2, "SIMD " + NativeSIMD() + ", Winograd F(2x2,3x3)"},
	} {
		m := build(VGG16().SIMD(c.simd).ConvAlgorithm(c.conv))
		if !strings.HasPrefix(m.NativeKernels(), c.desc+", GOEXPERIMENT=") {
			t.Errorf("SIMD(%q).ConvAlgorithm(%q): NativeKernels() = %q, want %q first", c.simd, c.conv, m.NativeKernels(), c.desc)
		}
		if (m.NativeFix() == "") != (m.NativeSIMD() == NativeSIMD()) {
			t.Errorf("SIMD(%q): NativeFix() = %q", c.simd, m.NativeFix())
		}
		if want := cmp.Or(c.conv, ConvWinograd); m.ConvAlgorithm() != want {
			t.Errorf("ConvAlgorithm(%q): the model's is %q", c.conv, m.ConvAlgorithm())
		}
		got, err := m.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if _, rel := consistency.Compare(tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](want)); !(rel < 1e-5) {
			t.Errorf("SIMD(%q).ConvAlgorithm(%q): features differ from the best kernels' by %.3g of the largest value", c.simd, c.conv, rel)
		}
	}
	if !strings.HasPrefix(best.NativeKernels(), "SIMD "+NativeSIMD()+", Winograd") || best.NativeKernels() != NativeKernels() {
		t.Errorf("the default model's kernels are %q, the package's default %q", best.NativeKernels(), NativeKernels())
	}
	for _, b := range []*Builder{VGG16().SIMD("AVX-999"), VGG16().ConvAlgorithm("fft")} {
		if _, err := b.Weights(WeightsNone).Done(); !errors.Is(err, ErrConfig) {
			t.Errorf("unknown kernels: Done() = %v, want ErrConfig", err)
		}
	}
}

func ExampleModel_Engine() {
	m := VGG19().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).MustDone()
	fmt.Println(m.Engine())
	// Output: native
}

// TestConvolveMatchesIm2col checks the convolution the graph uses off the Go
// backend (the backend's own op, for XLA) against the im2col one, here on the
// Go backend with a small input.
func TestConvolveMatchesIm2col(t *testing.T) {
	backend := gobackend.GetBackend()
	x := randomBatch(3, 2, 9, 13, 5)
	k := randomBatch(4, 3, 3, 5, 8)
	b := randomBatch(5, 8)
	run := func(f func(x, k, b *Node) *Node) *tensors.Tensor {
		return MustExecOnce(backend, f, x, k, b)
	}
	im2col := func(x, k, b *Node) *Node { return MaxScalar(im2colConv(x, k, b, true, ConvGradientCustom), 0) }
	if e := relDiff(t, run(convolveRelu), run(im2col)); e > 1e-6 {
		t.Errorf("Convolve vs im2col: max|diff|/max = %.3g", e)
	}
}

// TestNativeBadVariable checks that a variable the kernels cannot use is an
// error naming the layer, not a crash.
func TestNativeBadVariable(t *testing.T) {
	m, err := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).Done()
	if err != nil {
		t.Fatal(err)
	}
	v := m.Store().RootScope().At("block1_conv2").GetVariable("bias")
	if err := v.SetValue(tensors.FromShape(shapes.Make(dtypes.Float32, 63))); err != nil {
		t.Fatal(err)
	}
	_, err = m.Outputs(randomBatch(2, 1, 32, 32, 3))
	if err == nil || !strings.Contains(err.Error(), "block1_conv2") {
		t.Errorf("a 63-value bias for 64 channels gave %v, want an error naming block1_conv2", err)
	}
	t.Log(err)
}
