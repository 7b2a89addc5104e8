package gomlx_vgg

import (
	"github.com/gomlx/gomlx/core/tensors"
)

// Engine says what runs this model's Outputs and Predict: EngineNative or EngineGraph.
func (m *Model) Engine() Engine {
	if m == nil {
		return EngineGraph
	}
	switch m.cfg.engine {
	case EngineNative, EngineGraph:
		return m.cfg.engine
	}
	if m.onGoBackend() {
		return EngineNative
	}
	return EngineGraph
}

// engine computes the named layers' outputs of a model on a checked input
// batch, with the model's lock held: each Engine is one, and Model.outputs,
// which checks the input and the outputs alike for every engine, picks it.
type engine interface {
	outputs(m *Model, x *tensors.Tensor, names []string) (map[string]*tensors.Tensor, error)
}

// nativeEngine is EngineNative: vggnb's kernels (native.go).
type nativeEngine struct{}

func (nativeEngine) outputs(m *Model, x *tensors.Tensor, names []string) (map[string]*tensors.Tensor, error) {
	return m.nativeOutputs(x, names)
}

// graphEngine is EngineGraph: the GoMLX graph Apply builds, compiled once per
// set of names and input shape (run.go).
type graphEngine struct{}

func (graphEngine) outputs(m *Model, x *tensors.Tensor, names []string) (map[string]*tensors.Tensor, error) {
	return m.graphOutputs(x, names)
}

// engines maps each Engine to its implementation.
var engines = map[Engine]engine{EngineNative: nativeEngine{}, EngineGraph: graphEngine{}}
