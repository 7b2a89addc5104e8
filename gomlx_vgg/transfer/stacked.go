// Package transfer reuses a pretrained VGG in new networks, as Keras users do in
// "Transfer Learning using Keras and VGG": cut VGG at a layer and stack a new
// head on it, freeze layers with Keras' indexing (model.layers[:n]), train the
// head with GoMLX's own layers, losses and optimizers, and save and load it with
// GoMLX checkpoints.
//
// The pretrained part is a gomlx_vgg.Model built in the stacked model's store
// (Builder.Scope), so that its variables and the head's sit side by side: the
// base at /block1_conv1/kernel, ..., the head at /conv2d_1/..., /dense_1/....
package transfer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/core/tensors/images"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/weights"
)

// The post's first model: VGG16 cut at block2_pool, input 160x160x3, a new
// head for 10 classes, layers[:7] (input_1, block1, block2) frozen.
const (
	PostCut        = "block2_pool"
	PostInputSize  = 160
	PostClasses    = 10
	PostFrozen     = 7
	PostConvFilter = 64
	PostDenseUnits = 256
	PostDropout    = 0.5
)

// Stacked is a pretrained VGG base cut at a layer with a new head on top, in one
// GoMLX store: the post's
//
//	vgg = VGG16(weights=..., include_top=False, input_shape=(160, 160, 3))
//	x = vgg.get_layer('block2_pool').output
//	x = Conv2D(64, (3, 3), activation='relu')(x)
//	x = MaxPooling2D(pool_size=(2, 2))(x)
//	x = Flatten()(x)
//	x = Dense(256, activation='relu')(x)
//	x = Dropout(0.5)(x)
//	x = Dense(10, activation='softmax')(x)
//	for layer in model.layers[:7]: layer.trainable = False
//
// Its head is built from GoMLX's layers (graph.MaxPool, layers.Dense,
// layers.DropoutStatic, GoMLX's initializers) under Keras' layer names, and
// gomlx_vgg.Conv2D for the convolution (fast on the pure-Go backend).
type Stacked struct {
	// Base is the pretrained VGG cut at its output layer (PostCut for the post).
	Base *gomlx_vgg.Model

	classes, filters, units int
	dropout                 float64
	store                   *model.Store
	backend                 compute.Backend

	execs executors
	input []int // a head alone: its input layer's shape
}

// NewPostModel builds the post's first model on VGG16 weights from the Keras
// file at path (a no-top file; weights.ImageNetOrSynthetic gives ImageNet's or
// SYNTHETIC ones) with seed for the head's initial values, and freezes
// layers[:7]: NewStacked(path, PostCut, PostInputSize, seed) then Freeze(7).
func NewPostModel(path string, seed int64) (*Stacked, error) {
	s, err := NewStacked(path, PostCut, PostInputSize, seed)
	if err != nil {
		return nil, err
	}
	return s, s.Freeze(PostFrozen)
}

// NewStacked is the post's head (10 classes) on VGG16 without its top, from the
// Keras file at path, cut after layer cut, at input size x size; nothing is
// frozen (Freeze). The head's conv needs the cut's output to be at least 4x4.
// The head's variables are initialised (from seed) at once.
func NewStacked(path, cut string, size int, seed int64) (*Stacked, error) {
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, seed) // 0: not reproducible
	base, err := gomlx_vgg.VGG16().IncludeTop(false).InputShape(size, size, 3).
		Weights(gomlx_vgg.WeightSource(path)).Scope(store.RootScope()).Done()
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if base, err = base.Truncate(cut); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	s := &Stacked{Base: base, classes: PostClasses, filters: PostConvFilter, units: PostDenseUnits,
		dropout: PostDropout, store: store, backend: base.Backend()}
	if f := s.FeatureShape(); f[0] < 4 || f[1] < 4 {
		return nil, fmt.Errorf("transfer: %s of a %dx%d input is %v: too small for the head's 3x3 conv and 2x2 pooling",
			cut, size, size, f)
	}
	if err := s.initHead(); err != nil {
		return nil, err
	}
	return s, s.Freeze(0)
}

// NewHead is the post's head alone (conv2d_1 … dense_2, classes outputs) on
// inputs of shape (height, width, channels), trained from scratch: the
// baseline that transfer learning is measured against (the same head on raw
// pixels instead of VGG's features).
func NewHead(height, width, channels, classes int, seed int64) (*Stacked, error) {
	if height < 4 || width < 4 || channels < 1 || classes < 2 {
		return nil, fmt.Errorf("transfer: a head on inputs (%d, %d, %d) with %d classes", height, width, channels, classes)
	}
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, seed) // 0: not reproducible
	s := &Stacked{classes: classes, filters: PostConvFilter, units: PostDenseUnits, dropout: PostDropout,
		store: store, backend: gobackend.GetBackend(), input: []int{-1, height, width, channels}}
	if err := s.initHead(); err != nil {
		return nil, err
	}
	return s, s.Freeze(0)
}

