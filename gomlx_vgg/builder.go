package gomlx_vgg

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// WeightSource is what Builder.Weights loads: one of the values below, or the
// path of a Keras .h5 weight file (WeightSource(path)).
type WeightSource string

// The weight sources besides a file path.
const (
	// WeightsImageNet loads the official Keras ImageNet weights from the Keras or
	// vggnb cache, downloading them if needed (download.Fetch); an error if that fails.
	WeightsImageNet WeightSource = "imagenet"
	// WeightsAuto uses the ImageNet weights when a verified copy is already on this
	// machine and otherwise deterministic synthetic weights, announcing them on the
	// notice writer (stderr by default). It never downloads.
	WeightsAuto WeightSource = "auto"
	// WeightsSynthetic uses weights.Synthetic: deterministic, in the Keras layout,
	// not trained. Every output based on them must say so (weights.SyntheticNotice).
	WeightsSynthetic WeightSource = "synthetic"
	// WeightsNone initialises the variables as Keras does with weights=None
	// (glorot_uniform kernels, zero biases) when the model first runs.
	WeightsNone WeightSource = "none"
)

// ConvGradient is how the GoMLX graph's convolutions on the pure-Go backend
// (im2col and one matrix product) are differentiated (Builder.ConvGradient).
type ConvGradient string

// The convolution gradients.
const (
	// ConvGradientCustom (the default) writes the gradients out: the input's as
	// the convolution of the output's gradient by the flipped kernel, the
	// kernel's as one matrix product, the bias' as a sum.
	ConvGradientCustom ConvGradient = "custom"
	// ConvGradientAutodiff leaves them to GoMLX's autodiff of the im2col ops
	// (slower: kh*kw pads and sums of full-size tensors), to compare.
	ConvGradientAutodiff ConvGradient = "autodiff"
)

// ConvAlgorithm is the native engine's 3x3 convolution algorithm
// (Builder.ConvAlgorithm).
type ConvAlgorithm string

// The convolution algorithms.
const (
	// ConvWinograd (the default) is Winograd for the layers it suits (all
	// of VGG's but the 3-channel first, which is direct): F(4x4, 3x3), 4x
	// fewer multiplies, on images of at least 16x16 where the kernels have
	// its transforms (AVX-512), F(2x2, 3x3), 2.25x fewer, elsewhere. F(4x4)
	// keeps each layer's transformed kernel (4x its size) after its first
	// use; its float32 error is about twice F(2x2)'s, within the fidelity
	// tests' 1e-5.
	ConvWinograd ConvAlgorithm = "winograd"
	// ConvWinograd2 is Winograd F(2x2, 3x3) only: no transformed kernels
	// kept, to compare.
	ConvWinograd2 ConvAlgorithm = "winograd2"
	// ConvDirect is the direct convolution everywhere, to compare.
	ConvDirect ConvAlgorithm = "direct"
)

// Pooling is the global pooling of a model without its top (Keras
// pooling=None|"avg"|"max").
type Pooling string

// The pooling modes.
const (
	PoolingNone Pooling = ""
	PoolingAvg  Pooling = "avg"
	PoolingMax  Pooling = "max"
)

// Builder configures a VGG model. Create it with VGG16, VGG19 or New, set options,
// then call Done. Option errors are kept and returned by Done.
type Builder struct {
	name         string
	includeTop   bool
	weights      WeightSource
	inputShape   []int
	pooling      Pooling
	classes      int
	activation   string
	dataFormat   weights.DataFormat
	source       weights.DataFormat
	backend      compute.Backend
	trainable    *bool
	seed         uint64
	notices      io.Writer
	fetchOpts    []download.Option
	loadOptions  []weights.Option
	file         *weights.File
	engine       Engine
	convGradient ConvGradient
	simd         string
	convAlg      ConvAlgorithm
	kernels      kernels.Kernels // from simd and convAlg, by Done
	ctx          context.Context
	scope        *model.Scope
	err          error
}

// VGG16 starts a keras.applications.VGG16 builder with Keras' defaults:
// include_top=True, weights="imagenet", classes=1000, softmax, channels_last.
func VGG16() *Builder { return New("vgg16") }

// VGG19 starts a keras.applications.VGG19 builder with Keras' defaults.
func VGG19() *Builder { return New("vgg19") }

