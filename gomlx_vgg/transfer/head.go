package transfer

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/layers/regularizer"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/gomlx_vgg/internal/shape"
)

// The head's variables, as HeadLogits creates them (GoMLX's layers.Dense
// keeps its variables in a "dense" scope).
const (
	varConvKernel   = "/" + headConv + "/kernel"
	varConvBias     = "/" + headConv + "/bias"
	varDenseWeights = "/" + headDense + "/dense/weights"
	varDenseBiases  = "/" + headDense + "/dense/biases"
	varOutWeights   = "/" + headOut + "/dense/weights"
	varOutBiases    = "/" + headOut + "/dense/biases"
)

// headVars lists the head's variables in HeadLogits' order.
var headVars = []string{varConvKernel, varConvBias, varDenseWeights, varDenseBiases, varOutWeights, varOutBiases}

// nativeHead runs the head (HeadLogits: conv2d_1 … dense_2) forward and
// backward on gomlx_vgg's native kernels, as tape does the base:
//
//   - conv2d_1, a 3x3 'valid' convolution with ReLU, is the 'same'
//     convolution's output without its border (the native 3x3 kernels), its
//     gradients those of the 'same' convolution for an output gradient that
//     is zero on the border (kernels.Conv3x3Grads, and the flipped kernel's
//     convolution for the input's);
//   - max_pooling2d_1 is kernels.MaxPool2x2 and its gradient;
//   - dense_1 and dense_2 are kernels.Dense and kernels.DenseGrads;
//   - dropout_1 is GoMLX's own (layers.DropoutStatic, in a graph of its own
//     on the store's random state, as in HeadLogits): the same random numbers
//     as a step through the graph, and the same state in checkpoints;
//   - the loss is the mean sparse categorical cross-entropy of the logits,
//     as loss.SparseCategoricalCrossEntropyLogits, summed in float64.
//
// It keeps its activations between forward and backward and runs one step at
// a time.
type nativeHead struct {
	s       *Stacked
	ks      kernels.Kernels
	dropout *model.Exec // nil without dropout

	// The activations of the last forward pass (NHWC), kept for backward.
	n, h, w, c int             // the features' shape
	features   *tensors.Tensor // the features (the caller's: read, never changed)
	same       []float32       // conv2d_1 as a 'same' convolution (n, h, w, f), ReLU'd
	conv       []float32       // conv2d_1's output (n, h-2, w-2, f)
	pool       []float32       // max_pooling2d_1's output: flatten_1's (n, flat)
	hidden     []float32       // dense_1's output (n, units), ReLU'd
	dropped    []float32       // dropout_1's output (n, units)
	logits     []float32       // (n, classes)
}

// nativeHeadOK reports why the head cannot run on the native kernels, or nil:
// it needs the pure-Go backend (elsewhere GoMLX's own kernels are fast), and
// no weight regularization on its dense layers (which only the graph's loss
// adds).
func (s *Stacked) nativeHeadOK() error {
	if s.backend.Name() != gobackend.GetBackend().Name() {
		return fmt.Errorf("the head runs natively only on the pure-Go backend, not %s", s.backend.Name())
	}
	for _, l := range []string{headDense, headOut} {
		if regularizer.FromScope(s.store.RootScope().In("%s", l).In("dense")) != nil {
			return fmt.Errorf("%s has weight regularization, which the native head does not compute", l)
		}
	}
	return nil
}

// newNativeHead returns s's head on the kernels ks.
func (s *Stacked) newNativeHead(ks kernels.Kernels) (*nativeHead, error) {
	if err := s.nativeHeadOK(); err != nil {
		return nil, err
	}
	nh := &nativeHead{s: s, ks: ks}
	if s.dropout > 0 {
		var err error
		nh.dropout, err = model.NewExec(s.backend, s.store, func(scope *model.Scope, x *Node) *Node {
			scope.Store().SetTraining(x.Graph(), true)
			return layers.DropoutStatic(scope, x, s.dropout)
		})
		if err != nil {
			return nil, err
		}
	}
	return nh, nil
}

// finalize frees the head's graph.
func (nh *nativeHead) finalize() {
	if nh != nil && nh.dropout != nil {
		nh.dropout.Finalize()
	}
}

// variables returns the current values of the head's variables (headVars).
func (nh *nativeHead) variables() ([]*tensors.Tensor, error) {
	vals := make([]*tensors.Tensor, len(headVars))
	for i, p := range headVars {
		v := nh.s.store.GetVariable(p)
		if v == nil {
			return nil, fmt.Errorf("internal: the head has no variable %s", p)
		}
		var err error
		if vals[i], err = v.Value(); err != nil {
			return nil, fmt.Errorf("head variable %s: %w", p, err)
		}
	}
	return vals, nil
}

