package gomlx_vgg

import (
	"bytes"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// Parameter counts printed by keras.applications' model.summary().
func TestKerasParamCounts(t *testing.T) {
	for _, c := range []struct {
		b     *Builder
		total int
	}{
		{VGG16(), 138357544},
		{VGG16().IncludeTop(false), 14714688},
		{VGG19(), 143667240},
		{VGG19().IncludeTop(false), 20024384},
		{VGG16().Weights(WeightsNone).Classes(10), 134301514},
	} {
		m, err := c.b.Weights(orNone(c.b.weights)).Done()
		if err != nil {
			t.Fatal(err)
		}
		total, trainable := m.CountParams()
		if total != c.total {
			t.Errorf("%s: %d params, Keras has %d", m, total, c.total)
		}
		if trainable != total {
			t.Errorf("%s with weights=None: %d of %d params trainable, want all", m, trainable, total)
		}
	}
}

// The Builder takes more classes than weights.MaxClasses (the limit is for
// callers naming the number from outside, as the CLI's --max-classes): its
// layer table has them, where it used to panic.
func TestClassesOverMaxClasses(t *testing.T) {
	n := weights.MaxClasses + 1
	b := VGG16().Weights(WeightsNone).Classes(n)
	if err := b.checkKeras(); err != nil {
		t.Fatal(err)
	}
	layers := b.layerTable()
	last := layers[len(layers)-1]
	if last.Name != weights.ClassifierLayerName || last.Params != 4096*n+n {
		t.Errorf("last layer %s with %d params; want %s with %d", last.Name, last.Params, weights.ClassifierLayerName, 4096*n+n)
	}
}

// orNone keeps tests that only need shapes from loading weights.
func orNone(w WeightSource) WeightSource {
	if w == WeightsImageNet {
		return WeightsNone
	}
	return w
}

func TestLayerNamesAndShapes(t *testing.T) {
	m := VGG19().IncludeTop(false).Weights(WeightsNone).InputShape(200, 300, 3).MustDone()
	want := []string{"block1_conv1", "block1_conv2", "block1_pool", "block2_conv1", "block2_conv2", "block2_pool",
		"block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4", "block3_pool",
		"block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4", "block4_pool",
		"block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4", "block5_pool"}
	if got := m.LayerNames(); !slices.Equal(got, want) {
		t.Fatalf("layers %v\nwant %v", got, want)
	}
	l, err := m.Layer("block5_pool")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l.OutputShape, []int{-1, 6, 9, 512}) {
		t.Errorf("block5_pool output shape %v, want [-1 6 9 512]", l.OutputShape)
	}
	top := VGG16().Weights(WeightsNone).MustDone()
	if got := top.LayerNames()[len(top.LayerNames())-4:]; !slices.Equal(got, []string{"flatten", "fc1", "fc2", "predictions"}) {
		t.Errorf("top layers %v", got)
	}
	cf := VGG16().IncludeTop(false).Weights(WeightsNone).DataFormat(weights.ChannelsFirst).InputShape(3, 64, 96).MustDone()
	if l, _ := cf.Layer("block1_conv1"); !slices.Equal(l.OutputShape, []int{-1, 64, 64, 96}) {
		t.Errorf("channels_first block1_conv1 shape %v, want [-1 64 64 96]", l.OutputShape)
	}
	if _, err := m.Layer("block6_pool"); !errors.Is(err, ErrUnknownLayer) || !strings.Contains(err.Error(), "block5_pool") {
		t.Errorf("unknown layer error should list the layers, got %v", err)
	}
}

