package weights

import (
	"fmt"
	"slices"
	"strings"
)

// Spec describes the layers of a Keras VGG16 or VGG19 model: names, classes and
// the channels_last shapes of their weights, as keras.applications builds them.
type Spec struct {
	// Model is "vgg16" or "vgg19".
	Model string
	// IncludeTop says whether flatten, fc1, fc2 and predictions are part of the model.
	IncludeTop bool
	// Classes is the width of predictions (1000 for ImageNet); only with IncludeTop.
	Classes int
	// Layers in Keras order, weightless ones (pooling, flatten) included, input excluded.
	Layers []LayerSpec
}

// Class is a Keras layer class, as model.summary() prints it.
type Class string

// The Keras layer classes of VGG models (and Dropout, of the heads that
// transfer learning stacks on them).
const (
	InputLayer             Class = "InputLayer"
	Conv2D                 Class = "Conv2D"
	MaxPooling2D           Class = "MaxPooling2D"
	Flatten                Class = "Flatten"
	Dense                  Class = "Dense"
	GlobalAveragePooling2D Class = "GlobalAveragePooling2D"
	GlobalMaxPooling2D     Class = "GlobalMaxPooling2D"
	Dropout                Class = "Dropout"
)

// LayerSpec is one layer of a Spec.
type LayerSpec struct {
	// Name is the Keras layer name, e.g. block5_pool.
	Name string
	// Class is the Keras class, e.g. Conv2D.
	Class Class
	// Shapes of the weights in channels_last (kernel HWIO or (in, out), then bias); nil if none.
	Shapes [][]int
}

var vggBlocks = map[string][]int{
	"vgg16": {2, 2, 3, 3, 3},
	"vgg19": {2, 2, 4, 4, 4},
}

var vggFilters = []int{64, 128, 256, 512, 512}

// FlattenShape is the (H, W, C) of block5_pool that Keras' VGG top flattens (224x224 inputs).
var FlattenShape = [3]int{7, 7, 512}

// MaxClasses is the largest number of classes VGG accepts: predictions' kernel
// is 4096 x classes float32s, 1.6 GB at this limit (ImageNet-21k has 21,843
// classes). VGGUpTo takes another limit (the CLI's --max-classes).
const MaxClasses = 100_000

// VGG returns the Spec of keras.applications.VGG16 ("vgg16") or VGG19 ("vgg19").
// classes is only used with includeTop; 0 means 1000, more than MaxClasses is
// an error.
func VGG(model string, includeTop bool, classes int) (Spec, error) {
	return VGGUpTo(model, includeTop, classes, MaxClasses)
}

// VGGUpTo is VGG with maxClasses as the limit on classes instead of MaxClasses.
func VGGUpTo(model string, includeTop bool, classes, maxClasses int) (Spec, error) {
	model = strings.ToLower(model)
	blocks, ok := vggBlocks[model]
	if !ok {
		return Spec{}, fmt.Errorf("weights: unknown model %q: want vgg16 or vgg19", model)
	}
	if classes == 0 {
		classes = 1000
	}
	if classes < 0 {
		return Spec{}, fmt.Errorf("weights: classes must be positive, got %d", classes)
	}
	if classes > maxClasses {
		return Spec{}, fmt.Errorf("weights: %d classes: %w of %d (predictions' kernel alone would be %.1f GB; VGGUpTo, or the CLI's --max-classes, raises it)",
			classes, ErrTooManyClasses, maxClasses, 4096*4*float64(classes)/1e9)
	}
	s := Spec{Model: model, IncludeTop: includeTop}
	cin := 3
	for b, n := range blocks {
		cout := vggFilters[b]
		for c := 1; c <= n; c++ {
			s.Layers = append(s.Layers, LayerSpec{
				Name: fmt.Sprintf("block%d_conv%d", b+1, c), Class: Conv2D,
				Shapes: [][]int{{3, 3, cin, cout}, {cout}},
			})
			cin = cout
		}
		s.Layers = append(s.Layers, LayerSpec{Name: fmt.Sprintf("block%d_pool", b+1), Class: MaxPooling2D})
	}
	if includeTop {
		s.Classes = classes
		flat := FlattenShape[0] * FlattenShape[1] * FlattenShape[2]
		s.Layers = append(s.Layers,
			LayerSpec{Name: "flatten", Class: Flatten},
			LayerSpec{Name: "fc1", Class: Dense, Shapes: [][]int{{flat, 4096}, {4096}}},
			LayerSpec{Name: "fc2", Class: Dense, Shapes: [][]int{{4096, 4096}, {4096}}},
			LayerSpec{Name: ClassifierLayerName, Class: Dense, Shapes: [][]int{{4096, classes}, {classes}}},
		)
	}
	return s, nil
}

