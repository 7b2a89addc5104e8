package gomlx_vgg

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/weights"
)

// Tape is a forward pass of the model with the native kernels (Model.Record)
// that keeps the activations its backward pass needs, so that Backward
// returns the gradients of the convolutions' kernels and biases for a
// gradient of the output: training VGG's layers at the native kernels' speed
// on the pure-Go backend, where GoMLX's graph would run its own, slower,
// matrix products. A head on the output keeps GoMLX's autodiff: its gradient
// with respect to Output is what Backward takes.
//
// A Tape uses buffers of its model that the model's next Record reuses: use
// it before recording again.
type Tape struct {
	m      *Model
	layers []Layer // run, input_1 excluded
	first  int     // index in layers of the first layer Backward differentiates
	acts   []tapeAct
	grads  []string
	out    *tensors.Tensor
}

// tapeAct is a kept activation (NHWC).
type tapeAct struct {
	data       []float32
	n, h, w, c int
}

// Gradients are a layer's kernel and bias gradients, in the shapes of its
// variables ((3, 3, C, O) and (O)).
type Gradients struct {
	Kernel, Bias *tensors.Tensor
}

// Recordable reports why Record cannot run on this model, or nil: it needs
// EngineNative, the channels_last data format and a model of convolutions and
// max pooling only (include_top=False without global pooling, or cut at a
// conv or pooling layer).
func (m *Model) Recordable() error {
	if err := m.built(); err != nil {
		return err
	}
	switch {
	case m.Engine() != EngineNative:
		return withKind(ErrNotRecordable, fmt.Errorf("gomlx_vgg: %s: recording needs the native engine, this model runs %s", m, m.Engine()))
	case m.cfg.dataFormat != weights.ChannelsLast:
		return withKind(ErrNotRecordable, fmt.Errorf("gomlx_vgg: %s: recording needs channels_last data", m))
	}
	for _, l := range m.layers[1 : m.outputIndex()+1] {
		if l.Class != weights.Conv2D && l.Class != weights.MaxPooling2D {
			return withKind(ErrNotRecordable, fmt.Errorf("gomlx_vgg: %s: recording runs Conv2D and MaxPooling2D layers only, not %s (%s)", m, l.Name, l.Class))
		}
	}
	return nil
}

// Record runs the model on a preprocessed batch x (batch, H, W, 3) with the
// native kernels and keeps what Backward needs to return the gradients of the
// named Conv2D layers (none: a forward pass only, as Predict). Activations
// are kept from the input of the first of them on.
func (m *Model) Record(x *tensors.Tensor, grads ...string) (*Tape, error) {
	if err := m.Recordable(); err != nil {
		return nil, err
	}
	if x == nil || x.DType() != dtypes.Float32 {
		return nil, withKind(ErrInputShape, fmt.Errorf("gomlx_vgg: %s: Record needs a float32 input, got %v", m, shapeOf(x)))
	}
	dims := x.Shape().Dimensions
	if err := m.checkDims(dims); err != nil {
		return nil, err
	}
	if err := checkFiniteTensor(weights.InputLayerName, "input", x); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s on input %v: %w", m, dims, err)
	}
	layers := m.layers[1 : m.outputIndex()+1]
	t := &Tape{m: m, layers: layers, first: len(layers), grads: slices.Clone(grads)}
	for _, name := range grads {
		i := slices.IndexFunc(layers, func(l Layer) bool { return l.Name == name })
		if i < 0 || layers[i].Class != weights.Conv2D {
			return nil, withKind(ErrUnknownLayer, fmt.Errorf("gomlx_vgg: %s: no Conv2D layer %q to differentiate", m, name))
		}
		t.first = min(t.first, i)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.native.convs == nil {
		m.native.convs = map[string]*nativeConv{}
	}
	if err := m.store.InitializeVariables(m.backend, nil); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s: initialising variables: %w", m, err)
	}
	if err := m.prepareConvs(layers); err != nil {
		return nil, err
	}
	var runErr error
	err := tensors.ConstFlatData(x, func(xs []float32) { runErr = t.forward(xs, dims) })
	if err = errors.Join(err, runErr); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s on input %v: %w", m, dims, err)
	}
	return t, nil
}

// tapeBuffer returns the model's kept buffer i, with room for size values.
func (m *Model) tapeBuffer(i, size int) []float32 {
	for len(m.native.tape) <= i {
		m.native.tape = append(m.native.tape, nil)
	}
	if cap(m.native.tape[i]) < size {
		m.native.tape[i] = make([]float32, size)
	}
	return m.native.tape[i][:size]
}

