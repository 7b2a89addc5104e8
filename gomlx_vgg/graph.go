package gomlx_vgg

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's own style for graph code.
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

// applyLayers is ApplyLayers calling span (if not nil) with each layer's name and
// the ids of the first and one-past-last graph nodes it added.
func (m *Model) applyLayers(scope *model.Scope, x *Node, span func(layer string, from, to int), names ...string) []*Node {
	if len(names) == 0 {
		panic(fmt.Errorf("gomlx_vgg: %s: no output layers requested", m))
	}
	last := 0
	for _, name := range names {
		idx := slices.IndexFunc(m.layers, func(l Layer) bool { return l.Name == name })
		if idx < 0 || idx > m.outputIndex() {
			panic(m.unknownLayer(name))
		}
		last = max(last, idx)
	}
	m.checkInput(x)
	outs := make([]*Node, len(names))
	record := func(name string, v *Node) {
		for j, n := range names {
			if n == name {
				outs[j] = v
			}
		}
	}
	record("input_1", x) // already in the model's data format
	if m.cfg.dataFormat == weights.ChannelsFirst {
		x = TransposeAllAxes(x, 0, 2, 3, 1)
	}
	g := x.Graph()
	for _, l := range m.layers[1 : last+1] {
		from := len(g.Nodes())
		switch l.Class {
		case weights.Conv2D:
			k, b := m.vars(scope, x.Graph(), l.Name)
			if m.onGoBackend() {
				x = conv3x3Relu(x, k, b) // the Go backend: its ConvGeneral is ~100x slower
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
			if l.Name != "predictions" {
				x = MaxScalar(x, 0)
			} else if m.cfg.activation == "softmax" {
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
		return fmt.Errorf("gomlx_vgg: %s expects a batch of images of shape (batch, %s), got shape %v", m, want[1:len(want)-1], dims)
	}
	gh, gw, gc := dims[1], dims[2], dims[3]
	if m.cfg.dataFormat == weights.ChannelsFirst {
		gc, gh, gw = dims[1], dims[2], dims[3]
	}
	if gc != ch || (h != 0 && gh != h) || (w != 0 && gw != w) || gh < MinSize || gw < MinSize {
		return fmt.Errorf("gomlx_vgg: %s: input of shape %v does not fit input_shape %s (at least %dx%d)",
			m, dims, want, MinSize, MinSize)
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

// conv3x3Relu is Keras' Conv2D(3x3, padding="same", activation="relu") on NHWC x
// with an HWIO kernel, written as im2col + one matrix product so that it runs on
// the backend's fast matmul: the 9 shifted copies of the zero-padded input are
// concatenated along channels, in the kernel's (row, column, channel) order.
func conv3x3Relu(x, kernel, bias *Node) *Node {
	d := x.Shape().Dimensions
	n, h, w, c := d[0], d[1], d[2], d[3]
	o := kernel.Shape().Dimensions[3]
	// All four axes are given: Pad's gradient (GoMLX v0.28.8) breaks when trailing axes are left out.
	p := Pad(x, ScalarZero(x.Graph(), x.DType()), compute.PadAxis{}, compute.PadAxis{Start: 1, End: 1}, compute.PadAxis{Start: 1, End: 1}, compute.PadAxis{})
	parts := make([]*Node, 0, 9)
	for i := range 3 {
		for j := range 3 {
			parts = append(parts, Slice(p, AxisRange(), AxisRange(i, i+h), AxisRange(j, j+w), AxisRange()))
		}
	}
	cols := Reshape(Concatenate(parts, -1), n*h*w, 9*c)
	y := Add(MatMul(cols, Reshape(kernel, 9*c, o)), InsertAxes(bias, 0))
	return Reshape(MaxScalar(y, 0), n, h, w, o)
}

// convolveRelu is conv3x3Relu with the backend's own convolution op: XLA's
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
		groups = []OpGroup{{Layer: "input_1", Ops: opsOf(x.Graph(), 0, len(x.Graph().Nodes()))}}
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
	return ReduceMax(Reshape(x, n, h/2, 2, w/2, 2, c), 2, 4)
}
