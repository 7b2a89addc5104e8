package gomlx_vgg

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's own style for graph code.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/weights"
)

// Apply builds the model on x (a batch in the model's data format, preprocessed)
// inside a GoMLX graph and returns the output layer's value. scope is where the
// layers' variables live: m.Scope() (Builder.Scope, as a backbone in your own
// store), unless they were copied elsewhere.
// Applying the model several times, to several inputs, reuses the same variables.
//
// Like all GoMLX graph building, it panics on errors (wrong input shape), which
// the executor returns as an error.
func (m *Model) Apply(scope *model.Scope, x *Node) *Node {
	return m.ApplyLayers(scope, x, m.output)[0]
}

// ApplyLayers is Apply returning the outputs of the named layers ("input_1" is
// the input itself), computed in one pass up to the deepest of them.
func (m *Model) ApplyLayers(scope *model.Scope, x *Node, names ...string) []*Node {
	return m.applyLayers(scope, x, nil, names...)
}

// ApplyFrom builds the model's layers from the named one to its output on x,
// the input of that layer (the previous layer's output, in the model's data
// format): the rest of the network after a replaced first part (Keras layer
// surgery). ApplyFrom(scope, x, "block1_conv1") is Apply without the input
// checks.
func (m *Model) ApplyFrom(scope *model.Scope, x *Node, first string) *Node {
	return m.ApplyFromLayers(scope, x, first, m.output)[0]
}

// ApplyFromLayers is ApplyFrom returning the outputs of the named layers (first
// or later), computed in one pass up to the deepest of them.
func (m *Model) ApplyFromLayers(scope *model.Scope, x *Node, first string, names ...string) []*Node {
	idx := slices.IndexFunc(m.layers, func(l Layer) bool { return l.Name == first })
	if idx < 1 || idx > m.outputIndex() {
		panic(m.unknownLayer(first))
	}
	return m.applyRange(scope, x, idx, nil, names...)
}

// applyLayers is ApplyLayers calling span (if not nil) with each layer's name and
// the ids of the first and one-past-last graph nodes it added.
func (m *Model) applyLayers(scope *model.Scope, x *Node, span func(layer string, from, to int), names ...string) []*Node {
	m.checkInput(x)
	return m.applyRange(scope, x, 1, span, names...)
}

// applyRange is applyLayers from layer index first on (1: the first after the
// input), x being that layer's input.
func (m *Model) applyRange(scope *model.Scope, x *Node, first int, span func(layer string, from, to int), names ...string) []*Node {
	if len(names) == 0 {
		panic(fmt.Errorf("gomlx_vgg: %s: no output layers requested", m))
	}
	last := 0
	for _, name := range names {
		idx := slices.IndexFunc(m.layers, func(l Layer) bool { return l.Name == name })
		if idx < 0 || idx > m.outputIndex() {
			panic(m.unknownLayer(name))
		}
		if idx < first && !(idx == 0 && first == 1) {
			panic(fmt.Errorf("gomlx_vgg: %s: layer %s comes before %s", m, name, m.layers[first].Name))
		}
		last = max(last, idx)
	}
	outs := make([]*Node, len(names))
	record := func(name string, v *Node) {
		for j, n := range names {
			if n == name {
				outs[j] = v
			}
		}
	}
	if first == 1 {
		record(weights.InputLayerName, x) // already in the model's data format
	}
	if m.cfg.dataFormat == weights.ChannelsFirst && x.Rank() == 4 {
		x = TransposeAllAxes(x, 0, 2, 3, 1)
	}
	g := x.Graph()
	for _, l := range m.layers[first : last+1] {
		from := len(g.Nodes())
		switch l.Class {
		case weights.Conv2D:
			k, b := m.vars(scope, x.Graph(), l.Name)
			if m.onGoBackend() {
				// The Go backend: its ConvGeneral is ~100x slower.
				x = MaxScalar(im2colConv(x, k, b, true, m.cfg.convGradient), 0)
			} else {
				x = convolveRelu(x, k, b)
			}
		case weights.MaxPooling2D:
			x = maxPool2x2(x)
		case weights.Flatten:
			if m.cfg.dataFormat == weights.ChannelsFirst {
				x = TransposeAllAxes(x, 0, 3, 1, 2)
			}
			x = Reshape(x, x.Shape().Dimensions[0], -1)
		case weights.Dense:
			k, b := m.vars(scope, x.Graph(), l.Name)
			x = Add(blockedMatMul(x, k), InsertAxes(b, 0))
			switch l.Activation {
			case "relu":
				x = MaxScalar(x, 0)
			case "softmax":
				x = Softmax(x, -1)
			}
		case weights.GlobalAveragePooling2D:
			x = ReduceMean(x, 1, 2)
		case weights.GlobalMaxPooling2D:
			x = ReduceMax(x, 1, 2)
		default:
			panic(fmt.Errorf("gomlx_vgg: internal: layer %s of class %s", l.Name, l.Class))
		}
		record(l.Name, m.toModelFormat(x))
		if span != nil {
			span(l.Name, from, len(g.Nodes()))
		}
	}
	return outs
}