// withFlat calls fn with the flat float32 data of ts, read only.
func withFlat(ts []*tensors.Tensor, fn func(data [][]float32) error) error {
	data := make([][]float32, len(ts))
	var rec func(i int) error
	rec = func(i int) error {
		if i == len(ts) {
			return fn(data)
		}
		var err error
		if cerr := tensors.ConstFlatData(ts[i], func(d []float32) { data[i] = d; err = rec(i + 1) }); cerr != nil {
			return cerr
		}
		return err
	}
	return rec(0)
}

// grow returns s with length n, reallocated if its capacity is short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// forward runs the head on features (n, h, w, c) in the training phase
// (dropout on) and keeps its activations, and the features, for backward;
// the logits are in nh.logits.
func (nh *nativeHead) forward(features *tensors.Tensor) error {
	s := nh.s
	d := features.Shape().Dimensions
	if f := s.FeatureShape(); len(d) != 4 || d[1] != f[0] || d[2] != f[1] || d[3] != f[2] || features.DType() != dtypes.Float32 {
		return fmt.Errorf("head: features %v, want float32 (batch, %d, %d, %d)", shape.Of(features), f[0], f[1], f[2])
	}
	nh.n, nh.h, nh.w, nh.c = d[0], d[1], d[2], d[3]
	nh.features = features
	vals, err := nh.variables()
	if err != nil {
		return err
	}
	if err := withFlat(append(vals[:4:4], features), func(v [][]float32) error {
		return nh.hiddenLayers(v[4], v[0], v[1], v[2], v[3])
	}); err != nil {
		return err
	}
	copy(nh.dropped, nh.hidden)
	if nh.dropout != nil {
		hidden := tensors.FromFlatDataAndDimensions(append([]float32(nil), nh.hidden...), nh.n, s.units)
		outs, err := nh.dropout.Exec(hidden)
		if err != nil {
			return fmt.Errorf("head: %s: %w", headDropout, err)
		}
		err = tensors.ConstFlatData(outs[0], func(d []float32) { copy(nh.dropped, d) })
		outs[0].FinalizeAll()
		if err != nil {
			return err
		}
	}
	return withFlat(vals[4:], func(v [][]float32) error {
		if err := nh.ks.Dense(nh.logits, nh.dropped, v[0], v[1], nh.n, s.units, s.classes, false); err != nil {
			return fmt.Errorf("head: %s: %w", headOut, err)
		}
		return nil
	})
}

// hiddenLayers runs conv2d_1 … dense_1 on the features' data x, with the
// variables' data, and sizes the activations' buffers.
func (nh *nativeHead) hiddenLayers(x, convK, convB, denseW, denseB []float32) error {
	s, ks := nh.s, nh.ks
	n, h, w, c, f := nh.n, nh.h, nh.w, nh.c, s.filters
	ch, cw := h-2, w-2
	ph, pw := ch/2, cw/2
	flat := ph * pw * f
	nh.same = grow(nh.same, n*h*w*f)
	nh.conv = grow(nh.conv, n*ch*cw*f)
	nh.pool = grow(nh.pool, n*flat)
	nh.hidden = grow(nh.hidden, n*s.units)
	nh.dropped = grow(nh.dropped, n*s.units)
	nh.logits = grow(nh.logits, n*s.classes)
	cv, err := ks.NewTransientConv3x3(convK, convB, c, f)
	if err == nil {
		err = cv.Apply(nh.same, x, n, h, w)
	}
	if err != nil {
		return fmt.Errorf("head: %s: %w", headConv, err)
	}
	interior(nh.conv, nh.same, n, h, w, f, false)
	if err := ks.MaxPool2x2(nh.pool, nh.conv, n, ch, cw, f); err != nil {
		return fmt.Errorf("head: %s: %w", headPool, err)
	}
	if err := ks.Dense(nh.hidden, nh.pool, denseW, denseB, n, flat, s.units, true); err != nil {
		return fmt.Errorf("head: %s: %w", headDense, err)
	}
	return nil
}

// interior copies between a (n, h, w, c) image's interior, without its
// one-pixel border, and a (n, h-2, w-2, c) one: from big to small, or (toBig)
// from small to big with a zero border.
func interior(small, big []float32, n, h, w, c int, toBig bool) {
	kernels.ForEach(n*h, func(r int) {
		img, y := r/h, r%h
		row := big[r*w*c : (r+1)*w*c]
		if y == 0 || y == h-1 {
			if toBig {
				clear(row)
			}
			return
		}
		in := small[((img*(h-2)+y-1)*(w-2))*c : ((img*(h-2)+y)*(w-2))*c]
		if toBig {
			clear(row[:c])
			copy(row[c:(w-1)*c], in)
			clear(row[(w-1)*c:])
		} else {
			copy(in, row[c:(w-1)*c])
		}
	})
}

