// Package adapt turns vggnb's models into freeze.Nets, the networks that
// freeze writes as ONNX: a VGG model (VGG), the MNIST MLP (MLP, batch norm
// folded into the dense layers), and transfer learning's stacked models and
// surgeries (Stacked, Surgery). The exporter, the reader and the runner are
// package freeze's and know none of these models.
package adapt

import (
	"errors"
	"fmt"
	"math"
	"path"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/gomlx_vgg/transfer"
	"github.com/vggnb/vggnb/internal/errkind"
	"github.com/vggnb/vggnb/weights"
)

// VGG is the network of a VGG model up to its output (gomlx_vgg.Model.Truncate
// cuts it), with its pooling and top as built. The input is NHWC whatever the
// model's data format (a channels_first model flattens in (C, H, W) order,
// which the frozen graph keeps); H and W are dynamic unless the top fixes them.
func VGG(m *gomlx_vgg.Model) (*freeze.Net, error) {
	if m == nil {
		return nil, errkind.With(gomlx_vgg.ErrConfig, errors.New("freeze: a nil VGG model"))
	}
	all := m.Layers()
	n := &freeze.Net{Name: m.Name, Title: m.Title(), Meta: vggMeta(m)}
	in := all[0].OutputShape
	if m.DataFormat() == weights.ChannelsFirst {
		in = []int{in[0], in[2], in[3], in[1]}
	}
	n.Input = []int{-1, in[1], in[2], in[3]}
	fixed := false
	for _, l := range all[1:] {
		fl, err := vggLayer(m, l)
		if err != nil {
			return nil, err
		}
		fixed = fixed || l.Class == weights.Flatten
		n.Layers = append(n.Layers, fl)
	}
	if !fixed {
		n.Input[1], n.Input[2] = -1, -1
	}
	if m.Output() == weights.ClassifierLayerName {
		n.Labels = imageNetLabels(n.Layers[len(n.Layers)-1])
	}
	return n, nil
}

// imageNetLabels are the ImageNet class names if out, a predictions layer, has
// 1000 units; else nil.
func imageNetLabels(out freeze.Layer) []string {
	if out.Bias == nil || out.Bias.Shape().Size() != 1000 {
		return nil
	}
	var labels []string
	for _, c := range imagenet.ImageNetClasses() {
		labels = append(labels, c.Name)
	}
	return labels
}

// vggMeta is the metadata of a VGG model's weights.
func vggMeta(m *gomlx_vgg.Model) map[string]string {
	meta := map[string]string{"vggnb.weights": m.WeightsSource(), "vggnb.synthetic": fmt.Sprint(m.Synthetic())}
	if m.Synthetic() {
		meta["vggnb.notice"] = weights.SyntheticNotice
	}
	return meta
}

// vggLayer is layer l of the VGG model m, with its weights.
func vggLayer(m *gomlx_vgg.Model, l gomlx_vgg.Layer) (freeze.Layer, error) {
	fl := freeze.Layer{Name: l.Name, Class: l.Class, Same: true, Activation: l.Activation,
		ChannelsFirst: m.DataFormat() == weights.ChannelsFirst}
	if fl.Activation == "" {
		fl.Activation = freeze.ActivationRelu // (unused by layers without weights)
	}
	if l.Params > 0 {
		var err error
		if fl.Kernel, fl.Bias, err = m.LayerWeights(l.Name); err != nil {
			return freeze.Layer{}, fmt.Errorf("freeze: %w", err)
		}
	}
	return fl, nil
}

// variable reads the value of the variable at path in store.
func variable(store *model.Store, p string) (*tensors.Tensor, error) {
	v := store.GetVariable(p)
	if v == nil {
		return nil, fmt.Errorf("freeze: no variable %s (run or train the model once first)", p)
	}
	t, err := v.Value()
	if err != nil {
		return nil, fmt.Errorf("freeze: variable %s: %w", p, err)
	}
	return t, nil
}