func (m *Model) outputIndex() int {
	return slices.IndexFunc(m.layers, func(l Layer) bool { return l.Name == m.output })
}

// toModelFormat turns an internal NHWC activation into the model's data format.
func (m *Model) toModelFormat(x *Node) *Node {
	if m.cfg.dataFormat == weights.ChannelsFirst && x.Rank() == 4 {
		return TransposeAllAxes(x, 0, 3, 1, 2)
	}
	return x
}

// checkInput panics with a Keras-like message when x does not fit the model.
func (m *Model) checkInput(x *Node) {
	if err := m.checkDims(x.Shape().Dimensions); err != nil {
		panic(err)
	}
}

// checkDims returns a Keras-like error when an input of dims does not fit the model.
func (m *Model) checkDims(dims []int) error {
	h, w, ch := m.cfg.hwc()
	want := m.cfg.shapeString(h, w, ch)
	if len(dims) != 4 {
		return withKind(ErrInputShape, fmt.Errorf("gomlx_vgg: %s expects a batch of images of shape (batch, %s), got shape %v", m, want[1:len(want)-1], dims))
	}
	gh, gw, gc := dims[1], dims[2], dims[3]
	if m.cfg.dataFormat == weights.ChannelsFirst {
		gc, gh, gw = dims[1], dims[2], dims[3]
	}
	if gc != ch || (h != 0 && gh != h) || (w != 0 && gw != w) || gh < MinSize || gw < MinSize {
		return withKind(ErrInputShape, fmt.Errorf("gomlx_vgg: %s: input of shape %v does not fit input_shape %s (at least %dx%d)",
			m, dims, want, MinSize, MinSize))
	}
	return nil
}

// vars returns the kernel and bias nodes of a layer.
func (m *Model) vars(scope *model.Scope, g *Graph, layer string) (kernel, bias *Node) {
	ls := scope.At("%s", layer)
	kv, bv := ls.GetVariable("kernel"), ls.GetVariable("bias")
	if kv == nil || bv == nil {
		panic(fmt.Errorf("gomlx_vgg: no variables %s/kernel and bias in scope %q: apply %s with its Scope()",
			layer, scope.Scope(), m))
	}
	return kv.NodeValue(g), bv.NodeValue(g)
}

// Conv2D is a stride-1 2D convolution of x (batch, H, W, C) with kernel (kh,
// kw, C, O) plus bias (O), no activation: Keras' Conv2D with padding 'same'
// (same true) or 'valid'. On the pure-Go backend it is one matrix product over
// im2col patches (the backend's own convolution is ~100x slower, forward and
// backward); elsewhere it is the backend's convolution op (XLA's, cuDNN on
// CUDA). Its gradients: on the Go backend written out (see convGradients),
// elsewhere GoMLX's autodiff.
func Conv2D(x, kernel, bias *Node, same bool) *Node {
	if x.Rank() != 4 || kernel.Rank() != 4 || bias.Rank() != 1 || kernel.Shape().Dimensions[2] != x.Shape().Dimensions[3] ||
		bias.Shape().Dimensions[0] != kernel.Shape().Dimensions[3] {
		panic(fmt.Errorf("gomlx_vgg: Conv2D of x %s with kernel %s and bias %s: want (batch, H, W, C), (kh, kw, C, O) and (O)",
			x.Shape(), kernel.Shape(), bias.Shape()))
	}
	if x.Graph().Backend().Name() == gobackend.GetBackend().Name() {
		return im2colConv(x, kernel, bias, same, ConvGradientCustom)
	}
	c := Convolve(x, kernel)
	if same {
		c = c.PadSame()
	} else {
		c = c.NoPadding()
	}
	return Add(c.Done(), Reshape(bias, 1, 1, 1, -1))
}

