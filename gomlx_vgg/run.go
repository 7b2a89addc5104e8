package gomlx_vgg

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/weights"
)

// AllLayers, given to Outputs, asks for every layer after the input.
const AllLayers = "all"

// Predict runs the model on a preprocessed batch x and returns its output
// (predictions with the top, block5_pool or the pooled features without).
func (m *Model) Predict(x *tensors.Tensor) (*tensors.Tensor, error) {
	if err := m.built(); err != nil {
		return nil, err
	}
	outs, err := m.Outputs(x, m.output)
	if err != nil {
		return nil, err
	}
	return outs[m.output], nil
}

// Outputs runs the model once on a preprocessed batch x (in the model's data
// format) and returns the named layers' values, by name. AllLayers ("all") asks
// for every layer; no names asks for the output layer. What computes them is
// Engine(): vggnb's native kernels, or the GoMLX graph, compiled once for a
// set of names and an input shape and reused.
func (m *Model) Outputs(x *tensors.Tensor, names ...string) (map[string]*tensors.Tensor, error) {
	return m.outputs(m.Engine(), x, names)
}

// GraphOutputs is Outputs computed by the GoMLX graph that Apply builds, on the
// model's backend, whatever Engine() says: the second implementation that
// consistency checks compare the native kernels with.
func (m *Model) GraphOutputs(x *tensors.Tensor, names ...string) (map[string]*tensors.Tensor, error) {
	return m.outputs(EngineGraph, x, names)
}

func (m *Model) outputs(engine Engine, x *tensors.Tensor, names []string) (map[string]*tensors.Tensor, error) {
	if err := m.built(); err != nil {
		return nil, err
	}
	names, err := m.resolveNames(names)
	if err != nil {
		return nil, err
	}
	if x == nil {
		return nil, withKind(ErrInputShape, fmt.Errorf("gomlx_vgg: %s: nil input", m))
	}
	if x.DType() != dtypes.Float32 {
		return nil, withKind(ErrInputShape, fmt.Errorf("gomlx_vgg: %s: input must be float32, got %s", m, x.Shape()))
	}
	if err := CheckFinite(weights.InputLayerName, "input", x); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s on input %v: %w", m, x.Shape().Dimensions, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out, err := engines[engine].outputs(m, x, names)
	if err != nil {
		return nil, err
	}
	// Non-finite outputs are an error on every engine, traced to their source:
	// a weight at or before the first output (in network order) that has them.
	for _, l := range m.layers {
		if t, ok := out[l.Name]; ok {
			if err := CheckFinite(l.Name, "output", t); err != nil {
				return nil, fmt.Errorf("gomlx_vgg: %s on input %v: %w", m, x.Shape().Dimensions, m.traceNonFinite(l.Name, err))
			}
		}
	}
	return out, nil
}

// resolveNames expands AllLayers and checks the names.
func (m *Model) resolveNames(names []string) ([]string, error) {
	if len(names) == 0 {
		return []string{m.output}, nil
	}
	var out []string
	for _, n := range names {
		if n == AllLayers {
			out = append(out, m.LayerNames()...)
			continue
		}
		if _, err := m.Layer(n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Stats summarises an activation: the seed's "hash" of a layer (its mean) and more.
type Stats struct {
	// Shape of the tensor, batch axis included.
	Shape []int `json:"shape"`
	// Mean, Std (population, as numpy's std), Min and Max of all values.
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
	// Zeros is the fraction of values that are exactly 0 (dead ReLUs).
	Zeros float64 `json:"-"`
}

// LayerStats are one layer's Stats, a row of display.StatsTable.
type LayerStats struct {
	Layer string
	Stats
}

// Stats computes the Stats of outputs (as Outputs returns them), in network order.
func (m *Model) Stats(outs map[string]*tensors.Tensor) []LayerStats {
	var rows []LayerStats
	for _, l := range m.Layers() {
		if t, ok := outs[l.Name]; ok {
			rows = append(rows, LayerStats{Layer: l.Name, Stats: StatsOf(t)})
		}
	}
	return rows
}

// StatsOf computes Stats of a float32 tensor in float64 (two passes, so the
// standard deviation does not lose precision on large activations).
func StatsOf(t *tensors.Tensor) Stats {
	if t == nil { // no values: every statistic is NaN, as for an empty tensor
		return Stats{Mean: math.NaN(), Std: math.NaN(), Min: math.NaN(), Max: math.NaN(), Zeros: math.NaN()}
	}
	s := Stats{Shape: slices.Clone(t.Shape().Dimensions), Min: math.Inf(1), Max: math.Inf(-1)}
	tensors.ConstFlatData(t, func(v []float32) {
		if len(v) == 0 {
			s.Min, s.Max = math.NaN(), math.NaN()
			return
		}
		var sum float64
		zeros := 0
		for _, x := range v {
			f := float64(x)
			sum += f
			s.Min = math.Min(s.Min, f)
			s.Max = math.Max(s.Max, f)
			if x == 0 {
				zeros++
			}
		}
		s.Mean = sum / float64(len(v))
		var ss float64
		for _, x := range v {
			d := float64(x) - s.Mean
			ss += d * d
		}
		s.Std = math.Sqrt(ss / float64(len(v)))
		s.Zeros = float64(zeros) / float64(len(v))
	})
	return s
}

// CheckInput returns nil if a batch of the given shape (in the model's data
// format) fits its input_shape, else an error of kind ErrInputShape naming
// both: what Predict checks before running (ErrConfig for a zero or nil
// Model).
func (m *Model) CheckInput(dims []int) error {
	if err := m.built(); err != nil {
		return err
	}
	return m.checkDims(dims)
}
