// Package gomlx_vgg builds Keras' VGG16 and VGG19 (keras.applications) in GoMLX:
// the same layer names, arguments, input checks and preprocessing, loading Keras
// .h5 weights through package weights.
//
// A model is configured with a Builder, as keras.applications.VGG19(...) is with
// keyword arguments:
//
//	m, err := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightsAuto).Done()
//	img, err := gomlx_vgg.LoadImg("cat.png")
//	x, err := gomlx_vgg.PreprocessInput(gomlx_vgg.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
//	outs, err := m.Outputs(gomlx_vgg.MustBatch(x), "block5_pool")
//
// (error checks left out; ExampleModel_Outputs is the same program, compiled and
// run by go test).
//
// Any layer's output is available by name (Outputs), a model can be cut at a layer
// (Truncate), and Apply builds the model into a caller's GoMLX graph, sharing the
// one set of variables however many times it is applied.
package gomlx_vgg

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

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

// Pooling is the global pooling of a model without its top (Keras
// pooling=None|"avg"|"max").
type Pooling string

// The pooling modes.
const (
	PoolingNone Pooling = ""
	PoolingAvg  Pooling = "avg"
	PoolingMax  Pooling = "max"
)

// MinSize is the smallest input height and width Keras accepts for VGG without its top.
const MinSize = 32

// DefaultSize is VGG's ImageNet input height and width, required with include_top.
const DefaultSize = 224

// Builder configures a VGG model. Create it with VGG16, VGG19 or New, set options,
// then call Done. Option errors are kept and returned by Done.
type Builder struct {
	name        string
	includeTop  bool
	weights     WeightSource
	inputShape  []int
	pooling     Pooling
	classes     int
	activation  string
	dataFormat  weights.DataFormat
	source      weights.DataFormat
	backend     compute.Backend
	trainable   *bool
	seed        uint64
	notices     io.Writer
	fetchOpts   []download.Option
	loadOptions []weights.Option
	engine      Engine
	ctx         context.Context
	scope       *model.Scope
	err         error
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
		b.err = fmt.Errorf("gomlx_vgg: unknown model %q: want vgg16 or vgg19", name)
	}
	return b
}

