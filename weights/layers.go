package weights

import (
	"errors"
	"fmt"
)

// InputLayerName is the name Keras gives a model's input layer, and the name
// of a frozen model's input node.
const InputLayerName = "input_1"

// ClassifierLayerName is the name of VGG's last Dense layer, the one whose
// activation is classifier_activation (softmax by default) instead of ReLU.
const ClassifierLayerName = "predictions"

// ErrLayerInput is matched by OutputDims' errors: a layer's input that its
// weights or its class cannot take.
var ErrLayerInput = errors.New("weights: layer input does not fit")

// OutputDims is every layer kind's shape rule, written once: the output
// dimensions of a layer of class c on an input of dims in (batch first,
// channels last; a negative dimension is unknown, as Keras' None), where
// kernel is its kernel's shape (Conv2D (kh, kw, in, out), Dense (in, out);
// nil for layers without weights) and valid says a Conv2D has padding
// 'valid' (else 'same'). MaxPooling2D is 2x2 with stride 2, as in VGG.
//
// The error (ErrLayerInput) says what does not fit: a kernel for other
// channels, a rank the class cannot take, a Flatten of an unknown size, an
// output with no pixels left.
func OutputDims(c Class, kernel []int, valid bool, in []int) ([]int, error) {
	rank4 := len(in) == 4
	next := append([]int(nil), in...)
	switch c {
	case InputLayer, Dropout:
	case Conv2D:
		if !rank4 || len(kernel) != 4 || (in[3] >= 0 && in[3] != kernel[2]) {
			return nil, fmt.Errorf("%w: kernel %v on input %v", ErrLayerInput, kernel, in)
		}
		if valid {
			for a := 1; a <= 2; a++ {
				if next[a] >= 0 {
					next[a] -= kernel[a-1] - 1
				}
			}
		}
		next[3] = kernel[3]
	case MaxPooling2D:
		if !rank4 {
			return nil, fmt.Errorf("%w: pooling on input %v", ErrLayerInput, in)
		}
		for a := 1; a <= 2; a++ {
			if next[a] >= 0 {
				next[a] /= 2
			}
		}
	case Flatten:
		size := 1
		for _, d := range in[1:] {
			if d < 0 {
				return nil, fmt.Errorf("%w: flattening %v: its input needs a fixed size", ErrLayerInput, in)
			}
			size *= d
		}
		next = []int{in[0], size}
	case Dense:
		if len(in) != 2 || len(kernel) != 2 || (in[1] >= 0 && in[1] != kernel[0]) {
			return nil, fmt.Errorf("%w: kernel %v on input %v", ErrLayerInput, kernel, in)
		}
		next = []int{in[0], kernel[1]}
	case GlobalAveragePooling2D, GlobalMaxPooling2D:
		if !rank4 {
			return nil, fmt.Errorf("%w: pooling on input %v", ErrLayerInput, in)
		}
		next = []int{in[0], in[3]}
	default:
		return nil, fmt.Errorf("%w: no shape rule for class %s", ErrLayerInput, c)
	}
	for _, d := range next[1:] {
		if d == 0 {
			return nil, fmt.Errorf("%w: input %v gives an empty output %v", ErrLayerInput, in, next)
		}
	}
	return next, nil
}
