package freeze

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/internal/errkind"
)

// errNotNative is matched by newNative's errors for a graph with a node the
// native kernels do not run (the runner then runs the GoMLX graph).
var errNotNative = errors.New("not on the native kernels")

// native is a frozen graph as steps on vggnb's native kernels (package
// kernels: gomlx_vgg's EngineNative): 3x3 'same' convolutions (with the ReLU
// after them fused), 2x2 max pooling, dense layers, flatten, softmax and
// global pooling, the layout transposes around the convolutions costing
// nothing, as in the graph. It is what Runner runs on the pure-Go backend when
// every node is one of these: the pattern every frozen VGG has.
type native struct {
	input, output string
	steps         []*step
}

// step is one node (or a Conv or Gemm and the Relu fused into it).
type step struct {
	name, op string
	in, out  string
	relu     bool
	conv     *kernels.Conv3x3
	// Gemm: the kernel (k, o), row-major, and the bias (o).
	kernel, bias []float32
	k, o         int
	nhwc         bool // Transpose: whether the output is a logical NCHW kept NHWC
	maxPool      bool // ReduceMax (else ReduceMean)
}

// act is a value during a native run: its data in storage order and its
// storage dims; nhwc marks a logical NCHW tensor kept (N, H, W, C).
type act struct {
	data []float32
	dims []int
	nhwc bool
}

// logical returns a's data and dims in its logical axis order.
func (a act) logical() act {
	if !a.nhwc {
		return a
	}
	n, h, w, c := a.dims[0], a.dims[1], a.dims[2], a.dims[3]
	out := make([]float32, len(a.data))
	kernels.NHWCToNCHW(out, a.data, n, h, w, c)
	return act{data: out, dims: []int{n, c, h, w}}
}

