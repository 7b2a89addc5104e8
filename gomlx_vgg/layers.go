package gomlx_vgg

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/weights"
)

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
	// Activation is what follows a Conv2D or Dense layer's affine map: "relu",
	// or for the classifier (predictions) Keras' classifier_activation
	// ("softmax", "linear", ...); "" for layers without weights.
	Activation string

	// shapes are the weights' shapes (weights.LayerSpec.Shapes), nil if none.
	shapes [][]int
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
	return withKind(ErrUnknownLayer, fmt.Errorf("gomlx_vgg: %s has no layer %q; its layers are %s", m, name, strings.Join(m.LayerNames(), ", ")))
}

// CountParams returns the total and trainable numbers of weights of the layers up
// to the output, as Keras' summary totals.
func (m *Model) CountParams() (total, trainable int) { return CountParams(m.Layers()) }

// CountParams returns the total and trainable numbers of weights of layers, as
// Keras' summary totals (for models that list their layers as Model.Layers does).
func CountParams(layers []Layer) (total, trainable int) {
	for _, l := range layers {
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

// LayerWeights returns the current values of the named layer's kernel and bias
// (Conv2D: (3, 3, in, out); Dense: (in, out)), as Keras' layer.get_weights();
// with Weights("none"), the values given on first use, as Predict's.
func (m *Model) LayerWeights(layer string) (kernel, bias *tensors.Tensor, err error) {
	if err := m.built(); err != nil {
		return nil, nil, err
	}
	l, err := m.Layer(layer)
	if err != nil {
		return nil, nil, err
	}
	if l.Params == 0 {
		return nil, nil, fmt.Errorf("gomlx_vgg: %s: layer %s (%s) has no weights", m, layer, l.Class)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.store.InitializeVariables(m.backend, nil); err != nil {
		return nil, nil, fmt.Errorf("gomlx_vgg: %s: initialising variables: %w", m, err)
	}
	return m.variableValues(layer)
}

// variableValues returns the current kernel and bias tensors of a layer.
func (m *Model) variableValues(layer string) (kernel, bias *tensors.Tensor, err error) {
	ls := m.root.At("%s", layer)
	kv, bv := ls.GetVariable("kernel"), ls.GetVariable("bias")
	if kv == nil || bv == nil {
		return nil, nil, fmt.Errorf("gomlx_vgg: %s: no variables %s/kernel and bias", m, layer)
	}
	if kernel, err = kv.Value(); err != nil {
		return nil, nil, fmt.Errorf("gomlx_vgg: %s: %s/kernel: %w", m, layer, err)
	}
	if bias, err = bv.Value(); err != nil {
		return nil, nil, fmt.Errorf("gomlx_vgg: %s: %s/bias: %w", m, layer, err)
	}
	return kernel, bias, nil
}

// varPath is a layer weight's full path in the store.
func (m *Model) varPath(layer, weight string) string {
	return path.Join(m.root.Scope(), layer, weight)
}