// convWeights reads a Conv2D's kernel and bias under layer, as Keras names them.
func convWeights(store *model.Store, layer string) (kernel, bias *tensors.Tensor, err error) {
	if kernel, err = variable(store, path.Join("/", layer, "kernel")); err != nil {
		return nil, nil, err
	}
	bias, err = variable(store, path.Join("/", layer, "bias"))
	return kernel, bias, err
}

// denseWeights reads a GoMLX layers.Dense's weights and biases under layer.
func denseWeights(store *model.Store, layer string) (kernel, bias *tensors.Tensor, err error) {
	if kernel, err = variable(store, path.Join("/", layer, "dense", "weights")); err != nil {
		return nil, nil, err
	}
	bias, err = variable(store, path.Join("/", layer, "dense", "biases"))
	return kernel, bias, err
}

// BatchNormEpsilon is the epsilon of GoMLX's batch normalisation (norm.BatchNorm's
// default, which package mlp uses), folded into the Dense before it.
const BatchNormEpsilon = 1e-3

// MLP is the MLP in the test phase: Dense layers dense_1 … dense_N (relu,
// the last softmax), each hidden one's batch normalisation folded into its
// weights, dropout gone. Input (N, 784): images flattened, in [0, 1] as
// mlp.Dataset holds them. The model must have been trained or run once (its
// variables are created on first use).
func MLP(m *mlp.Model) (*freeze.Net, error) {
	if m == nil {
		return nil, errkind.With(gomlx_vgg.ErrConfig, errors.New("freeze: a nil MLP"))
	}
	store := m.Store()
	n := &freeze.Net{Name: "mlp", Labels: mlp.FashionMNISTClasses,
		Meta: map[string]string{"vggnb.steps": fmt.Sprint(m.Steps())}}
	if m.Classes != len(mlp.FashionMNISTClasses) {
		n.Labels = nil
	}
	for i := range len(m.Hidden) + 1 {
		name := fmt.Sprintf("dense_%d", i+1)
		k, b, err := denseWeights(store, name)
		if err != nil {
			return nil, err
		}
		l := freeze.Layer{Name: name, Class: weights.Dense, Kernel: k, Bias: b, Activation: freeze.ActivationRelu}
		if i == len(m.Hidden) {
			l.Activation = freeze.ActivationSoftmax
		} else if m.BatchNorm {
			if l.Kernel, l.Bias, err = foldBatchNorm(store, fmt.Sprintf("batch_normalization_%d", i+1), k, b); err != nil {
				return nil, err
			}
		}
		if i == 0 {
			n.Input = []int{-1, k.Shape().Dimensions[0]}
		}
		n.Layers = append(n.Layers, l)
	}
	var args []string
	for _, l := range n.Layers {
		args = append(args, fmt.Sprintf("%s=%d %s", l.Name, l.Bias.Shape().Size(), l.Activation))
	}
	args = append(args, fmt.Sprintf("steps=%d", m.Steps()))
	if m.BatchNorm {
		args = append(args, "batch_norm=folded")
	}
	if m.Dropout > 0 {
		args = append(args, fmt.Sprintf("dropout=%g removed", m.Dropout))
	}
	n.Title = "MLP(" + strings.Join(args, ", ") + ")"
	return n, nil
}