// New starts a builder for "vgg16" or "vgg19" (case-insensitive).
func New(name string) *Builder {
	b := &Builder{
		name: strings.ToLower(name), includeTop: true, weights: WeightsImageNet,
		classes: 1000, activation: "softmax", dataFormat: weights.ChannelsLast,
		source: weights.ChannelsAuto, seed: 1, notices: os.Stderr,
	}
	if b.name != "vgg16" && b.name != "vgg19" {
		b.err = withKind(ErrConfig, fmt.Errorf("gomlx_vgg: unknown model %q: want vgg16 or vgg19", name))
	}
	return b
}

func (b *Builder) fail(format string, args ...any) *Builder {
	if b.err == nil {
		b.err = withKind(ErrConfig, fmt.Errorf("gomlx_vgg: "+format, args...))
	}
	return b
}

// IncludeTop says whether to include flatten, fc1, fc2 and predictions (Keras include_top).
func (b *Builder) IncludeTop(v bool) *Builder { b.includeTop = v; return b }

// Weights selects the weights: WeightsImageNet, WeightsAuto, WeightsSynthetic,
// WeightsNone, or the path of a Keras weight file (any layout package weights reads).
func (b *Builder) Weights(w WeightSource) *Builder {
	if w == "" || strings.EqualFold(string(w), "None") {
		w = WeightsNone
	}
	b.weights, b.file = w, nil
	return b
}

// WeightsFrom loads the weights from f, already in memory (weights.LoadVGG's
// result, converted or edited): in the layout LoadVGG gives for the model's data
// format (HWIO kernels; fc1's rows in the model's flatten order). The values are
// copied: f stays the caller's. Shapes are checked like a file's.
func (b *Builder) WeightsFrom(f *weights.File) *Builder {
	if f == nil {
		return b.fail("WeightsFrom(nil)")
	}
	b.file, b.weights = f, WeightSource(f.Path)
	return b
}

// InputShape sets Keras' input_shape, without the batch axis, in the model's data
// format: (height, width, channels) for channels_last, (channels, height, width)
// for channels_first. A 0 height or width means any size (Keras None); that is
// only allowed without the top. The default is 224x224x3 with the top and any
// size with 3 channels without it.
func (b *Builder) InputShape(dims ...int) *Builder {
	if len(dims) != 3 {
		return b.fail("input_shape must have 3 values, got %v", dims)
	}
	b.inputShape = slices.Clone(dims)
	return b
}

// Pooling sets global pooling after block5_pool for a model without its top:
// PoolingNone (the 4D block5_pool output), PoolingAvg or PoolingMax.
func (b *Builder) Pooling(p Pooling) *Builder {
	switch Pooling(strings.ToLower(string(p))) {
	case "", "none":
		b.pooling = PoolingNone
	case PoolingAvg:
		b.pooling = PoolingAvg
	case PoolingMax:
		b.pooling = PoolingMax
	default:
		return b.fail("pooling must be none, avg or max, got %q", p)
	}
	return b
}

// Classes sets the number of classes of predictions (Keras classes; 1000 by default).
func (b *Builder) Classes(n int) *Builder {
	if n <= 0 {
		return b.fail("classes must be positive, got %d", n)
	}
	b.classes = n
	return b
}

// ClassifierActivation sets the activation of predictions: "softmax" (default) or
// "linear" (also "" or "none") for logits.
func (b *Builder) ClassifierActivation(a string) *Builder {
	switch strings.ToLower(a) {
	case "softmax":
		b.activation = "softmax"
	case "", "none", "linear":
		b.activation = "linear"
	default:
		return b.fail("classifier_activation must be softmax or linear, got %q", a)
	}
	return b
}

// DataFormat sets the layout of inputs and outputs: weights.ChannelsLast (default,
// NHWC) or weights.ChannelsFirst (NCHW). Weights are converted on load.
func (b *Builder) DataFormat(df weights.DataFormat) *Builder {
	if df != weights.ChannelsLast && df != weights.ChannelsFirst {
		return b.fail("data format must be channels_last or channels_first, got %v", df)
	}
	b.dataFormat = df
	return b
}

// SourceDataFormat says how a weight file was saved when it cannot be detected
// (a Keras 2 channels_first file); see weights.WithSourceDataFormat.
func (b *Builder) SourceDataFormat(df weights.DataFormat) *Builder { b.source = df; return b }

// Backend sets the compute backend (default: the pure-Go backend).
func (b *Builder) Backend(be compute.Backend) *Builder { b.backend = be; return b }