// newNative plans f's graph on the native kernels, with the runner's weights
// (conv kernels already (kh, kw, in, out)). A node they do not run is an error
// of kind errNotNative naming it; weights that are not finite, one of kind
// ErrBadFile.
func newNative(f *File, weight func(name string) ([]float32, []int, bool)) (*native, error) {
	g := f.Model.GetGraph()
	notNative := func(n *protos.NodeProto, why string, args ...any) error {
		return errkind.With(errNotNative, fmt.Errorf("node %s (%s): %s", n.Name, n.OpType, fmt.Sprintf(why, args...)))
	}
	uses := map[string]int{}
	for _, n := range g.Node {
		for _, in := range n.Input {
			uses[in]++
		}
	}
	p := &native{input: f.Input.Name, output: g.Output[0].Name}
	rank := map[string]int{p.input: len(f.Input.Dims)} // logical rank of each value
	nhwc := map[string]bool{}
	var convs []*step
	var convWeights [][2]string
	for i := 0; i < len(g.Node); i++ {
		n := g.Node[i]
		if len(n.Input) == 0 || len(n.Output) != 1 || (n.Domain != "" && n.Domain != "ai.onnx") {
			return nil, notNative(n, "%d inputs, %d outputs", len(n.Input), len(n.Output))
		}
		r, ok := rank[n.Input[0]]
		if !ok {
			return nil, notNative(n, "its input %s is no earlier node's output", n.Input[0])
		}
		at := attrs(n.Attribute)
		for name := range at {
			if !slices.Contains(nativeAttrs[n.OpType], name) {
				return nil, notNative(n, "attribute %s", name)
			}
		}
		s := &step{name: n.Name, op: n.OpType, in: n.Input[0], out: n.Output[0]}
		outRank, outNHWC := r, nhwc[s.in]
		switch n.OpType {
		case "Identity":
		case "Relu":
		case "Transpose":
			switch perm := at["perm"]; {
			case r == 4 && !nhwc[s.in] && slices.Equal(perm, []int64{0, 3, 1, 2}):
				outNHWC = true
			case nhwc[s.in] && slices.Equal(perm, []int64{0, 2, 3, 1}):
				outNHWC = false
			default:
				return nil, notNative(n, "perm %v", perm)
			}
			s.nhwc = outNHWC
		case "Conv":
			if r != 4 || len(n.Input) < 2 {
				return nil, notNative(n, "rank %d, %d inputs", r, len(n.Input))
			}
			kd := f.initDims(n.Input[1])
			if len(kd) != 4 || kd[2] != 3 || kd[3] != 3 || !slices.Equal(at["pads"], []int64{1, 1, 1, 1}) {
				return nil, notNative(n, "kernel %v, pads %v: the native kernels run 3x3 'same'", kd, at["pads"])
			}
			for _, a := range []string{"strides", "dilations"} {
				if v, ok := at[a]; ok && !slices.Equal(v, []int64{1, 1}) {
					return nil, notNative(n, "%s %v", a, v)
				}
			}
			if gr, ok := at["group"]; ok && gr[0] != 1 {
				return nil, notNative(n, "group %d", gr[0])
			}
			if kd[0] <= 0 || kd[1] <= 0 {
				return nil, errkind.With(ErrBadFile, fmt.Errorf("node %s: kernel %s of dims %v", n.Name, n.Input[1], kd))
			}
			s.k, s.o = kd[1], kd[0]
			bias := ""
			if len(n.Input) > 2 {
				bias = n.Input[2]
			}
			convs, convWeights = append(convs, s), append(convWeights, [2]string{n.Input[1], bias})
			outNHWC = true
		case "MaxPool":
			if r != 4 || !nhwc[s.in] || !slices.Equal(at["kernel_shape"], []int64{2, 2}) || !slices.Equal(at["strides"], []int64{2, 2}) {
				return nil, notNative(n, "kernel %v strides %v", at["kernel_shape"], at["strides"])
			}
			if pads, ok := at["pads"]; ok && !slices.Equal(pads, []int64{0, 0, 0, 0}) {
				return nil, notNative(n, "pads %v", pads)
			}
			if c, ok := at["ceil_mode"]; ok && c[0] != 0 {
				return nil, notNative(n, "ceil_mode")
			}
			outNHWC = true
		case "Flatten":
			if a, ok := at["axis"]; ok && a[0] != 1 {
				return nil, notNative(n, "axis %d", a[0])
			}
			outRank, outNHWC = 2, false
		case "Gemm":
			if r != 2 || len(n.Input) < 2 {
				return nil, notNative(n, "rank %d, %d inputs", r, len(n.Input))
			}
			for _, a := range []string{"alpha", "beta"} {
				if _, ok := at[a]; ok {
					return nil, notNative(n, "attribute %s", a)
				}
			}
			if t, ok := at["transA"]; ok && t[0] != 0 {
				return nil, notNative(n, "transA")
			}
			w, wd, ok := weight(n.Input[1])
			if !ok || len(wd) != 2 {
				return nil, notNative(n, "weights %s of dims %v", n.Input[1], wd)
			}
			s.k, s.o, s.kernel = wd[0], wd[1], w
			if t, ok := at["transB"]; ok && t[0] != 0 {
				s.k, s.o = wd[1], wd[0]
				s.kernel, _ = permute(w, wd, []int{1, 0})
			}
			s.bias = make([]float32, s.o)
			if len(n.Input) > 2 {
				b, bd, ok := weight(n.Input[2])
				if !ok || len(b) != s.o || len(bd) != 1 {
					return nil, notNative(n, "bias %s of dims %v for %d outputs", n.Input[2], bd, s.o)
				}
				s.bias = b
			}
			if err := checkFinite(f, n.Input[1:], s.kernel, s.bias); err != nil {
				return nil, err
			}
		case "Softmax":
			if a, ok := at["axis"]; r != 2 || (ok && a[0] != -1 && a[0] != 1) {
				return nil, notNative(n, "rank %d, axis %v", r, at["axis"])
			}
		case "ReduceMean", "ReduceMax":
			if k, ok := at["keepdims"]; !ok || k[0] != 0 || !slices.Equal(at["axes"], []int64{2, 3}) || !nhwc[s.in] {
				return nil, notNative(n, "axes %v keepdims %v", at["axes"], at["keepdims"])
			}
			s.maxPool = n.OpType == "ReduceMax"
			outRank, outNHWC = 2, false
		default:
			return nil, notNative(n, "op %s", n.OpType)
		}
		// A Relu that alone reads a Conv's or Gemm's output runs inside it.
		if (s.op == "Conv" || s.op == "Gemm") && i+1 < len(g.Node) && uses[s.out] == 1 && s.out != p.output {
			if next := g.Node[i+1]; next.OpType == "Relu" && len(next.Input) == 1 && next.Input[0] == s.out && len(next.Output) == 1 {
				s.relu, s.out = true, next.Output[0]
				i++
			}
		}
		rank[s.out], nhwc[s.out] = outRank, outNHWC
		p.steps = append(p.steps, s)
	}
	if _, ok := rank[p.output]; !ok {
		return nil, errkind.With(ErrBadFile, fmt.Errorf("no node makes the output %s", p.output))
	}
	// The convolutions are prepared (their kernels packed) on all cores.
	errs := make([]error, len(convs))
	kernels.ForEach(len(convs), func(i int) {
		s, names := convs[i], convWeights[i]
		k, kd, ok := weight(names[0])
		if !ok || !slices.Equal(kd, []int{3, 3, s.k, s.o}) {
			errs[i] = errkind.With(ErrBadFile, fmt.Errorf("node %s: kernel %s of dims %v", s.name, names[0], kd))
			return
		}
		b := make([]float32, s.o)
		if names[1] != "" {
			var bd []int
			if b, bd, ok = weight(names[1]); !ok || len(b) != s.o || len(bd) != 1 {
				errs[i] = errkind.With(ErrBadFile, fmt.Errorf("node %s: bias %s of dims %v for %d channels", s.name, names[1], bd, s.o))
				return
			}
		}
		if errs[i] = checkFinite(f, []string{names[0], names[1]}, k, b); errs[i] != nil {
			return
		}
		s.conv, errs[i] = kernels.NewConv3x3(k, b, s.k, s.o)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// nativeAttrs are the attributes each op may have on the native kernels
// (others, such as auto_pad, send the graph to GoMLX).
var nativeAttrs = map[string][]string{
	"Transpose":  {"perm"},
	"Conv":       {"kernel_shape", "pads", "strides", "dilations", "group"},
	"MaxPool":    {"kernel_shape", "strides", "pads", "ceil_mode"},
	"Flatten":    {"axis"},
	"Gemm":       {"transA", "transB", "alpha", "beta"},
	"Softmax":    {"axis"},
	"ReduceMean": {"axes", "keepdims"},
	"ReduceMax":  {"axes", "keepdims"},
}

// checkFinite is an error of kind ErrBadFile if a weight holds NaN or ±Inf:
// the kernels' ReLU would hide it (max(NaN, 0) is 0 in SIMD).
func checkFinite(f *File, names []string, ws ...[]float32) error {
	for i, w := range ws {
		t := tensors.FromFlatDataAndDimensions(w, len(w))
		if err := gomlx_vgg.CheckFinite(names[min(i, len(names)-1)], "weights", t); err != nil {
			return errkind.With(ErrBadFile, err)
		}
	}
	return nil
}

// initDims is the dims of the initializer name (nil if none).
func (f *File) initDims(name string) []int {
	for _, t := range f.Model.GetGraph().Initializer {
		if t.Name == name {
			d := make([]int, len(t.Dims))
			for i, v := range t.Dims {
				d[i] = int(v)
			}
			return d
		}
	}
	return nil
}

// run computes the output for x (dims checked by the caller); stop is
// checked between steps.
func (p *native) run(x *tensors.Tensor) (*tensors.Tensor, error) {
	var xs []float32
	if err := tensors.ConstFlatData(x, func(v []float32) { xs = v }); err != nil {
		return nil, err
	}
	vals := map[string]act{p.input: {data: xs, dims: slices.Clone(x.Shape().Dimensions)}}
	for _, s := range p.steps {
		a, ok := vals[s.in]
		if !ok {
			return nil, fmt.Errorf("node %s: no value %s", s.name, s.in)
		}
		y, err := s.apply(a)
		if err != nil {
			return nil, fmt.Errorf("node %s (%s) on %v: %w", s.name, s.op, a.dims, err)
		}
		vals[s.out] = y
	}
	y := vals[p.output].logical()
	if len(y.data) > 0 && &y.data[0] == &xs[0] { // the graph is the identity
		y.data = slices.Clone(y.data)
	}
	t := tensors.FromShape(shapes.Make(dtypes.Float32, y.dims...))
	tensors.MustMutableFlatData(t, func(d []float32) { copy(d, y.data) })
	return t, nil
}

// apply runs one step on its input.
func (s *step) apply(a act) (act, error) {
	switch s.op {
	case "Identity":
		return a, nil
	case "Relu":
		out := make([]float32, len(a.data))
		for i, v := range a.data {
			out[i] = max(v, 0)
		}
		return act{data: out, dims: a.dims, nhwc: a.nhwc}, nil
	case "Transpose":
		return act{data: a.data, dims: a.dims, nhwc: s.nhwc}, nil
	case "Conv":
		if !a.nhwc { // a logical NCHW kept NCHW: made NHWC once
			n, c, h, w := a.dims[0], a.dims[1], a.dims[2], a.dims[3]
			d := make([]float32, len(a.data))
			kernels.NCHWToNHWC(d, a.data, n, c, h, w)
			a = act{data: d, dims: []int{n, h, w, c}, nhwc: true}
		}
		n, h, w, c := a.dims[0], a.dims[1], a.dims[2], a.dims[3]
		if c != s.k {
			return act{}, fmt.Errorf("%d channels for a kernel of %d", c, s.k)
		}
		out := make([]float32, n*h*w*s.o)
		apply := s.conv.ApplyLinear
		if s.relu {
			apply = s.conv.Apply
		}
		return act{data: out, dims: []int{n, h, w, s.o}, nhwc: true}, apply(out, a.data, n, h, w)
	case "MaxPool":
		if !a.nhwc {
			return act{}, errors.New("internal: NCHW max pooling")
		}
		n, h, w, c := a.dims[0], a.dims[1], a.dims[2], a.dims[3]
		out := make([]float32, n*(h/2)*(w/2)*c)
		return act{data: out, dims: []int{n, h / 2, w / 2, c}, nhwc: true}, kernels.MaxPool2x2(out, a.data, n, h, w, c)
	case "Flatten":
		l := a.logical()
		return act{data: l.data, dims: []int{l.dims[0], len(l.data) / max(l.dims[0], 1)}}, nil
	case "Gemm":
		n := a.dims[0]
		if a.dims[1] != s.k {
			return act{}, fmt.Errorf("%d inputs for a kernel of %d", a.dims[1], s.k)
		}
		out := make([]float32, n*s.o)
		return act{data: out, dims: []int{n, s.o}}, kernels.Dense(out, a.data, s.kernel, s.bias, n, s.k, s.o, s.relu)
	case "Softmax":
		out := slices.Clone(a.data)
		kernels.SoftmaxRows(out, a.dims[1])
		return act{data: out, dims: a.dims}, nil
	case "ReduceMean", "ReduceMax":
		n, h, w, c := a.dims[0], a.dims[1], a.dims[2], a.dims[3]
		out := make([]float32, n*c)
		kernels.GlobalPool(out, a.data, n, h*w, c, s.maxPool)
		return act{data: out, dims: []int{n, c}}, nil
	}
	return act{}, fmt.Errorf("internal: op %s", s.op)
}