// forward runs t.layers on xs; acts[i+1] is layers[i]'s output, acts[0] the
// input, kept in the model's tape buffers from layers[first]'s input on
// (before, in the two buffers Predict uses in turn).
func (t *Tape) forward(xs []float32, dims []int) error {
	m := t.m
	t.acts = make([]tapeAct, len(t.layers)+1)
	a := tapeAct{data: xs, n: dims[0], h: dims[1], w: dims[2], c: dims[3]}
	if t.first == 0 {
		a.data = m.tapeBuffer(0, len(xs))
		copy(a.data, xs)
	}
	t.acts[0] = a
	for i, l := range t.layers {
		if err := m.ctx.Err(); err != nil {
			return fmt.Errorf("stopped before layer %s: %w", l.Name, err)
		}
		next := a
		if l.Class == weights.MaxPooling2D {
			next.h, next.w = a.h/2, a.w/2
		} else {
			next.c = m.native.convs[l.Name].cv.O
		}
		size := next.n * next.h * next.w * next.c
		if i+1 >= t.first {
			next.data = m.tapeBuffer(i+1, size)
		} else {
			next.data = m.buffer(i%2, size)
		}
		var err error
		if l.Class == weights.MaxPooling2D {
			err = m.cfg.kernels.MaxPool2x2(next.data, a.data, a.n, a.h, a.w, a.c)
		} else {
			err = m.native.convs[l.Name].cv.Apply(next.data, a.data, a.n, a.h, a.w)
		}
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Name, err)
		}
		t.acts[i+1], a = next, next
	}
	t.out = tensors.FromShape(shapes.Make(dtypes.Float32, a.n, a.h, a.w, a.c))
	tensors.MustMutableFlatData(t.out, func(d []float32) { copy(d, a.data) })
	if err := checkFiniteTensor(t.layers[len(t.layers)-1].Name, "output", t.out); err != nil {
		return m.traceNonFinite(t.layers[len(t.layers)-1].Name, err)
	}
	return nil
}

// Output is the model's output (batch, H, W, C) for the recorded input.
func (t *Tape) Output() *tensors.Tensor { return t.out }

// Backward returns the gradients of the layers named in Record, by layer,
// for dOut, the gradient of a loss with respect to Output (same shape). It
// runs the chain rule back through the ReLUs, convolutions and max pooling
// with the native kernels: a convolution's kernel gradient is one matrix
// product over every pixel (kernels.Conv3x3Grads), its input gradient the
// convolution of the output gradient with the flipped kernel (Winograd where
// the forward pass has it), and max pooling's gradient goes to each window's
// first maximum, as in Keras and PyTorch. It stops at the first named layer.
func (t *Tape) Backward(dOut *tensors.Tensor) (map[string]Gradients, error) {
	m := t.m
	last := t.acts[len(t.acts)-1]
	if dOut == nil || dOut.DType() != dtypes.Float32 || !slices.Equal(dOut.Shape().Dimensions, []int{last.n, last.h, last.w, last.c}) {
		return nil, withKind(ErrInputShape, fmt.Errorf("gomlx_vgg: %s: Backward needs a float32 gradient of the output's shape %v, got %v",
			m, []int{last.n, last.h, last.w, last.c}, shapeOf(dOut)))
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[string]Gradients, len(t.grads))
	if t.first == len(t.layers) {
		return out, nil
	}
	dy := m.buffer(0, len(last.data))
	if err := tensors.ConstFlatData(dOut, func(d []float32) { copy(dy, d) }); err != nil {
		return nil, err
	}
	var flipped []float32
	for i := len(t.layers) - 1; i >= t.first; i-- {
		l := t.layers[i]
		if err := m.ctx.Err(); err != nil {
			return nil, fmt.Errorf("gomlx_vgg: %s: backward stopped before layer %s: %w", m, l.Name, err)
		}
		in, y := t.acts[i], t.acts[i+1]
		dx := m.buffer((len(t.layers)-i)%2, len(in.data)) // dy is in the other one
		var err error
		if l.Class == weights.MaxPooling2D {
			err = kernels.MaxPool2x2Grad(dx, dy, in.data, in.n, in.h, in.w, in.c)
		} else {
			nc := m.native.convs[l.Name]
			if err = kernels.ReluGrad(dy, y.data); err != nil {
				break
			}
			if slices.Contains(t.grads, l.Name) {
				g := Gradients{Kernel: tensors.FromShape(nc.kernel.Shape()), Bias: tensors.FromShape(nc.bias.Shape())}
				tensors.MustMutableFlatData(g.Kernel, func(dk []float32) {
					tensors.MustMutableFlatData(g.Bias, func(db []float32) {
						err = m.cfg.kernels.Conv3x3Grads(dk, db, in.data, dy, in.n, in.h, in.w, in.c, y.c)
					})
				})
				out[l.Name] = g
			}
			if err == nil && i > t.first {
				flipped = grow(flipped, 9*in.c*y.c)
				var flipErr error
				err = tensors.ConstFlatData(nc.kernel, func(k []float32) { flipErr = kernels.FlipKernel(flipped, k, in.c, y.c) })
				err = errors.Join(err, flipErr)
				var back *kernels.Conv3x3
				if err == nil {
					back, err = m.cfg.kernels.NewConv3x3(flipped, make([]float32, in.c), y.c, in.c)
				}
				if err == nil {
					err = back.ApplyLinear(dx, dy, in.n, in.h, in.w)
				}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("gomlx_vgg: %s: backward through layer %s: %w", m, l.Name, err)
		}
		dy = dx
	}
	return out, nil
}

// grow returns s with length n, reallocated if its capacity is short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func shapeOf(x *tensors.Tensor) any {
	if x == nil {
		return "nil"
	}
	return x.Shape()
}
