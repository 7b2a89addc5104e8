// Package tape trains a VGG model's convolutions at the native kernels' speed:
// a Recorder runs the model's forward pass on vggnb's native kernels keeping
// the activations its backward pass needs (Record), and the Tape it returns
// gives the gradients of the convolutions' kernels and biases for a gradient
// of the output (Backward). On the pure-Go backend GoMLX's graph would run
// its own, slower, matrix products. A tape from RecordInput keeps every
// activation and gives the gradient with respect to the input for gradients
// at any layers' outputs (BackwardInput), as an image's optimization needs.
// Package transfer trains its stacked models with it, package style
// optimizes its images with it.
//
// A Recorder uses only a gomlx_vgg.Model's public API (its layers, current
// weights, kernels and context) and its own buffers.
package tape

import (
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/shape"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/internal/convs"
	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/internal/errkind"
	"github.com/vggnb/vggnb/internal/parallel"
	"github.com/vggnb/vggnb/weights"
)

// ErrNotRecordable is the kind of error (errors.Is) Recordable and New return
// for a model the native backward pass cannot run.
var ErrNotRecordable = errors.New("gomlx_vgg: model cannot be recorded")

// Recordable reports why a Recorder cannot run m, or nil: it needs
// gomlx_vgg.EngineNative, the channels_last data format and a model of
// convolutions and max pooling only (include_top=False without global
// pooling, or cut at a conv or pooling layer).
func Recordable(m *gomlx_vgg.Model) error {
	if err := m.CheckInput(nil); errors.Is(err, gomlx_vgg.ErrConfig) {
		return err // a zero or nil Model
	}
	switch {
	case m.Engine() != gomlx_vgg.EngineNative:
		return errkind.With(ErrNotRecordable, fmt.Errorf("gomlx_vgg: %s: recording needs the native engine, this model runs %s", m, m.Engine()))
	case m.DataFormat() != weights.ChannelsLast:
		return errkind.With(ErrNotRecordable, fmt.Errorf("gomlx_vgg: %s: recording needs channels_last data", m))
	}
	for _, l := range run(m) {
		if l.Class != weights.Conv2D && l.Class != weights.MaxPooling2D {
			return errkind.With(ErrNotRecordable, fmt.Errorf("gomlx_vgg: %s: recording runs Conv2D and MaxPooling2D layers only, not %s (%s)", m, l.Name, l.Class))
		}
	}
	return nil
}

// run is the layers a Recorder runs: after the input, up to the output.
func run(m *gomlx_vgg.Model) []gomlx_vgg.Layer { return m.Layers()[1:] }

// A Recorder records forward passes of one model. It keeps the convolutions
// prepared from the model's current weights (prepared again when a weight's
// value is replaced, as training does) and the buffers of the activations,
// which the next Record reuses: use a Tape before recording again. A Recorder
// runs one Record or Backward at a time.
type Recorder struct {
	m       *gomlx_vgg.Model
	kernels kernels.Kernels
	layers  []gomlx_vgg.Layer // run, input_1 excluded

	mu    sync.Mutex
	convs convs.Set
	bufs  [2][]float32 // activations not kept, used in turn
	kept  [][]float32  // kept activations, by index in acts
}

// Option changes a Recorder's settings (New).
type Option func(*options)

type options struct{ conv gomlx_vgg.ConvAlgorithm }

// ConvAlgorithm makes the Recorder run its convolutions with algorithm a
// instead of the model's (Builder.ConvAlgorithm): ConvWinograd2 for a loss
// on differences of nearly equal features, where F(4x4, 3x3)'s larger float32
// error shows (style transfer).
func ConvAlgorithm(a gomlx_vgg.ConvAlgorithm) Option { return func(o *options) { o.conv = a } }

// New returns a Recorder for m, or an error of kind ErrNotRecordable
// (Recordable). It uses m's native kernels (Builder.SIMD,
// Builder.ConvAlgorithm, unless an option says otherwise) and stops between
// layers when m's context is done.
func New(m *gomlx_vgg.Model, opts ...Option) (*Recorder, error) {
	if err := Recordable(m); err != nil {
		return nil, err
	}
	o := options{conv: m.ConvAlgorithm()}
	for _, opt := range opts {
		opt(&o)
	}
	k, err := kernels.Lookup(m.NativeSIMD(), string(o.conv))
	if err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s: %w", m, err)
	}
	return &Recorder{m: m, kernels: k, layers: run(m), convs: convs.Set{}}, nil
}