// baseLayers is the base's layers, or only an input layer for a head alone.
func (s *Stacked) baseLayers() []gomlx_vgg.Layer {
	if s.Base == nil {
		return []gomlx_vgg.Layer{{Name: weights.InputLayerName, Class: weights.InputLayer, OutputShape: s.input}}
	}
	return s.Base.Layers()
}

// Store holds the base's and the head's variables.
func (s *Stacked) Store() *model.Store { return s.store }

// Backend is where the model runs.
func (s *Stacked) Backend() compute.Backend { return s.backend }

// Classes is the number of classes the head predicts.
func (s *Stacked) Classes() int { return s.classes }

// Head layer names, as Keras 2 numbers them in the post.
const (
	headConv    = "conv2d_1"
	headPool    = "max_pooling2d_1"
	headFlatten = "flatten_1"
	headDense   = "dense_1"
	headDropout = "dropout_1"
	headOut     = "dense_2"
)

// HeadLayers names the head's layers in order, after the base's (Layers).
var HeadLayers = []string{headConv, headPool, headFlatten, headDense, headDropout, headOut}

// FeatureShape is the base's output for one image, (H, W, C): (40, 40, 128) for
// the post.
func (s *Stacked) FeatureShape() []int {
	return s.baseLayers()[len(s.baseLayers())-1].OutputShape[1:]
}

// HeadLogits builds the head on a batch of base features (batch, H, W, C) and
// returns the logits (before the softmax of the last Dense). Dropout is active
// only in the training phase of the graph (Store.SetTraining).
func (s *Stacked) HeadLogits(scope *model.Scope, features *Node) *Node {
	glorot := func(sc *model.Scope) *model.Scope { return sc.WithInitializer(initializer.GlorotUniformFn(sc)) }
	x := activation.Relu(conv2D(glorot(scope.In(headConv)), features, s.filters, 3, false))
	x = MaxPool(x).ChannelsAxis(images.ChannelsLast).Window(2).Done()
	x = Reshape(x, x.Shape().Dimensions[0], -1)
	x = activation.Relu(layers.Dense(glorot(scope.In(headDense)), x, true, s.units))
	x = layers.DropoutStatic(scope, x, s.dropout)
	return layers.Dense(glorot(scope.In(headOut)), x, true, s.classes)
}

// conv2D is Keras' Conv2D(filters, (size, size), padding='same' or 'valid')
// without activation, its variables under scope as Keras names them (kernel
// (size, size, C, filters), Glorot-uniform; bias, zeros). It is
// gomlx_vgg.Conv2D rather than GoMLX's layers.Convolution, whose convolution
// op is far slower on the pure-Go backend (without SIMD, a head-only training
// step at batch 32 took 57 s with it and 5 s with Conv2D).
func conv2D(scope *model.Scope, x *Node, filters, size int, same bool) *Node {
	g := x.Graph()
	c := x.Shape().Dimensions[3]
	kernel := scope.VariableWithShape("kernel", shapes.Make(x.DType(), size, size, c, filters)).NodeValue(g)
	bias := scope.WithInitializer(initializer.Zero).VariableWithShape("bias", shapes.Make(x.DType(), filters)).NodeValue(g)
	return gomlx_vgg.Conv2D(x, kernel, bias, same)
}

// Logits builds the whole model on a batch of preprocessed images (batch, H, W, 3).
func (s *Stacked) Logits(scope *model.Scope, images *Node) *Node {
	if s.Base == nil {
		return s.HeadLogits(scope, images)
	}
	return s.HeadLogits(scope, s.Base.Apply(scope, images))
}

// Freeze makes layers[:n] not trainable and the others trainable, with Keras'
// indexing of the stacked model's layers (Layers): 7 freezes input_1, block1 and
// block2. The head's layers come after the base's.
func (s *Stacked) Freeze(n int) error {
	ls := s.Layers()
	if n < 0 || n > len(ls) {
		return fmt.Errorf("transfer: Freeze(%d): the model has %d layers", n, len(ls))
	}
	var frozen, trainable []string
	for i, l := range ls[:len(s.baseLayers())] {
		if l.Params == 0 {
			continue
		}
		if i < n {
			frozen = append(frozen, l.Name)
		} else {
			trainable = append(trainable, l.Name)
		}
	}
	// (SetTrainable without names would set every layer.)
	for _, set := range []struct {
		trainable bool
		layers    []string
	}{{false, frozen}, {true, trainable}} {
		if len(set.layers) == 0 || s.Base == nil {
			continue
		}
		if err := s.Base.SetTrainable(set.trainable, set.layers...); err != nil {
			return fmt.Errorf("transfer: %w", err)
		}
	}
	s.store.SetParam(paramFrozen, n)
	s.freezeHead(n) // the head's variables exist from the start (initHead)
	return nil
}

// paramFrozen records Freeze's n in the store (and so in checkpoints).
const paramFrozen = "transfer_frozen_layers"

