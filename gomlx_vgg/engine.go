package gomlx_vgg

import (
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/tensors"
)

// Engine is what computes Outputs and Predict (Builder.Engine). ("Kernel" in
// vggnb means the Jupyter kernel.)
type Engine string

// The engines.
const (
	// EngineAuto (the default) is EngineNative on the pure-Go backend and
	// EngineGraph on any other (XLA: its own native convolution).
	EngineAuto Engine = "auto"
	// EngineNative runs the model with vggnb's own CPU kernels: a fused 3x3
	// convolution + bias + ReLU (Winograd F(2x2, 3x3), or an indirect GEMM for
	// the first layer; AVX-512, AVX2 or NEON assembly chosen at run time), 2x2
	// max pooling and blocked dense layers, on the model's variables, with no
	// graph to build or compile.
	EngineNative Engine = "native"
	// EngineGraph runs the GoMLX graph that Apply builds, on the model's backend.
	EngineGraph Engine = "graph"
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

// onGoBackend reports whether the model's backend is the pure-Go one.
func (m *Model) onGoBackend() bool {
	return m != nil && m.backend != nil && m.backend.Name() == gobackend.GetBackend().Name()
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
