// Package freeze turns a trained vggnb model into one ONNX file, graph and
// weights together, that another runtime (ONNX Runtime in C++, Python or the
// browser) serves: the Go version of the post "Freezing a Keras model".
//
// Everything is pure Go: the ONNX protobuf types are those of
// github.com/gomlx/compute-onnx/support/protos (generated from ONNX's own .proto
// files, needing only google.golang.org/protobuf), and no runtime is needed to
// export. The frozen graph has
//
//   - one input, input_1: float32, batch first, already preprocessed (what the
//     Keras model takes): (N, H, W, 3) for the image models, (N, 784) for the MLP;
//     N is dynamic, and so are H and W for a convolutional model without Flatten;
//   - one output named after its Keras layer: block5_pool, predictions,
//     global_average_pooling2d, dense_3, ...;
//   - the weights as initializers, in the test phase: no dropout, batch
//     normalisation folded into the Dense before it;
//   - convolutions in NCHW inside (what ONNX's Conv is), with one Transpose after
//     the input and one before the output (or before Flatten), not one per layer;
//   - opset 13 and IR version 7: accepted by Debian 12's python3-onnx 1.12 checker
//     (opset <= 17, IR <= 8) and by ONNX Runtime 1.17 and later.
//
// A Net is the network in Keras' terms (layers with weights); package
// freeze/adapt makes one from a model (adapt.VGG, MLP, Stacked, Surgery),
// Net.WriteFile writes it (atomically), Open reads a frozen file back,
// File.Summary lists its nodes and Runner runs it in GoMLX.
package freeze

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/weights"
)

// InputName is the name of every frozen graph's input, as Keras names a model's
// first input layer.
const InputName = weights.InputLayerName

// Activations a Layer can have.
const (
	ActivationLinear  = "linear"
	ActivationRelu    = "relu"
	ActivationSoftmax = "softmax"
)

// Layer is one layer of a frozen network, in Keras' terms.
type Layer struct {
	// Name is the Keras layer name; the layer's output carries it in the graph.
	Name string
	// Class is one of weights.Conv2D, MaxPooling2D, Flatten, Dense,
	// GlobalAveragePooling2D and GlobalMaxPooling2D.
	Class weights.Class
	// Kernel and Bias are the weights: Conv2D (kh, kw, in, out), Dense (in, out).
	Kernel, Bias *tensors.Tensor
	// Same is Conv2D's padding='same' (else 'valid').
	Same bool
	// Activation is ActivationLinear, ActivationRelu or ActivationSoftmax (Conv2D and Dense).
	Activation string
	// ChannelsFirst is Flatten in (C, H, W) order, as a channels_first Keras model
	// flattens; (H, W, C) otherwise.
	ChannelsFirst bool
}

// Net is a network to freeze: an input and the layers after it, the last one
// the output.
type Net struct {
	// Name is the graph's name ("vgg19", "mlp", ...).
	Name string
	// Title describes the model, as its Title method does; it becomes the ONNX
	// doc string.
	Title string
	// Input is input_1's shape, batch first; -1 is a dynamic dimension.
	Input []int
	// Layers follow the input in order.
	Layers []Layer
	// Labels name the classes of a classifier's output (nil for features).
	Labels []string
	// Meta is written as the model's metadata_props (weights source, synthetic).
	Meta map[string]string
}

// Output is the name of the output layer (the last one).
func (n *Net) Output() string { return n.Layers[len(n.Layers)-1].Name }

// OutputShape is the output's shape for a batch of input dims (no -1), checking
// that the layers fit together.
func (n *Net) OutputShape(dims ...int) ([]int, error) {
	shape, err := n.shapes(dims)
	if err != nil {
		return nil, err
	}
	return shape[len(shape)-1], nil
}

// shapes returns the input's and every layer's output shape (channels last) for
// an input of dims; -1 passes through where a layer allows it.
func (n *Net) shapes(dims []int) ([][]int, error) {
	if len(dims) != len(n.Input) {
		return nil, fmt.Errorf("freeze: %s: input_1 has shape %v, got rank %d", n.Name, n.Input, len(dims))
	}
	for i, d := range n.Input {
		if d >= 0 && dims[i] >= 0 && d != dims[i] {
			return nil, fmt.Errorf("freeze: %s: input_1 has shape %v, got %v", n.Name, n.Input, dims)
		}
	}
	cur := slices.Clone(dims)
	out := [][]int{cur}
	for _, l := range n.Layers {
		var kernel []int
		if l.Kernel != nil {
			kernel = l.Kernel.Shape().Dimensions
		}
		if l.Class == weights.Conv2D && kernel == nil {
			return nil, fmt.Errorf("freeze: %s: layer %s: a convolution without a kernel", n.Name, l.Name)
		}
		next, err := weights.OutputDims(l.Class, kernel, !l.Same, cur)
		if err != nil {
			return nil, fmt.Errorf("freeze: %s: layer %s (%s), model input %v: %w", n.Name, l.Name, l.Class, dims, err)
		}
		cur = next
		out = append(out, cur)
	}
	return out, nil
}

// check validates the net before writing it.
func (n *Net) check() error {
	if n == nil || len(n.Input) < 2 {
		return errors.New("freeze: a Net needs an input shape, batch first")
	}
	if len(n.Layers) == 0 {
		return fmt.Errorf("freeze: %s has no layers", n.Name)
	}
	if n.Input[0] != -1 {
		return fmt.Errorf("freeze: %s: input_1's batch dimension must be dynamic (-1), got %v", n.Name, n.Input)
	}
	seen := map[string]bool{InputName: true}
	for _, l := range n.Layers {
		if seen[l.Name] || l.Name == "" {
			return fmt.Errorf("freeze: %s: layer name %q is empty or repeated", n.Name, l.Name)
		}
		seen[l.Name] = true
		if l.Class == weights.Conv2D || l.Class == weights.Dense {
			if l.Kernel == nil || l.Bias == nil {
				return fmt.Errorf("freeze: %s: layer %s has no weights", n.Name, l.Name)
			}
			k := l.Kernel.Shape().Dimensions
			if b := l.Bias.Shape().Dimensions; len(b) != 1 || b[0] != k[len(k)-1] {
				return fmt.Errorf("freeze: %s: layer %s: bias %v for kernel %v", n.Name, l.Name, b, k)
			}
			switch l.Activation {
			case ActivationLinear, ActivationRelu, ActivationSoftmax:
			default:
				return fmt.Errorf("freeze: %s: layer %s: activation %q (want linear, relu or softmax)", n.Name, l.Name, l.Activation)
			}
		}
	}
	_, err := n.shapes(n.Input)
	return err
}

// CountParams is the number of weights the frozen graph holds.
func (n *Net) CountParams() int {
	total := 0
	for _, l := range n.Layers {
		if l.Kernel != nil {
			total += l.Kernel.Shape().Size() + l.Bias.Shape().Size()
		}
	}
	return total
}