func (b *Builder) fail(format string, args ...any) *Builder {
	if b.err == nil {
		b.err = fmt.Errorf("gomlx_vgg: "+format, args...)
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
	b.weights = w
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

// Layer describes one layer of a Model, as Keras' model.summary() lists it.
type Layer struct {
	// Name is the Keras layer name (block1_conv1, ..., predictions).
	Name string
	// Class is the Keras class (InputLayer, Conv2D, MaxPooling2D, Flatten, Dense, ...).
	Class weights.Class
	// OutputShape includes the batch axis; -1 stands for Keras' None.
	OutputShape []int
	// Params is the number of weights of the layer.
	Params int
	// Trainable is whether its weights are trainable.
	Trainable bool

	// shapes are the weights' shapes (weights.LayerSpec.Shapes), nil if none.
	shapes [][]int
}

// Model is a built VGG16 or VGG19. It is safe for concurrent use by Outputs/Predict.
type Model struct {
	// Name is "vgg16" or "vgg19".
	Name string

	cfg       Builder
	layers    []Layer // input layer first
	output    string  // the layer this model outputs
	store     *model.Store
	root      *model.Scope // where the layers' variables live in store
	backend   compute.Backend
	source    string
	synthetic bool

	// mu guards the store's initialisation, execs and native, and is shared
	// with the models Truncate makes from this one, which share the store.
	mu     *sync.Mutex
	execs  map[string]*model.Exec
	native *nativeState
	// ctx (Builder.Context) stops a download and a native run between layers.
	ctx context.Context
}

// Done checks the configuration like Keras does, loads the weights and returns the model.
func (b *Builder) Done() (*Model, error) {
	if b.err != nil {
		return nil, b.err
	}
	cfg := *b
	cfg.inputShape = slices.Clone(b.inputShape)
	if err := cfg.checkKeras(); err != nil {
		return nil, err
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

// hwc returns the configured input height, width, channels (0 for None).
func (c *Builder) hwc() (h, w, ch int) {
	s := c.inputShape
	if c.dataFormat == weights.ChannelsFirst {
		return s[1], s[2], s[0]
	}
	return s[0], s[1], s[2]
}

// shapeString prints an input shape (0 for None) in the data format, as Keras does.
func (c *Builder) shapeString(h, w, ch int) string {
	none := func(v int) int {
		if v == 0 {
			return -1
		}
		return v
	}
	if c.dataFormat == weights.ChannelsFirst {
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

func (c *Builder) pretrained() bool { return c.weights != WeightsNone }

// checkKeras validates arguments as keras.applications' VGG and obtain_input_shape do.
func (c *Builder) checkKeras() error {
	w := c.weights
	imagenet := w == WeightsImageNet || w == WeightsAuto || w == WeightsSynthetic
	if imagenet && c.includeTop && c.classes != 1000 {
		return fmt.Errorf("gomlx_vgg: if using weights=%q with include_top=True, classes should be 1000, got %d", w, c.classes)
	}
	if !imagenet && w != WeightsNone {
		if _, err := os.Stat(string(w)); err != nil {
			return fmt.Errorf("gomlx_vgg: weights must be %q, %q, %q, %q or the path of a weights file: %w",
				WeightsImageNet, WeightsAuto, WeightsSynthetic, WeightsNone, err)
		}
	}
	if c.pooling != PoolingNone && c.includeTop {
		return fmt.Errorf("gomlx_vgg: pooling=%q only applies with include_top=False", c.pooling)
	}
	if c.inputShape == nil {
		if c.includeTop {
			c.inputShape = []int{DefaultSize, DefaultSize, 3}
		} else {
			c.inputShape = []int{0, 0, 3}
		}
		if c.dataFormat == weights.ChannelsFirst {
			c.inputShape = []int{c.inputShape[2], c.inputShape[0], c.inputShape[1]}
		}
		return nil
	}
	h, wd, ch := c.hwc()
	given := c.shapeString(h, wd, ch)
	if c.includeTop {
		if h == 0 || wd == 0 {
			return fmt.Errorf("gomlx_vgg: if include_top is True, you should specify a static input_shape; got %s", given)
		}
		if c.pretrained() && (h != DefaultSize || wd != DefaultSize || ch != 3) {
			return fmt.Errorf("gomlx_vgg: when setting include_top=True and loading pretrained weights, input_shape should be %s; got %s",
				c.shapeString(DefaultSize, DefaultSize, 3), given)
		}
	}
	if c.pretrained() && ch != 3 {
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
func (c *Builder) layerTable() []Layer {
	h, w, ch := c.hwc()
	dims := func(h, w, ch int) []int {
		d := func(v int) int {
			if v == 0 {
				return -1
			}
			return v
		}
		if c.dataFormat == weights.ChannelsFirst {
			return []int{-1, ch, d(h), d(w)}
		}
		return []int{-1, d(h), d(w), ch}
	}
	train := !c.pretrained()
	if c.trainable != nil {
		train = *c.trainable
	}
	layers := []Layer{{Name: "input_1", Class: weights.InputLayer, OutputShape: dims(h, w, ch)}}
	for _, ls := range c.kerasSpec().Layers {
		l := Layer{Name: ls.Name, Class: ls.Class, shapes: ls.Shapes}
		switch ls.Class {
		case weights.Conv2D:
			ch = ls.Shapes[0][3]
			l.OutputShape = dims(h, w, ch)
		case weights.MaxPooling2D:
			h, w = h/2, w/2
			l.OutputShape = dims(h, w, ch)
		case weights.Flatten:
			l.OutputShape = []int{-1, h * w * ch}
		case weights.Dense:
			// Units from the spec; inputs from the layer before (with weights
			// "none" Keras builds the top for any input size, not only 7x7x512).
			in, units := layers[len(layers)-1].OutputShape[1], ls.Shapes[0][1]
			l.shapes = [][]int{{in, units}, {units}}
			l.OutputShape = []int{-1, units}
		}
		for _, s := range l.shapes {
			l.Params += weights.Size(s)
		}
		l.Trainable = l.Params > 0 && train
		layers = append(layers, l)
	}
	switch {
	case c.includeTop:
	case c.pooling == PoolingAvg:
		layers = append(layers, Layer{Name: "global_average_pooling2d", Class: weights.GlobalAveragePooling2D, OutputShape: []int{-1, ch}})
	case c.pooling == PoolingMax:
		layers = append(layers, Layer{Name: "global_max_pooling2d", Class: weights.GlobalMaxPooling2D, OutputShape: []int{-1, ch}})
	}
	return layers
}

// kerasSpec is the weights.Spec of the model's weighted layers.
func (c *Builder) kerasSpec() weights.Spec {
	return weights.MustVGG(c.name, c.includeTop, c.classes)
}

// loadWeights resolves the weights option and creates the variables.
func (m *Model) loadWeights() error {
	c := &m.cfg
	if c.weights == WeightsNone {
		m.source = string(WeightsNone)
		init := initializer.GlorotUniformFn(m.root)
		for _, l := range m.weighted() {
			for i, shape := range l.shapes {
				vinit := init
				if i == 1 {
					vinit = initializer.Zero
				}
				v := m.store.VariableWithShape(m.varPath(l.Name, weights.WeightNames[i]), shapes.Make(dtypes.Float32, shape...), vinit)
				v.Trainable = l.Trainable
			}
		}
		return nil
	}
	spec := c.kerasSpec()
	var f *weights.File
	path := string(c.weights)
	switch c.weights {
	case WeightsSynthetic:
		f = weights.Synthetic(spec, c.seed)
		fmt.Fprintf(c.notices, "%s (%s, seed %d)\n", weights.SyntheticNotice, spec, c.seed)
	case WeightsImageNet, WeightsAuto:
		e, err := weights.ImageNet(c.name, c.includeTop)
		if err != nil {
			return fmt.Errorf("gomlx_vgg: %w", err)
		}
		if c.weights == WeightsAuto {
			path, err = download.Local(e, c.fetchOpts...)
			if err != nil {
				f = weights.Synthetic(spec, c.seed)
				fmt.Fprintf(c.notices, "%s\n  (%v; run `vggnb weights fetch --model %s%s` where there is network)\n",
					weights.SyntheticNotice, err, c.name, map[bool]string{true: " --include-top"}[c.includeTop])
			}
		} else {
			path, err = download.Fetch(m.ctx, e, c.fetchOpts...)
			if err != nil {
				return fmt.Errorf("gomlx_vgg: imagenet weights for %s: %w", spec, err)
			}
		}
	}
	if f == nil {
		opts := append([]weights.Option{weights.WithDataFormat(c.dataFormat), weights.WithSourceDataFormat(c.source)}, c.loadOptions...)
		var err error
		f, err = weights.LoadVGG(path, spec, opts...)
		if err != nil {
			return fmt.Errorf("gomlx_vgg: %w", err)
		}
		m.source = path
	} else {
		m.synthetic = true
		m.source = f.Path
		if c.dataFormat == weights.ChannelsFirst && c.includeTop {
			fc1 := f.Layer("fc1")
			fs := weights.FlattenShape
			fc1.Weights[0] = weights.DenseRowsReorder(fc1.Weights[0], fs[0], fs[1], fs[2], weights.ChannelsLast, weights.ChannelsFirst)
		}
	}
	// The values are copied into tensors on all cores (80-550 MB, mostly page
	// faults on a fresh process), then made variables in order.
	type job struct {
		layer Layer
		index int
		data  []float32
		shape []int
		value *tensors.Tensor
	}
	var jobs []*job
	for _, l := range m.weighted() {
		fl := f.Layer(l.Name)
		if fl == nil {
			return fmt.Errorf("gomlx_vgg: %s: layer %s missing from the loaded weights", m.source, l.Name)
		}
		for i, shape := range l.shapes {
			wt := fl.Weights[i]
			if !slices.Equal(wt.Shape, shape) {
				return fmt.Errorf("gomlx_vgg: %s: layer %s %s has shape %v, the model needs %v", m.source, l.Name, weights.WeightNames[i], wt.Shape, shape)
			}
			jobs = append(jobs, &job{layer: l, index: i, data: wt.Data, shape: shape})
		}
	}
	kernels.ForEach(len(jobs), func(i int) { jobs[i].value = tensors.FromFlatDataAndDimensions(jobs[i].data, jobs[i].shape...) })
	for _, j := range jobs {
		v, err := m.store.CreateVariable(m.varPath(j.layer.Name, weights.WeightNames[j.index]), j.value)
		if err != nil {
			return fmt.Errorf("gomlx_vgg: layer %s: %w", j.layer.Name, err)
		}
		v.Trainable = j.layer.Trainable
	}
	return nil
}

// weighted returns the layers with weights.
func (m *Model) weighted() []Layer {
	var out []Layer
	for _, l := range m.layers {
		if l.Params > 0 {
			out = append(out, l)
		}
	}
	return out
}

// Layers returns the model's layers in order, the input layer first, as Keras'
// model.layers / summary() list them (output shapes in the model's data format).
func (m *Model) Layers() []Layer {
	if m.mu != nil { // the trainable flags live in the store, which runs may be initialising
		m.mu.Lock()
		defer m.mu.Unlock()
	}
	out := make([]Layer, 0, len(m.layers))
	for _, l := range m.layers {
		l.OutputShape = slices.Clone(l.OutputShape)
		if l.Params > 0 {
			l.Trainable = m.store.GetVariable(m.varPath(l.Name, "kernel")).Trainable
		}
		out = append(out, l)
		if l.Name == m.output {
			break
		}
	}
	return out
}

// LayerNames returns the names of the layers after the input, in order.
func (m *Model) LayerNames() []string {
	var names []string
	for _, l := range m.Layers()[1:] {
		names = append(names, l.Name)
	}
	return names
}

// Layer returns the named layer.
func (m *Model) Layer(name string) (Layer, error) {
	for _, l := range m.Layers() {
		if l.Name == name {
			return l, nil
		}
	}
	return Layer{}, m.unknownLayer(name)
}

func (m *Model) unknownLayer(name string) error {
	return fmt.Errorf("gomlx_vgg: %s has no layer %q; its layers are %s", m, name, strings.Join(m.LayerNames(), ", "))
}

// String names the model as Keras would construct it.
func (m *Model) String() string {
	if m == nil || len(m.layers) == 0 {
		return "Model(not built)"
	}
	s := fmt.Sprintf("%s(include_top=%v, weights=%s, input_shape=%s", strings.ToUpper(m.Name),
		pyBool(m.cfg.includeTop), m.cfg.weights, m.cfg.shapeString(m.cfg.hwc()))
	if m.cfg.pooling != PoolingNone {
		s += ", pooling=" + string(m.cfg.pooling)
	}
	if m.cfg.dataFormat == weights.ChannelsFirst {
		s += ", data_format=channels_first"
	}
	s += ")"
	if m.output != m.layers[len(m.layers)-1].Name {
		s += "[:" + m.output + "]"
	}
	return s
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// Scope is where the model's variables live (Builder.Scope, or the root of its
// own store): what Apply wants.
func (m *Model) Scope() *model.Scope { return m.root }

// varPath is a layer weight's full path in the store.
func (m *Model) varPath(layer, weight string) string {
	return path.Join(m.root.Scope(), layer, weight)
}

// Store is the GoMLX store holding the model's variables, named like Keras'
// weights under Scope(): /block1_conv1/kernel, ..., /predictions/bias by
// default; the caller's own store with Builder.Scope.
func (m *Model) Store() *model.Store { return m.store }

// Backend is the compute backend the model runs on.
func (m *Model) Backend() compute.Backend { return m.backend }

// DataFormat is the layout of the model's inputs and outputs.
func (m *Model) DataFormat() weights.DataFormat { return m.cfg.dataFormat }

// IncludeTop reports whether the model has its classifier.
func (m *Model) IncludeTop() bool { return m.cfg.includeTop }

// Output is the name of the layer the model outputs (the last one unless Truncate).
func (m *Model) Output() string { return m.output }

// Synthetic reports whether the model uses synthetic (untrained) weights.
func (m *Model) Synthetic() bool { return m.synthetic }

// WeightsSource is the weight file the model loaded, "synthetic:..." or "none".
func (m *Model) WeightsSource() string { return m.source }

// CountParams returns the total and trainable numbers of weights of the layers up
// to the output, as Keras' summary totals.
func (m *Model) CountParams() (total, trainable int) {
	for _, l := range m.Layers() {
		total += l.Params
		if l.Trainable {
			trainable += l.Params
		}
	}
	return total, trainable
}

// SetTrainable marks the weights of the named layers (all layers with weights if
// none are named) trainable or frozen, like setting layer.trainable in Keras.
func (m *Model) SetTrainable(trainable bool, layers ...string) error {
	if len(layers) == 0 {
		for _, l := range m.weighted() {
			layers = append(layers, l.Name)
		}
	}
	for _, name := range layers {
		l, err := m.Layer(name)
		if err != nil {
			return err
		}
		if l.Params == 0 {
			continue
		}
		m.mu.Lock()
		for _, wn := range weights.WeightNames {
			m.store.GetVariable(m.varPath(name, wn)).Trainable = trainable
		}
		m.mu.Unlock()
	}
	return nil
}

// Truncate returns the model cut after the named layer (Keras:
// Model(inputs=vgg.input, outputs=vgg.get_layer(name).output)). The result shares
// this model's variables.
func (m *Model) Truncate(layer string) (*Model, error) {
	if _, err := m.Layer(layer); err != nil {
		return nil, err
	}
	return &Model{Name: m.Name, cfg: m.cfg, layers: m.layers, output: layer, store: m.store, root: m.root, backend: m.backend,
		source: m.source, synthetic: m.synthetic, execs: map[string]*model.Exec{},
		mu: m.mu, native: m.native, ctx: m.ctx}, nil
}
