package freeze

import (
	"container/list"
	"errors"
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
	"github.com/vggnb/vggnb/internal/errkind"
	"github.com/vggnb/vggnb/weights"
)

// SupportedOps are the ONNX ops Runner runs: those the freezer writes.
var SupportedOps = []string{"Transpose", "Conv", "Relu", "Identity", "MaxPool", "Flatten", "Gemm", "Softmax", "ReduceMean", "ReduceMax"}

// DefaultMaxGraphs is how many compiled graphs (one per input shape) a Runner
// keeps unless SetMaxGraphs says otherwise.
const DefaultMaxGraphs = 16

// Runner runs a frozen file in GoMLX (the pure-Go backend unless another is
// given): the ops are rebuilt as a GoMLX graph, the weights become variables of
// its own store, and Conv runs as gomlx_vgg.Conv2D in NHWC (the transposes
// around the NCHW part cancel out rather than run). It is safe for concurrent
// use; runs are serialised.
//
// A graph is compiled for each input shape and kept for the next input of
// that shape, up to SetMaxGraphs graphs: the least recently used one is then
// freed, so that any number of distinct shapes runs (a server's clients
// choose them), each new one paying its compilation again.
type Runner struct {
	file    *File
	backend compute.Backend
	store   *model.Store

	// weights are the initializers' dims (ONNX layout) by name: OutputShape's
	// shape rules read them.
	weights map[string][]int

	// plan is the graph on the native kernels (nil when a node is not one
	// they run: planErr says which); engine is what Run uses.
	plan    *native
	planErr error
	engine  gomlx_vgg.Engine

	mu        sync.Mutex
	maxGraphs int
	graphs    map[string]*list.Element // of *compiled, by input shape
	lru       list.List                // most recently used first
	compiles  int
}

// compiled is the graph of one input shape.
type compiled struct {
	shape string
	exec  *model.Exec
}

// Runner prepares f to run on backend (nil: the pure-Go backend). Conv kernels
// are stored (kh, kw, in, out), as Keras and gomlx_vgg.Conv2D have them.
func (f *File) Runner(backend compute.Backend) (*Runner, error) {
	goBackend := backend == nil
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
	initDims := map[string][]int{}
	for _, t := range g.Initializer {
		dims := make([]int, len(t.Dims))
		for i, d := range t.Dims {
			dims[i] = int(d)
		}
		initDims[t.Name] = slices.Clone(dims)
		var value *tensors.Tensor
		if convKernel[t.Name] {
			if len(dims) != 4 {
				return nil, fmt.Errorf("freeze: %s: Conv weights %s have dims %v", f.Path, t.Name, dims)
			}
			data, hwio := permute(weights.Float32sFromLE(t.RawData), dims, []int{2, 3, 1, 0}) // OIHW -> HWIO
			value = tensors.FromFlatDataAndDimensions(data, hwio...)
		} else { // decoded straight into the tensor: no second copy of a large (fc1: 411 MB) weight
			value = tensors.FromShape(shapes.Make(dtypes.Float32, dims...))
			tensors.MustMutableFlatData(value, func(d []float32) { weights.DecodeFloat32sLE(d, t.RawData) })
		}
		if _, err := store.CreateVariable(varPath(t.Name), value); err != nil {
			return nil, fmt.Errorf("freeze: %s: initializer %s: %w", f.Path, t.Name, err)
		}
	}
	for v := range store.IterVariables() {
		v.Trainable = false
	}
	r := &Runner{file: f, backend: backend, store: store, weights: initDims, maxGraphs: DefaultMaxGraphs, graphs: map[string]*list.Element{},
		engine: gomlx_vgg.EngineAuto}
	if goBackend {
		if err := r.planNative(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// planNative plans the graph on the native kernels: an error for a file they
// show damaged (weights not finite, impossible dims), else r.plan or, where
// a node is not one they run, r.planErr.
func (r *Runner) planNative() error {
	if r.plan != nil || r.planErr != nil {
		return nil
	}
	r.plan, r.planErr = newNative(r.file, r.weightData)
	if errors.Is(r.planErr, ErrBadFile) {
		return fmt.Errorf("freeze: %s: %w", r.file.Path, r.planErr)
	}
	return nil
}

// weightData is the initializer name's values and dims as the runner stores
// them (Conv kernels (kh, kw, in, out)).
func (r *Runner) weightData(name string) ([]float32, []int, bool) {
	v := r.store.GetVariable(varPath(name))
	if v == nil {
		return nil, nil, false
	}
	t, err := v.Value()
	if err != nil || t.DType() != dtypes.Float32 {
		return nil, nil, false
	}
	var data []float32
	if err := tensors.ConstFlatData(t, func(d []float32) { data = d }); err != nil {
		return nil, nil, false
	}
	return data, t.Shape().Dimensions, true
}

// SetEngine chooses what Run runs: gomlx_vgg.EngineNative, vggnb's native
// kernels, when every node of the graph is one they run (3x3 'same'
// convolutions, 2x2 max pooling, dense layers, flatten, softmax, global
// pooling: every frozen VGG), else an error saying which node is not;
// gomlx_vgg.EngineGraph, the GoMLX graph on the runner's backend; or
// gomlx_vgg.EngineAuto (the default), native on the pure-Go backend where it
// can, else the graph.
func (r *Runner) SetEngine(e gomlx_vgg.Engine) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch e {
	case gomlx_vgg.EngineNative:
		if err := r.planNative(); err != nil {
			return err
		}
		if r.plan == nil {
			return fmt.Errorf("freeze: %s: the native kernels cannot run this graph: %w", r.file.Path, r.planErr)
		}
	case gomlx_vgg.EngineGraph, gomlx_vgg.EngineAuto, "":
	default:
		return fmt.Errorf("freeze: engine %q: want %s, %s or %s", e, gomlx_vgg.EngineAuto, gomlx_vgg.EngineNative, gomlx_vgg.EngineGraph)
	}
	if e == "" {
		e = gomlx_vgg.EngineAuto
	}
	r.engine = e
	return nil
}

// Engine is what Run runs now: gomlx_vgg.EngineNative or gomlx_vgg.EngineGraph.
func (r *Runner) Engine() gomlx_vgg.Engine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.engineLocked()
}

func (r *Runner) engineLocked() gomlx_vgg.Engine {
	if r.plan != nil && r.engine != gomlx_vgg.EngineGraph {
		return gomlx_vgg.EngineNative
	}
	return gomlx_vgg.EngineGraph
}

// NativeReason says why the runner runs the graph rather than the native
// kernels ("" when it can run them).
func (r *Runner) NativeReason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.plan != nil {
		return ""
	}
	if r.planErr != nil {
		return r.planErr.Error()
	}
	return "the runner's backend is not the pure-Go one"
}