// Argument checks as keras.applications.VGG16 / obtain_input_shape make them.
func TestKerasArgumentErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		b    *Builder
		want string
	}{
		{"model", New("vgg11"), "unknown model"},
		{"imagenet classes", VGG16().Weights(WeightsSynthetic).Classes(10), "classes should be 1000"},
		{"top size", VGG16().Weights(WeightsSynthetic).InputShape(200, 300, 3), "input_shape should be (224, 224, 3)"},
		{"top None", VGG16().Weights(WeightsNone).InputShape(0, 0, 3), "static input_shape"},
		{"small", VGG16().IncludeTop(false).Weights(WeightsNone).InputShape(31, 64, 3), "at least 32x32"},
		{"channels", VGG19().IncludeTop(false).Weights(WeightsSynthetic).InputShape(64, 64, 1), "3 channels"},
		{"pooling with top", VGG19().Weights(WeightsNone).Pooling("avg"), "include_top=False"},
		{"pooling", VGG19().Pooling("min"), "pooling must be"},
		{"activation", VGG19().ClassifierActivation("tanh"), "classifier_activation"},
		{"weights path", VGG19().Weights("/nonexistent/vgg19.h5"), "/nonexistent/vgg19.h5"},
		{"input rank", VGG19().InputShape(224, 224), "3 values"},
		{"channels_first top", VGG16().Weights(WeightsSynthetic).DataFormat(weights.ChannelsFirst).InputShape(224, 224, 3), "(3, 224, 224)"},
		// vggnb's own options: the choices named.
		{"engine", VGG16().Engine("gpu"), `engine must be "auto", "native" or "graph", got "gpu"`},
		{"conv gradient", VGG16().ConvGradient("numeric"), `conv gradient must be "custom" or "autodiff", got "numeric"`},
		{"convolution algorithm", VGG16().ConvAlgorithm("fft"), `convolution algorithm must be "winograd", "winograd2" or "direct", got "fft"`},
	} {
		_, err := c.b.Notices(nil).Done()
		if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want it to mention %q", c.name, err, c.want)
		}
	}
}

func TestWeightsNoneTopOtherSize(t *testing.T) {
	m := VGG16().Weights(WeightsNone).InputShape(64, 96, 3).Classes(5).MustDone()
	l, _ := m.Layer("fc1")
	if l.Params != 2*3*512*4096+4096 {
		t.Errorf("fc1 of a 64x96 input has %d params, want %d", l.Params, 2*3*512*4096+4096)
	}
	out, err := m.Predict(tensors.FromShape(shapes.Make(dtypes.Float32, 2, 64, 96, 3)))
	if err != nil {
		t.Fatal(err)
	}
	if d := out.Shape().Dimensions; !slices.Equal(d, []int{2, 5}) {
		t.Fatalf("predictions shape %v", d)
	}
	tensors.ConstFlatData(out, func(v []float32) {
		for b := range 2 {
			var s float32
			for _, p := range v[b*5 : b*5+5] {
				s += p
			}
			if s < 0.999 || s > 1.001 {
				t.Errorf("softmax row %d sums to %v", b, s)
			}
		}
	})
}

func TestOutputsAndTruncate(t *testing.T) {
	var notices bytes.Buffer
	m := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(&notices).MustDone()
	if !m.Synthetic() || !strings.Contains(notices.String(), weights.SyntheticNotice) {
		t.Fatalf("synthetic model not flagged")
	}
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 1, 40, 48, 3))
	tensors.MutableFlatData(x, func(v []float32) {
		for i := range v {
			v[i] = float32(i%251) - 120
		}
	})
	all, err := m.Outputs(x, AllLayers)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(m.LayerNames()) {
		t.Fatalf("all layers: %d outputs, want %d", len(all), len(m.LayerNames()))
	}
	if d := all["block5_pool"].Shape().Dimensions; !slices.Equal(d, []int{1, 1, 1, 512}) {
		t.Errorf("block5_pool %v", d)
	}
	cut, err := m.Truncate("block3_pool")
	if err != nil {
		t.Fatal(err)
	}
	got, err := cut.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Shape().Dimensions, []int{1, 5, 6, 256}) || !equalTensors(got, all["block3_pool"]) {
		t.Errorf("truncated model output %v differs from block3_pool", got.Shape())
	}
	if _, err := cut.Outputs(x, "block4_conv1"); err == nil {
		t.Error("a model truncated at block3_pool answered block4_conv1")
	}
	if _, err := m.Outputs(tensors.FromShape(shapes.Make(dtypes.Float32, 1, 16, 16, 3))); !errors.Is(err, ErrInputShape) || !strings.Contains(err.Error(), "32x32") {
		t.Errorf("16x16 input: %v", err)
	}
	for _, p := range []Pooling{PoolingAvg, PoolingMax} {
		pm := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).Pooling(p).MustDone()
		out, err := pm.Predict(x)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(out.Shape().Dimensions, []int{1, 512}) {
			t.Errorf("pooling %s: shape %v", p, out.Shape())
		}
	}
}