// im2colConv is Conv2D as one matrix product: the kh*kw shifted views of the
// (padded) input side by side, times the kernel as a (kh*kw*C, O) matrix.
//
// Its gradients are written out (convGradients) instead of left to autodiff,
// whose gradient of the kh*kw slices and their concatenation is kh*kw pads
// and sums of full-size tensors plus strided slices of the patches.
func im2colConv(x, kernel, bias *Node, same bool, grad ConvGradient) *Node {
	n, kd := x.Shape().Dimensions[0], kernel.Shape().Dimensions
	kh, kw, c, o := kd[0], kd[1], kd[2], kd[3]
	var pad [4]int // top, bottom, left, right
	if same {
		pad = [4]int{(kh - 1) / 2, kh / 2, (kw - 1) / 2, kw / 2}
	}
	cols, oh, ow := patches(x, kh, kw, pad)
	y := Reshape(Add(MatMul(cols, Reshape(kernel, kh*kw*c, o)), InsertAxes(bias, 0)), n, oh, ow, o)
	if _, inference := inferenceGraphs.Load(x.Graph().GraphId()); inference || grad == ConvGradientAutodiff {
		return y
	}
	return convGradients(y, x, kernel, bias, cols, pad)
}

// inferenceGraphs holds the ids of the graphs built only to be run, never
// differentiated (GraphOutputs, Ops): their convolutions are built without
// convGradients' extra nodes.
var inferenceGraphs sync.Map // GraphId -> struct{}

// inferenceGraph marks g as built only to be run, until the returned func is
// called (deferred in the function that builds g: the mark is needed only while
// its convolutions are built, and graph ids are never reused).
func inferenceGraph(g *Graph) (done func()) {
	id := g.GraphId()
	inferenceGraphs.Store(id, struct{}{})
	return func() { inferenceGraphs.Delete(id) }
}

// patches is im2col: x (n, h, w, c) zero-padded by pad (top, bottom, left,
// right), its kh*kw shifted views concatenated along channels in the kernel's
// (row, column, channel) order, as a (n*oh*ow, kh*kw*c) matrix; oh x ow is
// the output's size.
func patches(x *Node, kh, kw int, pad [4]int) (cols *Node, oh, ow int) {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	oh, ow = h+pad[0]+pad[1]-kh+1, w+pad[2]+pad[3]-kw+1
	if oh < 1 || ow < 1 {
		panic(fmt.Errorf("gomlx_vgg: Conv2D 'valid' of a %dx%d input with a %dx%d kernel leaves nothing", h, w, kh, kw))
	}
	p := x
	if pad != [4]int{} {
		// All four axes are given: Pad's gradient (GoMLX v0.28.8) breaks when trailing axes are left out.
		p = Pad(x, ScalarZero(x.Graph(), x.DType()), compute.PadAxis{},
			compute.PadAxis{Start: pad[0], End: pad[1]}, compute.PadAxis{Start: pad[2], End: pad[3]}, compute.PadAxis{})
	}
	parts := make([]*Node, 0, kh*kw)
	for i := range kh {
		for j := range kw {
			parts = append(parts, Slice(p, AxisRange(), AxisRange(i, i+oh), AxisRange(j, j+ow), AxisRange()))
		}
	}
	return Reshape(Concatenate(parts, -1), n*oh*ow, kh*kw*c), oh, ow
}

