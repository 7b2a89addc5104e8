package gomlx_vgg

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/tensors"
)

// NonFiniteError reports NaN or infinite values where VGG needs finite ones: in
// the input, in a layer's weights, or in an output. Every engine reports them
// alike: the native kernels' ReLU and max pooling would turn a NaN into 0
// unseen, so weights are checked when packed and inputs before each run; the
// GoMLX graph propagates them, and a non-finite output is traced back to its
// source.
type NonFiniteError struct {
	// Layer is the layer ("input_1" for the input); What is "input", "kernel",
	// "bias" or "output".
	Layer, What string
	// NaN and Inf count the values; First is the flat index of the first one.
	NaN, Inf, First int
}

func (e *NonFiniteError) Error() string {
	return fmt.Sprintf("layer %s: %s has non-finite values (%d NaN, %d Inf; first at flat index %d)", e.Layer, e.What, e.NaN, e.Inf, e.First)
}

// checkFinite returns a *NonFiniteError if v holds NaN or ±Inf.
func checkFinite(layer, what string, v []float32) error {
	if allFinite(v) {
		return nil
	}
	e := NonFiniteError{Layer: layer, What: what, First: -1}
	for i, x := range v {
		f := float64(x)
		switch {
		case math.IsNaN(f):
			e.NaN++
		case math.IsInf(f, 0):
			e.Inf++
		default:
			continue
		}
		if e.First < 0 {
			e.First = i
		}
	}
	if e.First < 0 {
		return nil
	}
	return &e
}

// allFinite reports whether v holds no NaN or ±Inf, without a branch per
// value (VGG19's 80 MB of weights in a few ms, the counting loop took 40):
// a value's exponent bits plus one exponent step carry into the sign bit
// exactly when they are all ones.
func allFinite(v []float32) bool {
	var acc uint32
	for _, x := range v {
		acc |= math.Float32bits(x)&0x7f800000 + 0x00800000
	}
	return acc&0x80000000 == 0
}

// CheckFinite returns a *NonFiniteError naming layer and what ("input",
// "kernel", "bias", "output") if the float32 tensor t holds NaN or ±Inf, else
// nil: the check every engine makes on its inputs, weights and outputs.
func CheckFinite(layer, what string, t *tensors.Tensor) error {
	var err error
	tensors.ConstFlatData(t, func(v []float32) { err = checkFinite(layer, what, v) })
	return err
}

// traceNonFinite explains a non-finite output: the first layer up to last, the
// first output that has them (in network order), whose weights are not finite,
// or that output itself when every weight is (an overflow). m.mu is held.
func (m *Model) traceNonFinite(last string, output error) error {
	for _, l := range m.layers[1:] {
		if l.Params > 0 {
			kt, bt, err := m.variableValues(l.Name)
			if err != nil {
				return err
			}
			if err := CheckFinite(l.Name, "kernel", kt); err != nil {
				return err
			}
			if err := CheckFinite(l.Name, "bias", bt); err != nil {
				return err
			}
		}
		if l.Name == last {
			break
		}
	}
	return output
}
