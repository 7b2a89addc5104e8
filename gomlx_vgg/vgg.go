// Package gomlx_vgg builds Keras' VGG16 and VGG19 (keras.applications) in GoMLX:
// the same layer names, arguments, input checks and preprocessing, loading Keras
// .h5 weights through package weights.
//
// A model is configured with a Builder, as keras.applications.VGG19(...) is with
// keyword arguments:
//
//	m, err := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightsAuto).Done()
//	img, err := imagenet.LoadImg("cat.png")
//	x, err := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
//	outs, err := m.Outputs(imagenet.MustBatch(x), "block5_pool")
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
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/convs"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/weights"
)

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

// String names the model as Keras would construct it.
func (m *Model) String() string { return m.describe(string(m.cfg.weights)) }

// Title is String with a weight file named by its base name, for the titles of
// tables and diagrams: VGG19(include_top=False, weights=vgg19_notop.h5, ...).
func (m *Model) Title() string {
	if m == nil {
		return m.String()
	}
	return m.describe(filepath.Base(string(m.cfg.weights)))
}

// describe is String with the weights shown as w.
func (m *Model) describe(w string) string {
	if m == nil || len(m.layers) == 0 {
		return "Model(not built)"
	}
	s := fmt.Sprintf("%s(include_top=%v, weights=%s, input_shape=%s", strings.ToUpper(m.Name),
		pyBool(m.cfg.includeTop), w, m.cfg.shapeString(m.cfg.hwc()))
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

// ClassifierActivation is the activation of predictions (Builder.ClassifierActivation):
// "softmax" unless set.
func (m *Model) ClassifierActivation() string { return m.cfg.activation }

// Output is the name of the layer the model outputs (the last one unless Truncate).
func (m *Model) Output() string { return m.output }

// Synthetic reports whether the model uses synthetic (untrained) weights: made
// in memory, or read from the file weights.ImageNetOrSynthetic writes.
func (m *Model) Synthetic() bool { return m.synthetic }

// WeightsSource is the weight file the model loaded, "synthetic:..." or "none".
func (m *Model) WeightsSource() string { return m.source }

// Context is the context whose cancellation stops the model's downloads and
// native runs between layers (Builder.Context; context.Background unless set).
func (m *Model) Context() context.Context { return m.ctx }

// nativeState is what the native kernels keep between runs: the convolutions
// ready to run and two activation buffers used in turn.
type nativeState struct {
	convs convs.Set
	bufs  [2][]float32
}

// built reports a Model that was not made by a Builder (a zero Model).
func (m *Model) built() error {
	if m == nil || m.store == nil || m.mu == nil {
		return withKind(ErrConfig, errors.New("gomlx_vgg: a zero or nil Model: build one with VGG16(), VGG19() or New(name) and Done()"))
	}
	return nil
}