// Trainable marks the weights trainable or not. By default loaded weights
// (imagenet, a file, synthetic) are frozen and WeightsNone ones are trainable.
func (b *Builder) Trainable(v bool) *Builder { b.trainable = &v; return b }

// Seed sets the seed of WeightsSynthetic / WeightsAuto synthetic weights (default 1).
func (b *Builder) Seed(s uint64) *Builder { b.seed = s; return b }

// Notices sets where warnings such as weights.SyntheticNotice are written (default
// os.Stderr; nil discards them — the Model still reports Synthetic()).
func (b *Builder) Notices(w io.Writer) *Builder {
	if w == nil {
		w = io.Discard
	}
	b.notices = w
	return b
}

// Scope puts the model's variables under scope, in scope's store: VGG as a
// backbone in the caller's model, its weights loaded there
// (<scope>/block1_conv1/kernel, ...), beside the caller's own layers. Apply the
// model with that same scope. By default the model has a store of its own and
// its variables sit at the root.
func (b *Builder) Scope(scope *model.Scope) *Builder { b.scope = scope; return b }

// Context sets the context that cancels the model's long work: downloading
// ImageNet weights (575 MB for VGG19 with its top) while Done runs, and native
// runs of Outputs/Predict, checked between layers. Default context.Background().
func (b *Builder) Context(ctx context.Context) *Builder { b.ctx = ctx; return b }

// FetchOptions passes options to download.Fetch for WeightsImageNet / WeightsAuto
// (download directory, progress, search directories).
func (b *Builder) FetchOptions(opts ...download.Option) *Builder {
	b.fetchOpts = append(b.fetchOpts, opts...)
	return b
}

// LoadOptions passes options to weights.LoadVGG (cache directory, no cache).
func (b *Builder) LoadOptions(opts ...weights.Option) *Builder {
	b.loadOptions = append(b.loadOptions, opts...)
	return b
}

// Engine chooses what runs Outputs and Predict: EngineAuto (default),
// EngineNative or EngineGraph. Apply always builds the GoMLX graph (for
// training, gradients and your own graphs), whatever this says.
func (b *Builder) Engine(e Engine) *Builder {
	return choose(b, &b.engine, Engine(strings.ToLower(string(e))), "engine", EngineAuto, EngineNative, EngineGraph)
}

// choose sets *option to v, or to choices[0] (the default) when v is "", if v
// is one of choices; otherwise the Builder fails naming what and the choices.
func choose[T ~string](b *Builder, option *T, v T, what string, choices ...T) *Builder {
	switch {
	case v == "":
		*option = choices[0]
	case slices.Contains(choices, v):
		*option = v
	default:
		quoted := make([]string, len(choices))
		for i, c := range choices {
			quoted[i] = strconv.Quote(string(c))
		}
		return b.fail("%s must be %s or %s, got %q", what, strings.Join(quoted[:len(quoted)-1], ", "), quoted[len(quoted)-1], v)
	}
	return b
}

// ConvGradient chooses how the GoMLX graph differentiates its convolutions on
// the pure-Go backend (Apply, training): ConvGradientCustom (default) or
// ConvGradientAutodiff, to compare the two.
func (b *Builder) ConvGradient(g ConvGradient) *Builder {
	return choose(b, &b.convGradient, g, "conv gradient", ConvGradientCustom, ConvGradientAutodiff)
}

// SIMD chooses the vector instructions of the native engine's kernels:
// "AVX-512", "AVX2", "NEON" or "none" (the portable Go, ~40x slower than
// AVX-512), where this CPU and build have them. "" (the default) is the
// fastest, NativeSIMD(); a slower one is to compare. Done fails with
// ErrConfig for one this CPU or build lacks.
func (b *Builder) SIMD(name string) *Builder { b.simd = name; return b }

// ConvAlgorithm chooses the native engine's 3x3 convolution algorithm:
// ConvWinograd (default), or ConvWinograd2 or ConvDirect, to compare.
func (b *Builder) ConvAlgorithm(a ConvAlgorithm) *Builder {
	return choose(b, &b.convAlg, a, "convolution algorithm", ConvWinograd, ConvWinograd2, ConvDirect)
}