// Tape is a recorded forward pass (Recorder.Record): its Output, and the
// activations Backward needs, in its Recorder's buffers.
type Tape struct {
	r     *Recorder
	first int  // index in r.layers of the first layer Backward differentiates
	input bool // recorded for the input's gradient (RecordInput)
	acts  []act
	grads []string
	out   *tensors.Tensor
}

// act is a kept activation (NHWC).
type act struct {
	data       []float32
	n, h, w, c int
}

// Gradients are a layer's kernel and bias gradients, in the shapes of its
// variables ((3, 3, C, O) and (O)).
type Gradients struct {
	Kernel, Bias *tensors.Tensor
}

// Record runs the model on a preprocessed batch x (batch, H, W, 3) with the
// native kernels and keeps what Backward needs to return the gradients of the
// named Conv2D layers (none: a forward pass only, as Predict). Activations
// are kept from the input of the first of them on.
func (r *Recorder) Record(x *tensors.Tensor, grads ...string) (*Tape, error) {
	return r.record(x, false, grads)
}

// RecordInput runs the model on x as Record does, keeping every activation,
// for BackwardInput: the gradient with respect to x of a loss on any of the
// layers' outputs (Activation), as style transfer optimizes an image.
func (r *Recorder) RecordInput(x *tensors.Tensor) (*Tape, error) {
	return r.record(x, true, nil)
}

// record is Record, or RecordInput (input).
func (r *Recorder) record(x *tensors.Tensor, input bool, grads []string) (*Tape, error) {
	m := r.m
	if x == nil || x.DType() != dtypes.Float32 {
		return nil, errkind.With(gomlx_vgg.ErrInputShape, fmt.Errorf("gomlx_vgg: %s: Record needs a float32 input, got %v", m, shape.Of(x)))
	}
	dims := x.Shape().Dimensions
	if err := m.CheckInput(dims); err != nil {
		return nil, err
	}
	if err := gomlx_vgg.CheckFinite(weights.InputLayerName, "input", x); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s on input %v: %w", m, dims, err)
	}
	t := &Tape{r: r, first: len(r.layers), input: input, grads: slices.Clone(grads)}
	if input {
		t.first = 0
	}
	for _, name := range grads {
		i := r.layerIndex(name)
		if i < 0 || r.layers[i].Class != weights.Conv2D {
			return nil, errkind.With(gomlx_vgg.ErrUnknownLayer, fmt.Errorf("gomlx_vgg: %s: no Conv2D layer %q to differentiate", m, name))
		}
		t.first = min(t.first, i)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.prepare(); err != nil {
		return nil, err
	}
	var runErr error
	err := tensors.ConstFlatData(x, func(xs []float32) { runErr = t.forward(xs, dims) })
	if err = errors.Join(err, runErr); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s on input %v: %w", m, dims, err)
	}
	return t, nil
}

// prepare makes the convolutions whose weights changed since the last Record
// (all of them the first time), on all cores; r.mu is held.
func (r *Recorder) prepare() error {
	var names []string
	for _, l := range r.layers {
		if l.Class == weights.Conv2D {
			names = append(names, l.Name)
		}
	}
	return r.convs.Prepare(convs.Source{Model: r.m, Kernels: r.kernels, Weights: r.m.LayerWeights, CheckFinite: gomlx_vgg.CheckFinite}, names)
}

// layerIndex is the index in r.layers of the layer called name, or -1.
func (r *Recorder) layerIndex(name string) int {
	return slices.IndexFunc(r.layers, func(l gomlx_vgg.Layer) bool { return l.Name == name })
}

// buffer returns the activation buffer i (0 or 1) with room for size values.
func (r *Recorder) buffer(i, size int) []float32 {
	r.bufs[i] = grow(r.bufs[i], size)
	return r.bufs[i]
}

// keep returns the kept buffer i, with room for size values.
func (r *Recorder) keep(i, size int) []float32 {
	for len(r.kept) <= i {
		r.kept = append(r.kept, nil)
	}
	r.kept[i] = grow(r.kept[i], size)
	return r.kept[i]
}