// MustVGG is VGG for arguments known to be valid; it panics otherwise.
func MustVGG(model string, includeTop bool, classes int) Spec {
	s, err := VGG(model, includeTop, classes)
	if err != nil {
		panic(err)
	}
	return s
}

// Weighted returns the layers that have weights, in order.
func (s Spec) Weighted() []LayerSpec {
	var out []LayerSpec
	for _, l := range s.Layers {
		if len(l.Shapes) > 0 {
			out = append(out, l)
		}
	}
	return out
}

// Layer returns the named layer spec.
func (s Spec) Layer(name string) (LayerSpec, bool) {
	for _, l := range s.Layers {
		if l.Name == name {
			return l, true
		}
	}
	return LayerSpec{}, false
}

// String names the model as Keras would construct it.
func (s Spec) String() string {
	if s.IncludeTop {
		return fmt.Sprintf("%s(include_top=True, classes=%d)", s.Model, s.Classes)
	}
	return fmt.Sprintf("%s(include_top=False)", s.Model)
}

// WeightNames are the names of a weighted layer's weights, in Keras' order: the
// kernel (HWIO for Conv2D, (in, out) for Dense), then the bias.
var WeightNames = []string{"kernel", "bias"}

// topLayers are dropped, not rejected, when a file with the classifier is loaded
// into a model without it (the convolutional weights are the same).
var topLayers = []string{"fc1", "fc2", ClassifierLayerName}

// match pairs each weighted layer of spec with the file's layer holding its weights.
func match(f *File, spec Spec) (map[string]*Layer, error) {
	want := spec.Weighted()
	got := map[string]*Layer{}
	if f.Format == FormatKeras3 {
		// No names in the file: match by class, in order.
		byClass := map[Class][]*Layer{}
		for i := range f.Layers {
			l := &f.Layers[i]
			if len(l.Weights) > 0 {
				byClass[l.Class] = append(byClass[l.Class], l)
			}
		}
		need := map[Class][]LayerSpec{}
		for _, l := range want {
			need[l.Class] = append(need[l.Class], l)
		}
		for class, have := range byClass {
			specs := need[class]
			if class == Dense && !spec.IncludeTop && len(specs) == 0 {
				continue // a file with the top loaded into a no-top model
			}
			if len(have) != len(specs) {
				return nil, wrongModel(fmt.Errorf("weights: %s: file has %d %s layers with weights, %s has %d%s",
					f.Path, len(have), orUnknown(class), spec, len(specs), modelHint(class, len(have))))
			}
			for i, l := range specs {
				got[l.Name] = have[i]
			}
		}
		for _, l := range want {
			if got[l.Name] == nil {
				return nil, missingLayer(f, spec, l.Name)
			}
		}
		return got, nil
	}
	names := map[string]bool{}
	for _, l := range want {
		names[l.Name] = true
	}
	for i := range f.Layers {
		l := &f.Layers[i]
		if len(l.Weights) == 0 {
			continue
		}
		if names[l.Name] {
			got[l.Name] = l
			continue
		}
		if !spec.IncludeTop && slices.Contains(topLayers, l.Name) {
			continue
		}
		hint := ""
		if spec.Model == "vgg16" && strings.HasSuffix(l.Name, "_conv4") {
			hint = " (this looks like a VGG19 file)"
		}
		return nil, wrongModel(fmt.Errorf("weights: %s: layer %s (%d weights, first of shape %v) is not part of %s%s",
			f.Path, l.Name, len(l.Weights), l.Weights[0].Shape, spec, hint))
	}
	for _, l := range want {
		if got[l.Name] == nil {
			return nil, missingLayer(f, spec, l.Name)
		}
	}
	return got, nil
}

