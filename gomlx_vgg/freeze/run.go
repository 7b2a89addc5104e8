package freeze

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX style.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/weights"
)

// SupportedOps are the ONNX ops Runner runs: those the freezer writes.
var SupportedOps = []string{"Transpose", "Conv", "Relu", "Identity", "MaxPool", "Flatten", "Gemm", "Softmax", "ReduceMean", "ReduceMax"}

// Runner runs a frozen file in GoMLX (the pure-Go backend unless another is
// given): the ops are rebuilt as a GoMLX graph, the weights become variables of
// its own store, and Conv runs as gomlx_vgg.Conv2D in NHWC (the transposes
// around the NCHW part cancel out rather than run). It is safe for concurrent
// use; runs are serialised.
type Runner struct {
	file    *File
	backend compute.Backend
	store   *model.Store

	mu   sync.Mutex
	exec *model.Exec
}

// Runner prepares f to run on backend (nil: the pure-Go backend). Conv kernels
// are stored (kh, kw, in, out), as Keras and gomlx_vgg.Conv2D have them.
func (f *File) Runner(backend compute.Backend) (*Runner, error) {
	if backend == nil {
		backend = gobackend.GetBackend()
	}
	g := f.Model.GetGraph()
	for _, n := range g.Node {
		if !slices.Contains(SupportedOps, n.OpType) || (n.Domain != "" && n.Domain != "ai.onnx") {
			return nil, fmt.Errorf("freeze: %s: node %s is op %s, which the GoMLX runner does not run (it runs %s)",
				f.Path, n.Name, n.OpType, strings.Join(SupportedOps, ", "))
		}
	}
	convKernel := map[string]bool{}
	for _, n := range g.Node {
		if n.OpType == "Conv" && len(n.Input) > 1 {
			convKernel[n.Input[1]] = true
		}
	}
	store := model.NewStore()
	for _, t := range g.Initializer {
		dims := make([]int, len(t.Dims))
		for i, d := range t.Dims {
			dims[i] = int(d)
		}
		data := weights.Float32sFromLE(t.RawData)
		if convKernel[t.Name] {
			if len(dims) != 4 {
				return nil, fmt.Errorf("freeze: %s: Conv weights %s have dims %v", f.Path, t.Name, dims)
			}
			data, dims = permute(data, dims, []int{2, 3, 1, 0}) // OIHW -> HWIO
		}
		if _, err := store.CreateVariable(varPath(t.Name), tensors.FromFlatDataAndDimensions(data, dims...)); err != nil {
			return nil, fmt.Errorf("freeze: %s: initializer %s: %w", f.Path, t.Name, err)
		}
	}
	for v := range store.IterVariables() {
		v.Trainable = false
	}
	r := &Runner{file: f, backend: backend, store: store}
	exec, err := model.NewExec(backend, store, r.build)
	if err != nil {
		return nil, fmt.Errorf("freeze: %s: %w", f.Path, err)
	}
	r.exec = exec
	return r, nil
}

// varPath is where initializer name lives in the runner's store.
func varPath(name string) string { return "/" + strings.ReplaceAll(name, "/", "|") }

// File is the frozen file the runner runs.
func (r *Runner) File() *File { return r.file }

// Run runs the graph on x, which must match the input's shape (dynamic
// dimensions free), and returns the output.
func (r *Runner) Run(x *tensors.Tensor) (*tensors.Tensor, error) {
	if err := r.CheckInput(x.Shape().Dimensions); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	outs, err := r.exec.Exec(x)
	if err != nil {
		return nil, fmt.Errorf("freeze: %s: %w", r.file.Path, err)
	}
	return outs[0], nil
}

// CheckInput says whether an input of dims fits the graph's input.
func (r *Runner) CheckInput(dims []int) error {
	in := r.file.Input
	ok := len(dims) == len(in.Dims)
	for i := 0; ok && i < len(dims); i++ {
		ok = dims[i] > 0 && (in.Dims[i] < 0 || in.Dims[i] == dims[i])
	}
	if !ok {
		return fmt.Errorf("freeze: %s: input %v does not fit %s", r.file.Path, dims, in)
	}
	return nil
}

// value is a graph value; nhwc marks a logical NCHW tensor kept in NHWC order
// (so that the freezer's transposes around the convolutions cost nothing).
type value struct {
	node *Node
	nhwc bool
}

// logical returns v's node in its logical axis order.
func (v value) logical() *Node {
	if v.nhwc {
		return TransposeAllAxes(v.node, 0, 3, 1, 2)
	}
	return v.node
}

// storageAxis maps a logical NCHW axis of a value kept NHWC to its axis there.
func storageAxis(v value, axis int) int {
	if !v.nhwc {
		return axis
	}
	return []int{0, 3, 1, 2}[axis]
}

// build is the graph: the file's nodes in order on input x.
func (r *Runner) build(scope *model.Scope, x *Node) *Node {
	g := r.file.Model.GetGraph()
	vals := map[string]value{r.file.Input.Name: {node: x}}
	get := func(n string) value {
		if v, ok := vals[n]; ok {
			return v
		}
		if v := r.store.GetVariable(varPath(n)); v != nil {
			return value{node: v.NodeValue(x.Graph())}
		}
		panic(fmt.Errorf("freeze: %s: unknown value %s", r.file.Path, n))
	}
	for _, n := range g.Node {
		ins := make([]value, len(n.Input))
		for i, name := range n.Input {
			ins[i] = get(name)
		}
		vals[n.Output[0]] = r.op(n.Name, n.OpType, attrs(n.Attribute), ins)
	}
	return get(g.Output[0].Name).logical()
}