// forward runs the layers on xs; acts[i+1] is layers[i]'s output, acts[0] the
// input, kept from layers[first]'s input on (before, in the two buffers used
// in turn); r.mu is held.
func (t *Tape) forward(xs []float32, dims []int) error {
	r := t.r
	t.acts = make([]act, len(r.layers)+1)
	a := act{data: xs, n: dims[0], h: dims[1], w: dims[2], c: dims[3]}
	if t.first == 0 {
		a.data = r.keep(0, len(xs))
		copy(a.data, xs)
	}
	t.acts[0] = a
	for i, l := range r.layers {
		if err := r.m.Context().Err(); err != nil {
			return fmt.Errorf("stopped before layer %s: %w", l.Name, err)
		}
		next := a
		if l.Class == weights.MaxPooling2D {
			next.h, next.w = a.h/2, a.w/2
		} else {
			next.c = r.convs[l.Name].CV.O
		}
		size := next.n * next.h * next.w * next.c
		if i+1 >= t.first {
			next.data = r.keep(i+1, size)
		} else {
			next.data = r.buffer(i%2, size)
		}
		var err error
		if l.Class == weights.MaxPooling2D {
			err = r.kernels.MaxPool2x2(next.data, a.data, a.n, a.h, a.w, a.c)
		} else {
			err = r.convs[l.Name].CV.Apply(next.data, a.data, a.n, a.h, a.w)
		}
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Name, err)
		}
		t.acts[i+1], a = next, next
	}
	t.out = tensors.FromShape(shapes.Make(dtypes.Float32, a.n, a.h, a.w, a.c))
	tensors.MustMutableFlatData(t.out, func(d []float32) { copy(d, a.data) })
	// The weights and the input are finite (checked above): a non-finite
	// output is an overflow.
	return gomlx_vgg.CheckFinite(r.layers[len(r.layers)-1].Name, "output", t.out)
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
	last := t.acts[len(t.acts)-1]
	if err := t.checkGrad(t.r.layers[len(t.r.layers)-1].Name, last, dOut); err != nil {
		return nil, err
	}
	grads, _, err := t.backward(map[int]*tensors.Tensor{len(t.r.layers) - 1: dOut})
	return grads, err
}

// Activation returns a copy of the named layer's recorded output (batch, H,
// W, C): any layer's on a tape from RecordInput, the output layer's and those
// from the first differentiated layer on from Record.
func (t *Tape) Activation(layer string) (*tensors.Tensor, error) {
	i := t.r.layerIndex(layer)
	if i < 0 || i+1 < t.first && i != len(t.r.layers)-1 {
		return nil, errkind.With(gomlx_vgg.ErrUnknownLayer, fmt.Errorf("gomlx_vgg: %s: no recorded output of layer %q", t.r.m, layer))
	}
	a := t.acts[i+1]
	out := tensors.FromShape(shapes.Make(dtypes.Float32, a.n, a.h, a.w, a.c))
	tensors.MustMutableFlatData(out, func(d []float32) { copy(d, a.data) })
	return out, nil
}

// BackwardInput returns the gradient with respect to the recorded input of a
// loss whose gradients with respect to the named layers' outputs are dOuts
// (each of its layer's output shape; layers not named contribute only through
// the chain rule), on a tape from RecordInput. It runs Backward's chain rule
// down to the first convolution, and that convolution's input gradient.
func (t *Tape) BackwardInput(dOuts map[string]*tensors.Tensor) (*tensors.Tensor, error) {
	m := t.r.m
	if !t.input {
		return nil, errkind.With(gomlx_vgg.ErrConfig, fmt.Errorf("gomlx_vgg: %s: BackwardInput needs a tape from RecordInput", m))
	}
	byIndex := map[int]*tensors.Tensor{}
	for name, d := range dOuts {
		i := t.r.layerIndex(name)
		if i < 0 {
			return nil, errkind.With(gomlx_vgg.ErrUnknownLayer, fmt.Errorf("gomlx_vgg: %s: no layer %q to take a gradient at", m, name))
		}
		if err := t.checkGrad(name, t.acts[i+1], d); err != nil {
			return nil, err
		}
		byIndex[i] = d
	}
	_, dx, err := t.backward(byIndex)
	if err != nil {
		return nil, err
	}
	in := t.acts[0]
	return tensors.FromFlatDataAndDimensions(dx, in.n, in.h, in.w, in.c), nil
}