// Frozen is Freeze's n: layers[:n] are frozen.
func (s *Stacked) Frozen() int {
	n, _ := s.store.GetParam(paramFrozen)
	switch v := n.(type) {
	case int:
		return v
	case float64: // as read back from a checkpoint's JSON
		return int(v)
	}
	return 0
}

// freezeHead applies layers[:n] to the head's variables that exist.
func (s *Stacked) freezeHead(n int) {
	for i, l := range s.Layers() {
		if i < len(s.baseLayers()) || l.Params == 0 {
			continue
		}
		for v := range s.store.IterVariables() {
			if layerOf(v.Path()) == l.Name {
				v.Trainable = i >= n
			}
		}
	}
}

// layerOf is the layer a variable path is under: "conv2d_1" for "/conv2d_1/kernel".
func layerOf(path string) string {
	layer, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return layer
}

// Layers lists the model's layers as Keras' model.layers does: the base's
// (input_1 ... block2_pool), then the head's (conv2d_1 ... dense_2).
func (s *Stacked) Layers() []gomlx_vgg.Layer {
	out := s.baseLayers()
	f := s.FeatureShape()
	h, w, c := f[0]-2, f[1]-2, s.filters // 3x3 'valid'
	ph, pw := h/2, w/2
	flat := ph * pw * c
	head := []gomlx_vgg.Layer{
		{Name: headConv, Class: weights.Conv2D, OutputShape: []int{-1, h, w, c}, Params: 3*3*f[2]*c + c},
		{Name: headPool, Class: weights.MaxPooling2D, OutputShape: []int{-1, ph, pw, c}},
		{Name: headFlatten, Class: weights.Flatten, OutputShape: []int{-1, flat}},
		{Name: headDense, Class: weights.Dense, OutputShape: []int{-1, s.units}, Params: flat*s.units + s.units},
		{Name: headDropout, Class: weights.Dropout, OutputShape: []int{-1, s.units}},
		{Name: headOut, Class: weights.Dense, OutputShape: []int{-1, s.classes}, Params: s.units*s.classes + s.classes},
	}
	n := s.Frozen()
	for i := range head {
		head[i].Trainable = len(out)+i >= n
	}
	return append(out, head...)
}

// Title names the model: the base, as gomlx_vgg titles it (with its cut), and
// the head.
func (s *Stacked) Title() string {
	if s.Base == nil {
		f := s.FeatureShape()
		return fmt.Sprintf("conv2d_1 … dense_2 (%d classes) alone, on inputs (%d, %d, %d)", s.classes, f[0], f[1], f[2])
	}
	return fmt.Sprintf("%s + conv2d_1 … dense_2 (%d classes)", s.Base.Title(), s.classes) // the title says the cut
}

// CountParams is Keras' summary totals: all parameters and the trainable ones.
func (s *Stacked) CountParams() (total, trainable int) { return gomlx_vgg.CountParams(s.Layers()) }

// Predict returns the softmax probabilities for a batch of preprocessed images
// (evaluation phase: no dropout). On the native engine the base runs with its
// kernels (Features) and the head as a graph (PredictFeatures), as training
// does; otherwise the whole model is one graph.
func (s *Stacked) Predict(images *tensors.Tensor) (*tensors.Tensor, error) {
	if s.Base != nil && s.Base.Engine() == gomlx_vgg.EngineNative {
		f, err := s.Features(images)
		if err != nil {
			return nil, err
		}
		return s.PredictFeatures(f)
	}
	return s.predictGraph(images)
}

// predictGraph is Predict as one graph, base and head.
func (s *Stacked) predictGraph(images *tensors.Tensor) (*tensors.Tensor, error) {
	return s.exec("predict", func(scope *model.Scope, x *Node) *Node {
		return Softmax(s.Logits(scope, x), -1)
	}, images)
}

// PredictFeatures is Predict from the base's features (batch, H, W, C): the
// head alone, as in Keras' feature-extraction workflow.
func (s *Stacked) PredictFeatures(features *tensors.Tensor) (*tensors.Tensor, error) {
	return s.exec("head", func(scope *model.Scope, x *Node) *Node {
		return Softmax(s.HeadLogits(scope, x), -1)
	}, features)
}

// Features runs the frozen base on a batch of preprocessed images with the
// native kernels where they apply (gomlx_vgg.Model.Predict).
func (s *Stacked) Features(images *tensors.Tensor) (*tensors.Tensor, error) {
	if s.Base == nil {
		return nil, errors.New("transfer: a head alone has no base to compute features")
	}
	return s.Base.Predict(images)
}

// exec runs fn on x with the executor kept under name.
func (s *Stacked) exec(name string, fn func(*model.Scope, *Node) *Node, x *tensors.Tensor) (*tensors.Tensor, error) {
	outs, err := s.execs.run(name, func() (*model.Exec, error) { return model.NewExec(s.backend, s.store, fn) }, x)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}