// Done checks the configuration like Keras does, loads the weights and returns the model.
func (b *Builder) Done() (*Model, error) {
	if b.err != nil {
		return nil, b.err
	}
	cfg := *b
	cfg.inputShape = slices.Clone(b.inputShape)
	if err := cfg.checkKeras(); err != nil {
		return nil, withKind(ErrConfig, err)
	}
	var err error
	if cfg.kernels, err = kernels.Lookup(cfg.simd, string(cfg.convAlg)); err != nil {
		return nil, withKind(ErrConfig, fmt.Errorf("gomlx_vgg: %w", err))
	}
	if cfg.backend == nil {
		cfg.backend = gobackend.GetBackend()
	}
	ctx := cfg.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	root := cfg.scope
	if root == nil {
		root = model.NewStore().RootScope()
	}
	m := &Model{Name: cfg.name, cfg: cfg, backend: cfg.backend, store: root.Store(), root: root, execs: map[string]*model.Exec{},
		mu: &sync.Mutex{}, native: &nativeState{}, ctx: ctx}
	m.layers = cfg.layerTable()
	m.output = m.layers[len(m.layers)-1].Name
	if err := m.loadWeights(); err != nil {
		return nil, err
	}
	return m, nil
}

// MustDone is Done for configurations known to be valid; it panics on error.
func (b *Builder) MustDone() *Model {
	m, err := b.Done()
	if err != nil {
		panic(err)
	}
	return m
}

// MinSize is the smallest input height and width Keras accepts for VGG without its top.
const MinSize = 32

// DefaultSize is VGG's ImageNet input height and width, required with include_top.
const DefaultSize = 224

// hwc returns the configured input height, width, channels (0 for None).
func (b *Builder) hwc() (h, w, ch int) {
	s := b.inputShape
	if b.dataFormat == weights.ChannelsFirst {
		return s[1], s[2], s[0]
	}
	return s[0], s[1], s[2]
}

// shapeString prints an input shape (0 for None) in the data format, as Keras does.
func (b *Builder) shapeString(h, w, ch int) string {
	none := func(v int) int {
		if v == 0 {
			return -1
		}
		return v
	}
	if b.dataFormat == weights.ChannelsFirst {
		return KerasShape([]int{none(ch), none(h), none(w)})
	}
	return KerasShape([]int{none(h), none(w), none(ch)})
}