// checkGrad checks that d is a float32 gradient of a's shape, the output of
// layer.
func (t *Tape) checkGrad(layer string, a act, d *tensors.Tensor) error {
	if d == nil || d.DType() != dtypes.Float32 || !slices.Equal(d.Shape().Dimensions, []int{a.n, a.h, a.w, a.c}) {
		return errkind.With(gomlx_vgg.ErrInputShape, fmt.Errorf("gomlx_vgg: %s: Backward needs a float32 gradient of the output's shape %v at %s, got %v",
			t.r.m, []int{a.n, a.h, a.w, a.c}, layer, shape.Of(d)))
	}
	return nil
}

// backward runs the chain rule from the last layer given a gradient in dOuts
// (by layer index; at each such layer its gradient is added to the one coming
// back) down to t.first: the kernel gradients of t.grads' layers and, for a
// tape from RecordInput, the input's gradient dx.
func (t *Tape) backward(dOuts map[int]*tensors.Tensor) (out map[string]Gradients, dx []float32, err error) {
	r, m := t.r, t.r.m
	r.mu.Lock()
	defer r.mu.Unlock()
	out = make(map[string]Gradients, len(t.grads))
	top := -1
	for i := range dOuts {
		top = max(top, i)
	}
	if top < t.first {
		return out, nil, nil
	}
	dy := r.buffer(0, len(t.acts[top+1].data))
	clear(dy)
	var flipped []float32
	for i := top; i >= t.first; i-- {
		l := r.layers[i]
		if err := m.Context().Err(); err != nil {
			return nil, nil, fmt.Errorf("gomlx_vgg: %s: backward stopped before layer %s: %w", m, l.Name, err)
		}
		if d := dOuts[i]; d != nil {
			if err := tensors.ConstFlatData(d, func(g []float32) { addTo(dy, g) }); err != nil {
				return nil, nil, err
			}
		}
		in, y := t.acts[i], t.acts[i+1]
		dx = r.buffer((top-i+1)%2, len(in.data)) // dy is in the other one
		var err error
		if l.Class == weights.MaxPooling2D {
			err = kernels.MaxPool2x2Grad(dx, dy, in.data, in.n, in.h, in.w, in.c)
		} else {
			c := r.convs[l.Name]
			if err = kernels.ReluGrad(dy, y.data); err != nil {
				break
			}
			if slices.Contains(t.grads, l.Name) {
				g := Gradients{Kernel: tensors.FromShape(c.Kernel.Shape()), Bias: tensors.FromShape(c.Bias.Shape())}
				tensors.MustMutableFlatData(g.Kernel, func(dk []float32) {
					kernels.AdviseHugePages(dk) // not yet written: fewer page faults
					tensors.MustMutableFlatData(g.Bias, func(db []float32) {
						err = r.kernels.Conv3x3Grads(dk, db, in.data, dy, in.n, in.h, in.w, in.c, y.c)
					})
				})
				out[l.Name] = g
			}
			if err == nil && (i > t.first || t.input) {
				flipped = grow(flipped, 9*in.c*y.c)
				var flipErr error
				err = tensors.ConstFlatData(c.Kernel, func(k []float32) { flipErr = kernels.FlipKernel(flipped, k, in.c, y.c) })
				err = errors.Join(err, flipErr)
				var back *kernels.Conv3x3
				if err == nil {
					back, err = r.kernels.NewTransientConv3x3(flipped, make([]float32, in.c), y.c, in.c)
				}
				if err == nil {
					err = back.ApplyLinear(dx, dy, in.n, in.h, in.w)
				}
			}
		}
		if err != nil {
			return nil, nil, fmt.Errorf("gomlx_vgg: %s: backward through layer %s: %w", m, l.Name, err)
		}
		dy = dx
	}
	if t.input {
		return out, slices.Clone(dy), nil
	}
	return out, nil, nil
}

// addTo adds g to dst, value by value.
func addTo(dst, g []float32) {
	parallel.Ranges(len(dst), 1<<16, func(from, to int) {
		d := dst[from:to]
		for j, v := range g[from:to] {
			d[j] += v
		}
	})
}

// grow returns s with length n, reallocated if its capacity is short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return kernels.MakeLarge(n)
	}
	return s[:n]
}