// convGradients returns y (the convolution of x by kernel plus bias, computed
// from the patches cols with padding pad) with its gradients written out: for
// the adjoint v of y (n, oh, ow, O),
//
//	x:      the 'valid' convolution of v, padded by kernel size - 1 - pad, with
//	        the kernel flipped in space and its channel axes swapped (kh*kw
//	        slices and one matrix product, as the forward pass);
//	kernel: vᵀ·cols, one matrix product (vᵀ made first), transposed;
//	bias:   v summed over batch and positions.
//
// GoMLX has custom gradients only for one node at a time
// (IdentityWithCustomGradient). So y's value is StopGradient(y) plus a zero
// made from one element of each of x, kernel and bias, each behind a custom
// gradient, and the sum goes through a last custom gradient that records v.
// Autodiff visits that one first (it comes last in the graph), then, for each
// of x, kernel and bias that anything is differentiated against (not the
// images, not a frozen kernel: those are pruned as before), the custom
// gradient that returns its written-out gradient from v.
func convGradients(y, x, kernel, bias, cols *Node, pad [4]int) *Node {
	kd := kernel.Shape().Dimensions
	kh, kw, c, o := kd[0], kd[1], kd[2], kd[3]
	var v *Node // y's adjoint, recorded by autodiff
	adjoint := func() *Node {
		if v == nil {
			panic(errors.New("gomlx_vgg: internal: a convolution's input gradient was asked before its output's"))
		}
		return v
	}
	// tap is a scalar zero computed from one element of p, whose gradient
	// with respect to p is grad(): Min then Max with 0 keep it 0 for any
	// finite or infinite value (0 times an infinite activation would be NaN).
	tap := func(p *Node, grad func() *Node) *Node {
		q := IdentityWithCustomGradient(p, func(_, _ *Node) *Node { return grad() })
		first := Reshape(Slice(Reshape(q, -1), AxisRange(0, 1)))
		return MaxScalar(MinScalar(first, 0), 0)
	}
	dx := func() *Node {
		flipped := TransposeAllAxes(Reverse(kernel, 0, 1), 0, 1, 3, 2) // (kh, kw, O, C)
		back := [4]int{kh - 1 - pad[0], kh - 1 - pad[1], kw - 1 - pad[2], kw - 1 - pad[3]}
		cols, _, _ := patches(adjoint(), kh, kw, back)
		return Reshape(MatMul(cols, Reshape(flipped, kh*kw*o, c)), x.Shape().Dimensions...)
	}
	dk := func() *Node {
		// vᵀ·cols with vᵀ made explicitly: the Go backend's matmul wants the left
		// side's contracting axis last and would otherwise transpose cols, kh*kw
		// times larger than v (2-4x slower, measured).
		v2 := Reshape(adjoint(), -1, o)
		return Reshape(Transpose(MatMul(Transpose(v2, 0, 1), cols), 0, 1), kh, kw, c, o)
	}
	db := func() *Node { return ReduceSum(Reshape(adjoint(), -1, o), 0) }
	zero := Add(Add(tap(x, dx), tap(kernel, dk)), tap(bias, db))
	return IdentityWithCustomGradient(Add(StopGradient(y), zero), func(_, vy *Node) *Node {
		v = vy
		return vy
	})
}

// convolveRelu is Keras' Conv2D(3x3, padding="same", activation="relu") with
// the backend's own convolution op (used off the Go backend): XLA's
// (cuDNN on CUDA) is faster than any rewrite of it.
func convolveRelu(x, kernel, bias *Node) *Node {
	y := Convolve(x, kernel).PadSame().Done()
	return MaxScalar(Add(y, Reshape(bias, 1, 1, 1, -1)), 0)
}

// blockedMatMul is x·kernel for x (batch, K) and kernel (K, units), with K split
// into blocks whose partial products are summed at the end: float32 rounding
// error then grows with the block length instead of K (4096 or 25088 for VGG's
// dense layers), keeping the logits within 1e-6 of a float64 computation.
func blockedMatMul(x, kernel *Node) *Node {
	n, k := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	units := kernel.Shape().Dimensions[1]
	if k%kernels.DenseBlock != 0 || k == kernels.DenseBlock {
		return MatMul(x, kernel)
	}
	nb := k / kernels.DenseBlock
	xb := Reshape(x, n, nb, kernels.DenseBlock)
	kb := Reshape(kernel, nb, kernels.DenseBlock, units)
	partial := DotGeneral(xb, []int{2}, []int{1}, kb, []int{1}, []int{0}) // (nb, n, units)
	return ReduceSum(partial, 0)
}

// Op is one node of a GoMLX computation graph.
type Op struct {
	// ID is the node's id in its graph; Inputs are its inputs' ids.
	ID     int
	Inputs []int
	// Type is the GoMLX op (Parameter, DotGeneral, Pad, ReduceWindow, ...).
	Type string
	// Shape is the op's output shape.
	Shape []int
}

// OpGroup is the ops that building one layer adds to the graph (input_1: the input).
type OpGroup struct {
	Layer string
	Ops   []Op
}

