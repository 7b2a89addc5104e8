// Package convs keeps a model's 3x3 convolutions ready for the native
// kernels, prepared from the current values of its layers' weights and
// prepared again when a value is replaced (training, SetValue): what
// gomlx_vgg's native engine and package tape's Recorder share.
package convs

import (
	"errors"
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
)

// Conv is a layer's convolution, with the weight tensors it was made from.
// VGG's kernels (output channels a multiple of 64) are read in place from the
// kernel's tensor, which Kernel keeps: no second copy of the weights.
type Conv struct {
	Kernel, Bias *tensors.Tensor
	CV           *kernels.Conv3x3
}

// Source is where a Set's weights come from.
type Source struct {
	// Model names the model in errors ("gomlx_vgg: MODEL: ...").
	Model fmt.Stringer
	// Kernels prepares the convolutions.
	Kernels kernels.Kernels
	// Weights returns a layer's current kernel and bias tensors.
	Weights func(layer string) (kernel, bias *tensors.Tensor, err error)
	// CheckFinite returns an error if a weight tensor holds NaN or ±Inf (the
	// kernels' ReLU would hide a NaN weight: max(NaN, 0) is 0 in SIMD).
	CheckFinite func(layer, what string, t *tensors.Tensor) error
}

// Set is the prepared convolutions of one model, by layer name.
type Set map[string]*Conv

// Prepare makes ready the named layers' convolutions whose weights changed
// since they were prepared (all of them the first time), on all cores.
func (s Set) Prepare(src Source, layers []string) error {
	prepared := make([]*Conv, len(layers))
	errs := make([]error, len(layers))
	kernels.ForEach(len(layers), func(i int) { prepared[i], errs[i] = s.prepare(src, layers[i]) })
	for i, p := range prepared {
		if errs[i] != nil {
			return errs[i] // the first layer's, in order
		}
		s[layers[i]] = p
	}
	return nil
}

// prepare returns the layer's convolution: the one in s if the weights are
// still the tensors it was made from, else a new one. It only reads s, so
// Prepare runs it for several layers at once.
func (s Set) prepare(src Source, layer string) (*Conv, error) {
	kt, bt, err := src.Weights(layer)
	if err != nil {
		return nil, err
	}
	if p := s[layer]; p != nil && p.Kernel == kt && p.Bias == bt {
		return p, nil
	}
	d := kt.Shape().Dimensions
	if len(d) != 4 || d[0] != 3 || d[1] != 3 || kt.DType() != dtypes.Float32 {
		return nil, fmt.Errorf("gomlx_vgg: %s: %s/kernel has shape %s, want (Float32)[3 3 C O]", src.Model, layer, kt.Shape())
	}
	if err := errors.Join(src.CheckFinite(layer, "kernel", kt), src.CheckFinite(layer, "bias", bt)); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s: %w", src.Model, err)
	}
	var cv *kernels.Conv3x3
	var convErr, biasErr error
	err = tensors.ConstFlatData(kt, func(k []float32) {
		biasErr = tensors.ConstFlatData(bt, func(b []float32) { cv, convErr = src.Kernels.NewConv3x3(k, b, d[2], d[3]) })
	})
	if err = errors.Join(err, biasErr, convErr); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s: preparing %s: %w", src.Model, layer, err)
	}
	return &Conv{Kernel: kt, Bias: bt, CV: cv}, nil
}