// attrs collects integer attributes by name.
func attrs(list []*protos.AttributeProto) map[string][]int64 {
	out := map[string][]int64{}
	for _, a := range list {
		if len(a.Ints) > 0 {
			out[a.Name] = a.Ints
		} else {
			out[a.Name] = []int64{a.I}
		}
	}
	return out
}

// op builds one ONNX node on its inputs.
func (r *Runner) op(name, op string, at map[string][]int64, in []value) value {
	fail := func(format string, args ...any) {
		panic(fmt.Errorf("freeze: %s: node %s (%s): %s", r.file.Path, name, op, fmt.Sprintf(format, args...)))
	}
	x := in[0]
	switch op {
	case "Identity":
		return x
	case "Relu":
		return value{node: MaxScalar(x.node, 0), nhwc: x.nhwc}
	case "Transpose":
		perm := at["perm"]
		switch {
		case x.node.Rank() == 4 && !x.nhwc && slices.Equal(perm, []int64{0, 3, 1, 2}):
			return value{node: x.node, nhwc: true}
		case x.nhwc && slices.Equal(perm, []int64{0, 2, 3, 1}):
			return value{node: x.node}
		}
		axes := make([]int, len(perm))
		for i, p := range perm {
			axes[i] = int(p)
		}
		return value{node: TransposeAllAxes(x.logical(), axes...)}
	case "Conv":
		k := in[1].node // (kh, kw, in, out)
		kd := k.Shape().Dimensions
		pads, strides, dil := at["pads"], at["strides"], at["dilations"]
		for _, s := range append(slices.Clone(strides), dil...) {
			if s != 1 {
				fail("strides %v and dilations %v: only 1 is supported", strides, dil)
			}
		}
		if gr, ok := at["group"]; ok && gr[0] != 1 {
			fail("group %d: only 1 is supported", gr[0])
		}
		same := false
		switch {
		case pads == nil || slices.Equal(pads, []int64{0, 0, 0, 0}):
		case kd[0] == kd[1] && kd[0]%2 == 1 && slices.Equal(pads, slices.Repeat([]int64{int64(kd[0] / 2)}, 4)):
			same = true
		default:
			fail("pads %v for a %dx%d kernel: only 'same' and 'valid' are supported", pads, kd[0], kd[1])
		}
		xs := x.node
		if !x.nhwc {
			xs = TransposeAllAxes(xs, 0, 2, 3, 1)
		}
		var bias *Node
		if len(in) > 2 {
			bias = in[2].node
		} else {
			bias = Zeros(xs.Graph(), shapes.Make(dtypes.Float32, kd[3]))
		}
		return value{node: gomlx_vgg.Conv2D(xs, k, bias, same), nhwc: true}
	case "MaxPool":
		if !slices.Equal(at["kernel_shape"], []int64{2, 2}) || !slices.Equal(at["strides"], []int64{2, 2}) {
			fail("kernel %v strides %v: only 2x2 with stride 2 is supported", at["kernel_shape"], at["strides"])
		}
		xs := x.node
		if !x.nhwc {
			xs = TransposeAllAxes(xs, 0, 2, 3, 1)
		}
		d := xs.Shape().Dimensions
		n, h, w, c := d[0], d[1]/2, d[2]/2, d[3]
		xs = Slice(xs, AxisRange(), AxisRange(0, 2*h), AxisRange(0, 2*w), AxisRange())
		return value{node: ReduceMax(Reshape(xs, n, h, 2, w, 2, c), 2, 4), nhwc: true}
	case "Flatten":
		axis := 1
		if a, ok := at["axis"]; ok {
			axis = int(a[0])
		}
		if axis != 1 {
			fail("axis %d: only 1 is supported", axis)
		}
		l := x.logical()
		return value{node: Reshape(l, l.Shape().Dimensions[0], -1)}
	case "Gemm":
		a, b := x.logical(), in[1].node
		if t := at["transA"]; t != nil && t[0] != 0 {
			a = Transpose(a, 0, 1)
		}
		if t := at["transB"]; t != nil && t[0] != 0 {
			b = Transpose(b, 0, 1)
		}
		y := MatMul(a, b)
		if len(in) > 2 {
			y = Add(y, InsertAxes(in[2].node, 0))
		}
		return value{node: y}
	case "Softmax":
		axis := -1
		if a, ok := at["axis"]; ok {
			axis = int(a[0])
		}
		return value{node: Softmax(x.logical(), axis)}
	case "ReduceMean", "ReduceMax":
		keep := at["keepdims"]
		if keep == nil || keep[0] != 0 {
			fail("keepdims=1 is not supported")
		}
		var axes []int
		for _, a := range at["axes"] {
			axes = append(axes, storageAxis(x, int(a)))
		}
		if op == "ReduceMean" {
			return value{node: ReduceMean(x.node, axes...)}
		}
		return value{node: ReduceMax(x.node, axes...)}
	}
	fail("unsupported")
	return value{}
}