// SetMaxGraphs sets how many compiled graphs the runner keeps (n < 1: one),
// freeing the least recently used ones beyond it.
func (r *Runner) SetMaxGraphs(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.maxGraphs = max(n, 1)
	r.evict()
}

// Graphs reports how many compiled graphs the runner keeps now, and how many
// it has compiled in all.
func (r *Runner) Graphs() (kept, compiled int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lru.Len(), r.compiles
}

// evict frees the least recently used graphs beyond maxGraphs; r.mu is held.
func (r *Runner) evict() {
	for r.lru.Len() > r.maxGraphs {
		e := r.lru.Back()
		c := r.lru.Remove(e).(*compiled)
		delete(r.graphs, c.shape)
		c.exec.Finalize()
	}
}

// execFor returns the graph for inputs of dims, made if needed; r.mu is held.
func (r *Runner) execFor(dims []int) (*model.Exec, error) {
	key := fmt.Sprint(dims)
	if e, ok := r.graphs[key]; ok {
		r.lru.MoveToFront(e)
		return e.Value.(*compiled).exec, nil
	}
	exec, err := model.NewExec(r.backend, r.store, r.build)
	if err != nil {
		return nil, err
	}
	exec.SetMaxCache(1) // this shape only
	r.graphs[key] = r.lru.PushFront(&compiled{shape: key, exec: exec})
	r.compiles++
	r.evict()
	return exec, nil
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
	if r.engineLocked() == gomlx_vgg.EngineNative {
		y, err := r.plan.run(x)
		if err != nil {
			return nil, fmt.Errorf("freeze: %s: %w", r.file.Path, err)
		}
		return y, nil
	}
	exec, err := r.execFor(x.Shape().Dimensions)
	if err != nil {
		return nil, fmt.Errorf("freeze: %s: %w", r.file.Path, err)
	}
	outs, err := exec.Exec(x)
	if err != nil {
		return nil, fmt.Errorf("freeze: %s: %w", r.file.Path, err)
	}
	return outs[0], nil
}