func equalTensors(a, b *tensors.Tensor) bool {
	eq := false
	tensors.ConstFlatData(a, func(x []float32) {
		tensors.ConstFlatData(b, func(y []float32) { eq = slices.Equal(x, y) })
	})
	return eq
}

func TestChannelsFirstMatchesChannelsLast(t *testing.T) {
	img, err := imagenet.DemoImage(imagenet.TargetSize(64, 80))
	if err != nil {
		t.Fatal(err)
	}
	last := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).MustDone()
	first := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).DataFormat(weights.ChannelsFirst).MustDone()
	a, err := last.Predict(imagenet.MustBatch(imagenet.MustPreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := first.Predict(imagenet.MustBatch(imagenet.MustPreprocessInput(imagenet.ImgToArray(img, weights.ChannelsFirst), weights.ChannelsFirst)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Shape().Dimensions, []int{1, 512, 2, 2}) {
		t.Fatalf("channels_first block5_pool shape %v", b.Shape())
	}
	if !equalTensors(a, nhwc(b, weights.ChannelsFirst)) {
		t.Error("channels_first output is not the transpose of channels_last's")
	}
}

func TestAutoWeightsFallBackToSynthetic(t *testing.T) {
	t.Setenv("VGGNB_CACHE", t.TempDir())
	t.Setenv("KERAS_HOME", t.TempDir())
	var notices bytes.Buffer
	m, err := VGG19().IncludeTop(false).Weights(WeightsAuto).Notices(&notices).Done()
	if err != nil {
		t.Fatal(err)
	}
	if !m.Synthetic() || !strings.Contains(notices.String(), weights.SyntheticNotice) ||
		!strings.Contains(notices.String(), "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5") {
		t.Errorf("auto without a local file: synthetic=%v, notice %q", m.Synthetic(), notices.String())
	}
}

// Offline, weights="imagenet" fails with an error that names the official URL
// and where to put the file by hand (and never falls back silently).
func TestImageNetOfflineError(t *testing.T) {
	t.Setenv("VGGNB_CACHE", t.TempDir())
	t.Setenv("KERAS_HOME", t.TempDir())
	offline := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("network unreachable")
	})}
	_, err := VGG19().IncludeTop(false).FetchOptions(download.WithHTTPClient(offline)).Done()
	if !errors.Is(err, download.ErrOffline) {
		t.Fatalf("imagenet weights without network and without a local copy: %v, want download.ErrOffline", err)
	}
	for _, w := range []string{"https://storage.googleapis.com/tensorflow/keras-applications/vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", "place it at"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestOps(t *testing.T) {
	m := VGG16().IncludeTop(false).Weights(WeightsNone).MustDone()
	groups, err := m.Ops(1, 64, 64, 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != len(m.Layers()) {
		t.Fatalf("%d op groups for %d layers", len(groups), len(m.Layers()))
	}
	params, dots := 0, 0
	for _, g := range groups {
		for _, op := range g.Ops {
			switch op.Type {
			case "Parameter":
				params++
			case "DotGeneral":
				dots++
			}
		}
	}
	if params != 1+26 || dots != 13 {
		t.Errorf("%d parameters (want input + 26 variables), %d matmuls (want 13 convolutions)", params, dots)
	}
	if last := groups[len(groups)-1]; last.Layer != "block5_pool" || !slices.Equal(last.Ops[len(last.Ops)-1].Shape, []int{1, 2, 2, 512}) {
		t.Errorf("last group %s ends with %v", last.Layer, last.Ops[len(last.Ops)-1])
	}
	// The graph is marked as inference while built (no convGradients nodes:
	// as many ops as with autodiff's gradient), and unmarked after.
	count := func(groups []OpGroup) (n int) {
		for _, g := range groups {
			n += len(g.Ops)
		}
		return n
	}
	autodiff := VGG16().IncludeTop(false).Weights(WeightsNone).ConvGradient(ConvGradientAutodiff).MustDone()
	plain, err := autodiff.Ops(1, 64, 64, 3)
	if err != nil {
		t.Fatal(err)
	}
	if count(groups) != count(plain) {
		t.Errorf("inference graph has %d ops, %d without the custom convolution gradient", count(groups), count(plain))
	}
	inferenceGraphs.Range(func(id, _ any) bool {
		t.Errorf("graph %v still marked as inference after it was built", id)
		return true
	})
}

// TestWeightsFrom: a model built from a File in memory (here the Theano layout
// converted back by LoadVGG) computes what the model built from the file does,
// its values are copies (editing the File afterwards changes nothing), and a
// File of the wrong shapes is an error naming the layer.
func TestWeightsFrom(t *testing.T) {
	dir := t.TempDir()
	spec := weights.MustVGG("vgg16", false, 0)
	tf := filepath.Join(dir, "tf.h5")
	if err := weights.WriteKeras2(tf, weights.Synthetic(spec, 2)); err != nil {
		t.Fatal(err)
	}
	f, err := weights.LoadVGG(tf, spec, weights.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	th := filepath.Join(dir, "th.h5")
	if err := weights.WriteKeras2(th, weights.ToTheano(f)); err != nil {
		t.Fatal(err)
	}
	conv, err := weights.LoadVGG(th, spec, weights.WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	fromFile := VGG16().IncludeTop(false).Weights(WeightSource(tf)).Notices(nil).MustDone()
	fromMem := VGG16().IncludeTop(false).WeightsFrom(conv).Notices(nil).MustDone()
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 1, 32, 32, 3))
	tensors.MustMutableFlatData(x, func(v []float32) {
		for i := range v {
			v[i] = float32(i%255) - 120
		}
	})
	a, err := fromFile.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range conv.Layers {
		for _, w := range l.Weights {
			clear(w.Data)
		}
	}
	b, err := fromMem.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	if !a.Equal(b) {
		t.Error("the model from the converted File differs from the model from the file (or followed edits of the File)")
	}
	if fromMem.WeightsSource() != th {
		t.Errorf("WeightsSource() = %q, want %q", fromMem.WeightsSource(), th)
	}
	bad, _ := weights.LoadVGG(tf, spec, weights.WithoutCache())
	bad.Layer("block2_conv1").Weights[0].Shape = []int{3, 3, 64, 129}
	if _, err := VGG16().IncludeTop(false).WeightsFrom(bad).Done(); !errors.Is(err, weights.ErrWrongModel) || !strings.Contains(err.Error(), "block2_conv1") {
		t.Errorf("a File with a wrong kernel shape: %v", err)
	}
}

// TestLayerActivations: each layer says what follows its affine map, the
// classifier taking classifier_activation; the engines and freeze read it.
func TestLayerActivations(t *testing.T) {
	for _, act := range []string{"softmax", "linear"} {
		m := VGG16().Weights(WeightsNone).ClassifierActivation(act).MustDone()
		want := map[string]string{"input_1": "", "block1_conv1": "relu", "block1_pool": "", "flatten": "", "fc1": "relu",
			"fc2": "relu", "predictions": act}
		for name, w := range want {
			if l, err := m.Layer(name); err != nil || l.Activation != w {
				t.Errorf("%s: layer %s: activation %q (%v), want %q", act, name, l.Activation, err, w)
			}
		}
	}
}