// foldBatchNorm returns Dense weights k, b followed by the batch normalisation
// under bn (moving averages: the test phase) as one Dense: with s = scale /
// sqrt(variance + eps), k' = k * s (per output) and b' = (b - mean) * s + offset.
func foldBatchNorm(store *model.Store, bn string, k, b *tensors.Tensor) (*tensors.Tensor, *tensors.Tensor, error) {
	vals := map[string][]float32{}
	for _, name := range []string{"scale", "offset", "mean", "variance"} {
		t, err := variable(store, path.Join("/", bn, name))
		if err != nil {
			return nil, nil, err
		}
		vals[name] = tensors.MustCopyFlatData[float32](t)
	}
	kd, bd := tensors.MustCopyFlatData[float32](k), tensors.MustCopyFlatData[float32](b)
	out := len(bd)
	if len(vals["scale"]) != out {
		return nil, nil, fmt.Errorf("freeze: %s has %d features, the Dense before it %d", bn, len(vals["scale"]), out)
	}
	s := make([]float64, out)
	for j := range out {
		s[j] = float64(vals["scale"][j]) / math.Sqrt(float64(vals["variance"][j])+BatchNormEpsilon)
		bd[j] = float32((float64(bd[j])-float64(vals["mean"][j]))*s[j] + float64(vals["offset"][j]))
	}
	for i := range kd {
		kd[i] = float32(float64(kd[i]) * s[i%out])
	}
	return tensors.FromFlatDataAndDimensions(kd, k.Shape().Dimensions...),
		tensors.FromFlatDataAndDimensions(bd, out), nil
}

// Stacked is a transfer-learning model: its VGG base up to the cut, then
// the head conv2d_1 (3x3 'valid', relu), max_pooling2d_1, flatten_1, dense_1
// (relu), dense_2 (softmax), dropout_1 gone; or the head alone (transfer.NewHead).
func Stacked(s *transfer.Stacked) (*freeze.Net, error) {
	if s == nil {
		return nil, errkind.With(gomlx_vgg.ErrConfig, errors.New("freeze: a nil transfer model"))
	}
	all := s.Layers()
	n := &freeze.Net{Name: "transfer", Title: s.Title(), Input: append([]int{-1}, all[0].OutputShape[1:]...),
		Meta: map[string]string{}}
	if s.Base != nil {
		n.Meta = vggMeta(s.Base)
	}
	nbase := len(all) - len(transfer.HeadLayers)
	for i, l := range all[1:] {
		if i+1 < nbase {
			fl, err := vggLayer(s.Base, l)
			if err != nil {
				return nil, err
			}
			n.Layers = append(n.Layers, fl)
			continue
		}
		fl := freeze.Layer{Name: l.Name, Class: l.Class, Activation: freeze.ActivationRelu}
		var err error
		switch l.Class {
		case weights.Conv2D:
			fl.Kernel, fl.Bias, err = convWeights(s.Store(), l.Name)
		case weights.Dense:
			fl.Kernel, fl.Bias, err = denseWeights(s.Store(), l.Name)
			if i+1 == len(all)-1 {
				fl.Activation = freeze.ActivationSoftmax
			}
		case weights.Dropout:
			continue // the test phase
		}
		if err != nil {
			return nil, err
		}
		n.Layers = append(n.Layers, fl)
	}
	return n, nil
}

// Surgery is the layer-surgery model: new_conv (5x5, 'same', no
// activation) on the input, then the VGG's layers from block1_pool to
// predictions.
func Surgery(s *transfer.Surgery) (*freeze.Net, error) {
	if s == nil {
		return nil, errkind.With(gomlx_vgg.ErrConfig, errors.New("freeze: a nil surgery model"))
	}
	all := s.Layers()
	n := &freeze.Net{Name: "surgery", Title: s.Title(), Input: []int{-1, all[0].OutputShape[1], all[0].OutputShape[2], all[0].OutputShape[3]},
		Meta: vggMeta(s.Base)}
	for _, l := range all[1:] {
		if l.Name == transfer.NewConv {
			fl := freeze.Layer{Name: l.Name, Class: weights.Conv2D, Same: true, Activation: freeze.ActivationLinear}
			var err error
			if fl.Kernel, fl.Bias, err = convWeights(s.Store(), l.Name); err != nil {
				return nil, err
			}
			n.Layers = append(n.Layers, fl)
			continue
		}
		fl, err := vggLayer(s.Base, l)
		if err != nil {
			return nil, err
		}
		n.Layers = append(n.Layers, fl)
	}
	n.Labels = imageNetLabels(n.Layers[len(n.Layers)-1])
	return n, nil
}