// CheckInput says whether an input of dims fits the graph's input, and
// leaves every node an output (OutputShape: ErrInputTooSmall), without
// running anything.
func (r *Runner) CheckInput(dims []int) error {
	in := r.file.Input
	ok := len(dims) == len(in.Dims)
	for i := 0; ok && i < len(dims); i++ {
		ok = dims[i] > 0 && (in.Dims[i] < 0 || in.Dims[i] == dims[i])
	}
	if !ok {
		return fmt.Errorf("freeze: %s: input %v does not fit %s", r.file.Path, dims, in)
	}
	_, _, err := r.OutputShape(dims)
	return err
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

// ErrInputTooSmall is matched by CheckInput's and OutputShape's errors for an
// input whose pooling leaves no pixels (or whose 'valid' convolutions do).
var ErrInputTooSmall = errors.New("freeze: input too small for the model")

// OutputShape is the output's shape for an input of dims, found from the
// nodes' shape rules without running them, with the most values any one
// node's output holds (an activation's size, for a memory estimate). An input
// that a node leaves empty is an error of kind ErrInputTooSmall naming it; a
// graph that names a value nothing makes, one of kind ErrBadFile.
func (r *Runner) OutputShape(dims []int) (out []int, largest int64, err error) {
	out, largest, _, err = r.walk(dims)
	return out, largest, err
}

// EstimateBytes is about the most memory a run on an input of dims takes
// beyond the weights, found from the nodes' shapes without running them: the
// largest node's input, output and, for a convolution, its im2col matrix
// (every 3x3 patch of the input: 9x the input), twice over for the
// backend's copies. Measured on VGG16 cut at block1_pool, 800x800: 3.0 GB
// more resident memory, estimated 3.6 GB.
func (r *Runner) EstimateBytes(dims []int) (int64, error) {
	_, _, work, err := r.walk(dims)
	return 2 * 4 * work, err
}

// walk is OutputShape, with the most values one node holds at once (its
// input, output and im2col matrix).
func (r *Runner) walk(dims []int) (out []int, largest, work int64, err error) {
	g := r.file.Model.GetGraph()
	vals := map[string][]int{r.file.Input.Name: slices.Clone(dims)}
	size := func(d []int) int64 {
		n := int64(1)
		for _, v := range d {
			n *= int64(v)
		}
		return n
	}
	largest, work = size(dims), size(dims)
	for _, n := range g.Node {
		if len(n.Input) == 0 || len(n.Output) == 0 {
			return nil, 0, 0, errkind.With(ErrBadFile, fmt.Errorf("freeze: %s: node %s (%s) has no input or output", r.file.Path, n.Name, n.OpType))
		}
		x, ok := vals[n.Input[0]]
		if !ok {
			return nil, 0, 0, errkind.With(ErrBadFile, fmt.Errorf("freeze: %s: node %s (%s): unknown value %s", r.file.Path, n.Name, n.OpType, n.Input[0]))
		}
		at := attrs(n.Attribute)
		weight := func(i int) []int {
			if i < len(n.Input) {
				return r.weights[n.Input[i]]
			}
			return nil
		}
		y := slices.Clone(x)
		bad := false
		switch n.OpType {
		case "Transpose":
			perm := at["perm"]
			bad = len(perm) != len(x)
			for i := 0; !bad && i < len(perm); i++ {
				bad = perm[i] < 0 || int(perm[i]) >= len(x)
				if !bad {
					y[i] = x[perm[i]]
				}
			}
		case "Conv": // NCHW, kernel (O, I, kh, kw), stride 1, 'same' or 'valid'
			k := weight(1)
			if bad = len(x) != 4 || len(k) != 4 || x[1] != k[1]; !bad {
				y[1] = k[0]
				if pads := at["pads"]; pads == nil || slices.Equal(pads, []int64{0, 0, 0, 0}) {
					y[2], y[3] = x[2]-k[2]+1, x[3]-k[3]+1
				}
			}
		case "MaxPool": // 2x2, stride 2
			if bad = len(x) != 4; !bad {
				y[2], y[3] = x[2]/2, x[3]/2
			}
		case "Flatten":
			if bad = len(x) < 2; !bad {
				y = []int{x[0], int(size(x[1:]))}
			}
		case "Gemm":
			b := weight(1)
			if t := at["transB"]; len(b) == 2 && t != nil && t[0] != 0 {
				b = []int{b[1], b[0]}
			}
			if bad = len(x) != 2 || len(b) != 2 || x[1] != b[0]; !bad {
				y = []int{x[0], b[1]}
			}
		case "ReduceMean", "ReduceMax":
			y = nil
			for i, d := range x {
				if !slices.Contains(at["axes"], int64(i)) {
					y = append(y, d)
				}
			}
		}
		if bad {
			return nil, 0, 0, fmt.Errorf("freeze: %s: node %s (%s) cannot take an input of shape %v", r.file.Path, n.Name, n.OpType, x)
		}
		for _, d := range y {
			if d <= 0 {
				return nil, 0, 0, errkind.With(ErrInputTooSmall, fmt.Errorf("freeze: %s: an input of %v is too small: node %s (%s) would give %v",
					r.file.Path, dims, n.Name, n.OpType, y))
			}
		}
		vals[n.Output[0]] = y
		largest = max(largest, size(y))
		w := size(x) + size(y)
		if k := weight(1); n.OpType == "Conv" && len(k) == 4 {
			w += size(y) / int64(k[0]) * int64(k[1]*k[2]*k[3]) // one row of kh*kw*in per output pixel
		}
		work = max(work, w)
	}
	out, ok := vals[g.Output[0].Name]
	if !ok {
		return nil, 0, 0, errkind.With(ErrBadFile, fmt.Errorf("freeze: %s: no node makes the output %s", r.file.Path, g.Output[0].Name))
	}
	return out, largest, work, nil
}