func orUnknown(class Class) string {
	if class == "" {
		return "unrecognised"
	}
	return string(class)
}

func modelHint(class Class, have int) string {
	switch {
	case class == Conv2D && have == 13:
		return " (this looks like a VGG16 file)"
	case class == Conv2D && have == 16:
		return " (this looks like a VGG19 file)"
	}
	return ""
}

func missingLayer(f *File, spec Spec, name string) error {
	hint := ""
	switch {
	case slices.Contains(topLayers, name):
		hint = " (the file has no classifier top: it is a *_notop file; build the model with include_top=false or use the file with the top)"
	case spec.Model == "vgg19" && strings.HasSuffix(name, "_conv4"):
		hint = " (this looks like a VGG16 file)"
	}
	return wrongModel(fmt.Errorf("weights: %s: %s needs layer %s, the file has no weights for it%s", f.Path, spec, name, hint))
}

// Option configures LoadVGG.
type Option func(*loadConfig)

type loadConfig struct {
	source   DataFormat // ChannelsAuto detects
	target   DataFormat
	cacheDir string
	noCache  bool
}

// WithSourceDataFormat says how the file was saved, instead of detecting it.
// ChannelsFirst with OIHW kernels is a Theano file (*_th_dim_ordering_th_kernels*):
// kernels are transposed and flipped and fc1's rows reordered. ChannelsFirst with HWIO
// kernels is a Keras 2 channels_first file: only fc1's rows are reordered.
// Detection can only tell Theano kernels apart, so name Keras 2 channels_first files.
func WithSourceDataFormat(df DataFormat) Option { return func(c *loadConfig) { c.source = df } }

// WithDataFormat sets the model's data format (channels_last by default). It decides
// the row order of fc1 (the flatten order); kernels are always HWIO, unflipped.
func WithDataFormat(df DataFormat) Option { return func(c *loadConfig) { c.target = df } }

// WithCacheDir keeps the fast-reload form of loaded weights in dir instead of the
// default (download.CacheDir()/tensors).
func WithCacheDir(dir string) Option { return func(c *loadConfig) { c.cacheDir = dir } }

// WithoutCache neither reads nor writes the fast-reload form.
func WithoutCache() Option { return func(c *loadConfig) { c.noCache = true } }

// LoadVGG reads a Keras VGG weight file of any supported layout and returns the
// weights of spec's layers, in spec order, named "kernel" and "bias", converted to
// the target data format (channels_last unless WithDataFormat), kernels HWIO.
//
// Files for another model, files without the top for an include_top model,
// truncated and corrupt files are errors naming the file, the layer and the shapes.
// A file with the top loaded into a model without it keeps only the convolutional
// weights, as Keras' notop files hold exactly those.
//
// Unless WithoutCache, the result is also kept in a cached form keyed by the
// source file's path, size and modification time; later loads read that in a few
// milliseconds per 10 MB.
func LoadVGG(path string, spec Spec, opts ...Option) (*File, error) {
	cfg := loadConfig{source: ChannelsAuto, target: ChannelsLast}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.target != ChannelsLast && cfg.target != ChannelsFirst {
		return nil, fmt.Errorf("weights: target data format must be channels_last or channels_first, got %v", cfg.target)
	}
	var key cacheKey
	if !cfg.noCache {
		var err error
		key, err = newCacheKey(path, spec, cfg)
		if err == nil {
			if f, err := readCache(key); err == nil {
				return f, nil
			}
		}
	}
	raw, err := Read(path)
	if err != nil {
		return nil, err
	}
	f, err := normalize(raw, spec, cfg)
	if err != nil {
		return nil, err
	}
	if !cfg.noCache && key.path != "" {
		// A failed cache write only costs speed next time.
		_ = writeCache(key, f)
	}
	return f, nil
}

