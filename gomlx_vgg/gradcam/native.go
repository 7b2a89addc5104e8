package gradcam

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/weights"
)

// nativeTop reports whether the layers after the explained one (after) run
// backward on the native kernels: on the native engine with channels_last
// data, max pooling, flatten and dense layers only (VGG's top after its last
// convolution, the layer Grad-CAM explains), dense layers with ReLU but a
// linear last one.
func nativeTop(m *gomlx_vgg.Model, after []gomlx_vgg.Layer) bool {
	if m.Engine() != gomlx_vgg.EngineNative || m.DataFormat() != weights.ChannelsLast || len(after) == 0 {
		return false
	}
	for i, l := range after {
		switch {
		case l.Class == weights.MaxPooling2D || l.Class == weights.Flatten:
		case l.Class == weights.Dense && (l.Activation == "relu" || i == len(after)-1 && l.Activation == "linear"):
		default:
			return false
		}
	}
	return true
}

// nativeGrads returns, for each class, its score and its gradient with
// respect to the explained layer's output a, on the native kernels: the
// forward pass's outputs of every later layer (outs, by name), then the chain
// rule back from the class's one-hot through the dense layers
// (kernels.DenseGrads, the input's gradient only), their ReLUs, the flatten
// and the max pooling (kernels.MaxPool2x2Grad).
func (e *Explainer) nativeGrads(a *tensors.Tensor, outs map[string]*tensors.Tensor, classes []int) (scores []float64, grads []*tensors.Tensor, err error) {
	ks, err := kernels.Lookup(e.m.NativeSIMD(), string(e.m.ConvAlgorithm()))
	if err != nil {
		return nil, nil, err
	}
	// The dense layers' kernels, once for all classes.
	dense := make([]*tensors.Tensor, len(e.after))
	for i, l := range e.after {
		if l.Class == weights.Dense {
			if dense[i], _, err = e.m.LayerWeights(l.Name); err != nil {
				return nil, nil, err
			}
		}
	}
	logits := tensors.MustCopyFlatData[float32](outs[e.after[len(e.after)-1].Name])
	for _, c := range classes {
		scores = append(scores, float64(logits[c]))
		dy := make([]float32, e.classes)
		dy[c] = 1
		for i := len(e.after) - 1; i >= 0; i-- {
			l := e.after[i]
			in := a
			if i > 0 {
				in = outs[e.after[i-1].Name]
			}
			d := in.Shape().Dimensions
			dx := make([]float32, in.Shape().Size())
			switch l.Class {
			case weights.Dense:
				kt := dense[i]
				kd := kt.Shape().Dimensions
				var derr error
				cerr := tensors.ConstFlatData(kt, func(k []float32) {
					tensors.MustConstFlatData(in, func(x []float32) { derr = ks.DenseGrads(dx, nil, nil, x, k, dy, 1, kd[0], kd[1]) })
				})
				err = errors.Join(cerr, derr)
				if err == nil && i > 0 && e.after[i-1].Class == weights.Dense { // its input went through a ReLU
					tensors.MustConstFlatData(in, func(y []float32) { err = kernels.ReluGrad(dx, y) })
				}
			case weights.Flatten:
				copy(dx, dy)
			case weights.MaxPooling2D:
				tensors.MustConstFlatData(in, func(x []float32) { err = kernels.MaxPool2x2Grad(dx, dy, x, d[0], d[1], d[2], d[3]) })
			}
			if err != nil {
				return nil, nil, fmt.Errorf("class %d: backward through %s: %w", c, l.Name, err)
			}
			dy = dx
		}
		grads = append(grads, tensors.FromFlatDataAndDimensions(dy, a.Shape().Dimensions...))
	}
	return scores, grads, nil
}