// Ops builds (without running) the model's graph for a batch of the given input
// dimensions (model data format, batch first) and returns its ops grouped by
// layer: what GoMLX actually computes for each Keras layer.
func (m *Model) Ops(inputDims ...int) ([]OpGroup, error) {
	var groups []OpGroup
	exec, err := model.NewExec(m.backend, m.store, func(_ *model.Scope, x *Node) *Node {
		defer inferenceGraph(x.Graph())()
		groups = []OpGroup{{Layer: weights.InputLayerName, Ops: opsOf(x.Graph(), 0, len(x.Graph().Nodes()))}}
		return m.applyLayers(m.root, x, func(layer string, from, to int) {
			groups = append(groups, OpGroup{Layer: layer, Ops: opsOf(x.Graph(), from, to)})
		}, m.output)[0]
	})
	if err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s: %w", m, err)
	}
	defer exec.Finalize()
	if _, err := exec.Compile(shapes.Make(dtypes.Float32, inputDims...)); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s: graph for input %v: %w", m, inputDims, err)
	}
	return groups, nil
}

func opsOf(g *Graph, from, to int) []Op {
	nodes := g.Nodes()[from:to]
	ops := make([]Op, 0, len(nodes))
	for _, n := range nodes {
		op := Op{ID: int(n.Id()), Type: n.Type().String(), Shape: slices.Clone(n.Shape().Dimensions)}
		for _, in := range n.Inputs() {
			op.Inputs = append(op.Inputs, int(in.Id()))
		}
		ops = append(ops, op)
	}
	return ops
}

// maxPool2x2 is Keras' MaxPooling2D(2) (stride 2, "valid": an odd last row or
// column is dropped) on NHWC x, as a reshape to 2x2 blocks and a max over them:
// on the Go backend this is several times faster than ReduceWindow.
func maxPool2x2(x *Node) *Node {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	if h%2 != 0 || w%2 != 0 {
		x = Slice(x, AxisRange(), AxisRange(0, h/2*2), AxisRange(0, w/2*2), AxisRange())
	}
	x6 := IdentityWithCustomGradient(Reshape(x, n, h/2, 2, w/2, 2, c), firstMaxGradient)
	return ReduceMax(x6, 2, 4)
}

// firstMaxGradient keeps, of ReduceMax's gradient v over 2x2 windows (x: (n,
// h/2, 2, w/2, 2, c)), only the window's first maximum in row-major order:
// ReduceMax's gradient goes to every element equal to the maximum (after a
// ReLU, whole windows of zeros tie), TensorFlow's and PyTorch's max pooling to
// one. Training and Grad-CAM then get Keras' gradients.
func firstMaxGradient(x, v *Node) *Node {
	eq := Equal(x, ReduceAndKeep(x, ReduceMax, 2, 4))
	e := func(i, j int) *Node {
		return Slice(eq, AxisRange(), AxisRange(), AxisRange(i, i+1), AxisRange(), AxisRange(j, j+1), AxisRange())
	}
	e00, e01, e10, e11 := e(0, 0), e(0, 1), e(1, 0), e(1, 1)
	seen := e00
	f01 := LogicalAnd(e01, LogicalNot(seen))
	seen = LogicalOr(seen, e01)
	f10 := LogicalAnd(e10, LogicalNot(seen))
	seen = LogicalOr(seen, e10)
	f11 := LogicalAnd(e11, LogicalNot(seen))
	first := Concatenate([]*Node{Concatenate([]*Node{e00, f01}, 4), Concatenate([]*Node{f10, f11}, 4)}, 2)
	return Where(first, v, ZerosLike(v))
}

// graphOutputs is Outputs through the GoMLX graph; m.mu is held.
func (m *Model) graphOutputs(x *tensors.Tensor, names []string) (map[string]*tensors.Tensor, error) {
	key := strings.Join(names, ",")
	exec, ok := m.execs[key]
	if !ok {
		var err error
		exec, err = model.NewExec(m.backend, m.store, func(_ *model.Scope, x *Node) []*Node {
			defer inferenceGraph(x.Graph())()
			return m.ApplyLayers(m.root, x, names...)
		})
		if err != nil {
			return nil, fmt.Errorf("gomlx_vgg: %s: %w", m, err)
		}
		exec = exec.WithName(m.Name + ":" + key)
		m.execs[key] = exec
	}
	vals, err := exec.Exec(x)
	if err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s on input %v: %w", m, x.Shape().Dimensions, err)
	}
	out := make(map[string]*tensors.Tensor, len(names))
	for i, n := range names {
		out[n] = vals[i]
	}
	return out, nil
}