// normalize matches, checks and converts a raw file to spec order and the target format.
func normalize(raw *File, spec Spec, cfg loadConfig) (*File, error) {
	byName, err := match(raw, spec)
	if err != nil {
		return nil, err
	}
	source := cfg.source
	theanoKernels := false
	first := byName[spec.Weighted()[0].Name]
	if len(first.Weights) == 0 {
		return nil, fmt.Errorf("weights: %s: layer %s has no weights", raw.Path, first.Name)
	}
	k := first.Weights[0].Shape
	hwio := spec.Weighted()[0].Shapes[0]
	oihw := []int{hwio[3], hwio[2], hwio[0], hwio[1]}
	switch {
	case slices.Equal(k, oihw):
		theanoKernels = true
		if source == ChannelsAuto {
			source = ChannelsFirst
		}
	case source == ChannelsAuto:
		source = ChannelsLast
	}
	if theanoKernels && source == ChannelsLast {
		return nil, fmt.Errorf("weights: %s: layer %s kernel has shape %v, the channels_first (Theano) layout of %v, but the file was declared channels_last", raw.Path, first.Name, k, hwio)
	}
	out := &File{Path: raw.Path, Format: raw.Format, KerasVersion: raw.KerasVersion, Backend: raw.Backend}
	for _, ls := range spec.Weighted() {
		l := byName[ls.Name]
		if len(l.Weights) != len(ls.Shapes) {
			return nil, fmt.Errorf("weights: %s: layer %s has %d weights, %s expects %d (kernel and bias)",
				raw.Path, describeLayer(l, ls), len(l.Weights), spec, len(ls.Shapes))
		}
		nl := Layer{Name: ls.Name, Class: ls.Class}
		for i, w := range l.Weights {
			want := ls.Shapes[i]
			t := Tensor{Name: WeightNames[i], Shape: slices.Clone(w.Shape), Data: w.Data}
			if ls.Class == Conv2D && i == 0 && theanoKernels {
				if len(t.Shape) != 4 {
					return nil, shapeError(raw.Path, l, ls, i, w)
				}
				t = KernelToHWIO(t)
			}
			if !slices.Equal(t.Shape, want) {
				return nil, shapeError(raw.Path, l, ls, i, w)
			}
			if ls.Name == "fc1" && i == 0 && source != cfg.target {
				t = reorderFlatten(t, source, cfg.target)
			}
			nl.Weights = append(nl.Weights, t)
		}
		out.Layers = append(out.Layers, nl)
	}
	return out, nil
}

func describeLayer(l *Layer, ls LayerSpec) string {
	if l.Name == ls.Name {
		return l.Name
	}
	return fmt.Sprintf("%s (stored as %s)", ls.Name, l.Name)
}

func shapeError(path string, l *Layer, ls LayerSpec, i int, w Tensor) error {
	want := ls.Shapes[i]
	hint := ""
	if ls.Name == ClassifierLayerName && len(w.Shape) == 2 && len(want) == 2 && w.Shape[1] != want[1] {
		hint = fmt.Sprintf(" (the file's classifier has %d classes, the model %d)", w.Shape[1], want[1])
	}
	if ls.Class == Conv2D && len(w.Shape) == 4 && len(want) == 4 && w.Shape[2] != want[2] {
		hint = " (the file is for a different model or input channels)"
	}
	return &ShapeError{File: path, Layer: ls.Name, Weight: WeightNames[i], Got: w.Shape, Want: want,
		msg: fmt.Sprintf("weights: %s: layer %s weight %s (%s): file has shape %v, model expects %v%s",
			path, describeLayer(l, ls), WeightNames[i], w.Name, w.Shape, want, hint)}
}