// KerasShape prints a shape as Keras does, negative dimensions as None:
// (None, 7, 7, 512).
func KerasShape(s []int) string {
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "None"
		} else {
			parts[i] = strconv.Itoa(d)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (b *Builder) pretrained() bool { return b.weights != WeightsNone }

// checkKeras validates arguments as keras.applications' VGG and obtain_input_shape do.
func (b *Builder) checkKeras() error {
	w := b.weights
	imagenet := w == WeightsImageNet || w == WeightsAuto || w == WeightsSynthetic
	if imagenet && b.includeTop && b.classes != 1000 {
		return fmt.Errorf("gomlx_vgg: if using weights=%q with include_top=True, classes should be 1000, got %d", w, b.classes)
	}
	if !imagenet && w != WeightsNone {
		if _, err := os.Stat(string(w)); err != nil {
			return fmt.Errorf("gomlx_vgg: weights must be %q, %q, %q, %q or the path of a weights file: %w",
				WeightsImageNet, WeightsAuto, WeightsSynthetic, WeightsNone, err)
		}
	}
	if b.pooling != PoolingNone && b.includeTop {
		return fmt.Errorf("gomlx_vgg: pooling=%q only applies with include_top=False", b.pooling)
	}
	if b.inputShape == nil {
		if b.includeTop {
			b.inputShape = []int{DefaultSize, DefaultSize, 3}
		} else {
			b.inputShape = []int{0, 0, 3}
		}
		if b.dataFormat == weights.ChannelsFirst {
			b.inputShape = []int{b.inputShape[2], b.inputShape[0], b.inputShape[1]}
		}
		return nil
	}
	h, wd, ch := b.hwc()
	given := b.shapeString(h, wd, ch)
	if b.includeTop {
		if h == 0 || wd == 0 {
			return fmt.Errorf("gomlx_vgg: if include_top is True, you should specify a static input_shape; got %s", given)
		}
		if b.pretrained() && (h != DefaultSize || wd != DefaultSize || ch != 3) {
			return fmt.Errorf("gomlx_vgg: when setting include_top=True and loading pretrained weights, input_shape should be %s; got %s",
				b.shapeString(DefaultSize, DefaultSize, 3), given)
		}
	}
	if b.pretrained() && ch != 3 {
		return fmt.Errorf("gomlx_vgg: the input must have 3 channels with pretrained weights; got input_shape=%s", given)
	}
	if ch <= 0 {
		return fmt.Errorf("gomlx_vgg: input_shape must have a positive number of channels; got %s", given)
	}
	if (h != 0 && h < MinSize) || (wd != 0 && wd < MinSize) {
		return fmt.Errorf("gomlx_vgg: input size must be at least %dx%d; got input_shape=%s", MinSize, MinSize, given)
	}
	return nil
}

// layerTable lists the layers with output shapes (channels_last internally, in
// the model's data format for reporting) and parameter counts, derived from the
// architecture's one source, weights.VGG's Spec, plus Keras' optional pooling.
func (b *Builder) layerTable() []Layer {
	h, w, ch := b.hwc()
	unknown := func(v int) int {
		if v == 0 {
			return -1
		}
		return v
	}
	// report is channels_last dims in the model's data format.
	report := func(d []int) []int {
		if b.dataFormat == weights.ChannelsFirst && len(d) == 4 {
			return []int{d[0], d[3], d[1], d[2]}
		}
		return d
	}
	train := !b.pretrained()
	if b.trainable != nil {
		train = *b.trainable
	}
	dims := []int{-1, unknown(h), unknown(w), ch}
	layers := []Layer{{Name: weights.InputLayerName, Class: weights.InputLayer, OutputShape: report(dims)}}
	var pooling []weights.LayerSpec
	switch {
	case b.includeTop:
	case b.pooling == PoolingAvg:
		pooling = []weights.LayerSpec{{Name: "global_average_pooling2d", Class: weights.GlobalAveragePooling2D}}
	case b.pooling == PoolingMax:
		pooling = []weights.LayerSpec{{Name: "global_max_pooling2d", Class: weights.GlobalMaxPooling2D}}
	}
	for _, ls := range append(b.kerasSpec().Layers, pooling...) {
		l := Layer{Name: ls.Name, Class: ls.Class, shapes: ls.Shapes}
		switch ls.Class {
		case weights.Conv2D:
			l.Activation = "relu"
		case weights.Dense:
			// Units from the spec; inputs from the layer before (with weights
			// "none" Keras builds the top for any input size, not only 7x7x512).
			units := ls.Shapes[0][1]
			l.shapes = [][]int{{dims[1], units}, {units}}
			l.Activation = "relu"
			if ls.Name == weights.ClassifierLayerName {
				l.Activation = b.activation
			}
		}
		var kernel []int
		if len(l.shapes) > 0 {
			kernel = l.shapes[0]
		}
		next, err := weights.OutputDims(l.Class, kernel, false, dims)
		if err != nil {
			// checkKeras has refused every input the architecture cannot take.
			panic(fmt.Errorf("gomlx_vgg: internal: layer %s on %v: %w", l.Name, dims, err))
		}
		dims = next
		l.OutputShape = report(dims)
		for _, s := range l.shapes {
			l.Params += weights.Size(s)
		}
		l.Trainable = l.Params > 0 && train
		layers = append(layers, l)
	}
	return layers
}

// kerasSpec is the weights.Spec of the model's weighted layers. The Builder
// takes any number of classes (weights.MaxClasses guards the CLI and
// weights.VGG's callers, who name the number from outside): b.classes is its
// own limit.
func (b *Builder) kerasSpec() weights.Spec {
	s, err := weights.VGGUpTo(b.name, b.includeTop, b.classes, max(b.classes, weights.MaxClasses))
	if err != nil {
		panic(fmt.Sprintf("gomlx_vgg: %v (the Builder checked its model name and classes)", err))
	}
	return s
}

// Engine is what computes Outputs and Predict (Builder.Engine). ("Kernel" in
// vggnb means the Jupyter kernel.)
type Engine string

// The engines.
const (
	// EngineAuto (the default) is EngineNative on the pure-Go backend and
	// EngineGraph on any other (XLA: its own native convolution).
	EngineAuto Engine = "auto"
	// EngineNative runs the model with vggnb's own CPU kernels: a fused 3x3
	// convolution + bias + ReLU (Winograd F(4x4, 3x3) or F(2x2, 3x3), or an indirect GEMM for
	// the first layer; AVX-512, AVX2 or NEON assembly chosen at run time), 2x2
	// max pooling and blocked dense layers, on the model's variables, with no
	// graph to build or compile.
	EngineNative Engine = "native"
	// EngineGraph runs the GoMLX graph that Apply builds, on the model's backend.
	EngineGraph Engine = "graph"
)