// backward returns the mean cross-entropy loss of the last forward pass's
// logits for labels, the gradients of the head's variables (headVars order)
// and, if inputGrad, the gradient with respect to the features (else nil).
func (nh *nativeHead) backward(labels []int32, inputGrad bool) (loss float32, grads []*tensors.Tensor, dFeatures *tensors.Tensor, err error) {
	s, ks := nh.s, nh.ks
	n, h, w, c, f := nh.n, nh.h, nh.w, nh.c, s.filters
	if len(labels) != n {
		return 0, nil, nil, fmt.Errorf("head: %d labels for a batch of %d", len(labels), n)
	}
	ch, cw := h-2, w-2
	flat := (ch / 2) * (cw / 2) * f
	// d logits: (softmax - one hot) / n.
	dLogits := make([]float32, n*s.classes)
	var total float64
	for i := range n {
		row := nh.logits[i*s.classes : (i+1)*s.classes]
		top := math.Inf(-1)
		for _, v := range row {
			top = max(top, float64(v))
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(float64(v) - top)
		}
		y := int(labels[i])
		total += top + math.Log(sum) - float64(row[y])
		for j, v := range row {
			p := math.Exp(float64(v)-top) / sum
			if j == y {
				p--
			}
			dLogits[i*s.classes+j] = float32(p / float64(n))
		}
	}
	loss = float32(total / float64(n))
	if math.IsNaN(total) || math.IsInf(total, 0) {
		return 0, nil, nil, errors.New("head: the loss is not finite")
	}
	vals, err := nh.variables()
	if err != nil {
		return 0, nil, nil, err
	}
	gdata := make([][]float32, len(vals))
	for i, v := range vals {
		gdata[i] = make([]float32, v.Shape().Size())
	}
	var dx []float32
	err = withFlat(append(vals[:len(vals):len(vals)], nh.features), func(v [][]float32) error {
		x := v[len(vals)]
		// dense_2, dropout_1 (its outputs are the kept inputs scaled: the
		// gradient of a dropped one is 0), dense_1 and its ReLU.
		dDropped := make([]float32, n*s.units)
		if err := ks.DenseGrads(dDropped, gdata[4], gdata[5], nh.dropped, v[4], dLogits, n, s.units, s.classes); err != nil {
			return fmt.Errorf("%s: %w", headOut, err)
		}
		if nh.dropout != nil {
			scale := float32(1 / (1 - s.dropout))
			for i, o := range nh.dropped {
				if o == 0 && nh.hidden[i] != 0 {
					dDropped[i] = 0
				} else {
					dDropped[i] *= scale
				}
			}
		}
		if err := kernels.ReluGrad(dDropped, nh.hidden); err != nil {
			return err
		}
		dPool := make([]float32, n*flat)
		if err := ks.DenseGrads(dPool, gdata[2], gdata[3], nh.pool, v[2], dDropped, n, flat, s.units); err != nil {
			return fmt.Errorf("%s: %w", headDense, err)
		}
		// max_pooling2d_1, conv2d_1's ReLU and its convolution, as a 'same'
		// one whose border outputs have no gradient.
		dConv := make([]float32, n*ch*cw*f)
		if err := kernels.MaxPool2x2Grad(dConv, dPool, nh.conv, n, ch, cw, f); err != nil {
			return fmt.Errorf("%s: %w", headPool, err)
		}
		if err := kernels.ReluGrad(dConv, nh.conv); err != nil {
			return err
		}
		dSame := make([]float32, n*h*w*f)
		interior(dConv, dSame, n, h, w, f, true)
		if err := ks.Conv3x3Grads(gdata[0], gdata[1], x, dSame, n, h, w, c, f); err != nil {
			return fmt.Errorf("%s: %w", headConv, err)
		}
		if !inputGrad {
			return nil
		}
		flipped := make([]float32, 9*c*f)
		if err := kernels.FlipKernel(flipped, v[0], c, f); err != nil {
			return err
		}
		back, err := ks.NewTransientConv3x3(flipped, make([]float32, c), f, c)
		if err != nil {
			return err
		}
		dx = make([]float32, n*h*w*c)
		return back.ApplyLinear(dx, dSame, n, h, w)
	})
	if err != nil {
		return 0, nil, nil, fmt.Errorf("head backward: %w", err)
	}
	grads = make([]*tensors.Tensor, len(vals))
	for i, v := range vals {
		grads[i] = tensors.FromFlatDataAndDimensions(gdata[i], v.Shape().Dimensions...)
	}
	if inputGrad {
		dFeatures = tensors.FromFlatDataAndDimensions(dx, n, h, w, c)
	}
	return loss, grads, dFeatures, nil
}
