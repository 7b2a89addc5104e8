// Package nb01 is the source of notebooks/01_vgg19_consistency.ipynb: "Use Keras
// pretrained models with TensorFlow" in Go. go run ./notebooks/gen writes the
// notebook from it; the //gonb: comments mark its cells (see notebooks/gen).
//
//gonb:notebook 01_vgg19_consistency.ipynb
package nb01

//gonb:markdown
/*
# VGG19 in Go: the same activations as Keras, checked

This notebook reproduces the blog post *"Use Keras pretrained models with TensorFlow"* in Go with
[GoMLX](https://github.com/gomlx/gomlx), running in [GoNB](https://github.com/janpfeifer/gonb):

1. build Keras' **VGG19 without its top** and load its weights from a Keras `.h5` file;
2. run a photo through it and read **`block5_pool`** — shape `(1, 6, 9, 512)` for a 200×300 photo — and its
   mean as a "hash" of the activations;
3. build the model a second way and get the identical number;
4. walk through the **four pitfalls** of the post and the GoMLX guard for each;
5. check, layer by layer, that **pure Go** computes the same activations as PyTorch in **float64** (the
   truth), as closely as PyTorch's own float32 does — both pure-Go ways:
   vggnb's native kernels (what `Outputs` runs on the Go backend, ~0.1 s for VGG19) and the GoMLX graph;
6. look inside: activation maps, histograms, per-layer means, the model summary and its graph.

**Weights.** If the official Keras file `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` is on this machine
(`vggnb weights fetch --model vgg19`), it is used. Otherwise the notebook uses **SYNTHETIC weights**:
deterministic random values written in the real Keras file layout. Everything below then still checks the
*computation* (both implementations read the same file), but predictions and pictures mean nothing — every
cell that uses them says so.

**After a kernel restart, run the Set-up cell first** (it pins the modules and imports the packages); every other
cell then runs on its own, in any order.
*/

//gonb:markdown
/*
## Set-up

Each GoNB cell is compiled and run as a whole Go program. This cell pins the GoMLX modules (the module proxy here
refuses `@latest`, which GoNB's automatic `go get` would ask for) and imports the packages; the `vggnb` kernel
resolves `github.com/vggnb/vggnb/...` to this checkout. The helpers the cells share come from one package,
`notebooks/nb`: `nb.VGG19Weights` finds the real weights or writes the synthetic ones once, in the Keras 2 layout,
so that PyTorch can read the very same file later; `nb.Photo` is the demo photograph, preprocessed.
*/

//gonb:setup
import (
	"fmt"
	"math"
	"os"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/notebooks/nb"
	"github.com/vggnb/vggnb/weights"
)

//gonb:main
func _() {
	path, synthetic := nb.VGG19Weights()
	fmt.Println("weights file:", path)
	if synthetic {
		display.MustShow(display.Markdown("**⚠ " + weights.SyntheticNotice + "**"))
	}
}

//gonb:markdown
/*
## 1. The model

`gomlx_vgg.VGG19()` takes Keras' arguments as builder options: `IncludeTop(false)` is `include_top=False`.
Without the top, the input size is free (`None`), as in Keras. Pretrained weights are **frozen** unless you
ask (`Trainable(true)`), so nothing trains them by accident.
*/

//gonb:main
func _() {
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	display.MustShow(display.Summary(m))
}

//gonb:markdown
/*
## 2. Features of a photo: `block5_pool` and its "hash"

The post feeds a 200×300 image and reads `vgg['block5_pool']`. `Outputs` returns any layer by name from one
run. Five 2×2 poolings turn 200×300 into ⌊200/32⌋×⌊300/32⌋ = 6×9.

Pure Go computes it two ways: `Outputs` runs vggnb's **native kernels**, `GraphOutputs` the **GoMLX graph**
(what `Apply`, training and every executor below run). They add the same float32 products in different orders,
so their hashes differ in the 7th decimal (about 1e-8 relative), as float32 rounding allows; section 4 shows
both within 1e-6 of PyTorch's float64 truth on every layer. Within one way the hash is identical, run after run and
between the two constructions.
*/

//gonb:main
func _() {
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	native, err := m.Outputs(nb.Photo(200, 300), "block5_pool")
	nb.Must(err)
	graphOuts, err := m.GraphOutputs(nb.Photo(200, 300), "block5_pool")
	nb.Must(err)
	n, g := gomlx_vgg.StatsOf(native["block5_pool"]), gomlx_vgg.StatsOf(graphOuts["block5_pool"])
	fmt.Printf("block5_pool shape %v\n", n.Shape)
	fmt.Printf("block5_pool mean (the hash): native kernels %.9g, GoMLX graph %.9g\n",
		n.Mean, g.Mean)
	fmt.Printf("relative difference %.1e\n", math.Abs(n.Mean-g.Mean)/g.Mean)
}

//gonb:markdown
/*
### The same model, built the second way

In the post, the second way passes the input tensor when the model is constructed. Here that is
`InputShape(200, 300, 3)`: the shape is fixed at construction and checked on every call. The hash must be
**identical** — the same weights, the same computation (the native kernels, as above).
*/

//gonb:main
func _() {
	first := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	second := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false).InputShape(200, 300, 3))
	x := nb.Photo(200, 300)
	a, err := first.Predict(x)
	nb.Must(err)
	b, err := second.Predict(x)
	nb.Must(err)
	ma, mb := gomlx_vgg.StatsOf(a).Mean, gomlx_vgg.StatsOf(b).Mean
	fmt.Printf("first way  %.9g\nsecond way %.9g\nidentical: %v\n", ma, mb, ma == mb)
	if ma != mb {
		panic("the two constructions disagree")
	}
}

//gonb:markdown
/*
## 3. The four pitfalls, and their guards

### Pitfall 1 — a fresh session forgets the loaded weights
In TensorFlow 1, a new `Session` starts with uninitialised variables: the pretrained weights had to be loaded
again. In GoMLX the values live in the model's `Store`, not in an executor: **a fresh executor reuses them**.
Executors run the GoMLX graph, so both print the graph's hash from section 2.
*/

//gonb:main
func _() {
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	x := nb.Photo(200, 300)
	run := func() float64 {
		apply := func(scope *model.Scope, x *graph.Node) *graph.Node { return m.Apply(scope, x) }
		exec := model.MustNewExec(m.Backend(), m.Store(), apply)
		defer exec.Finalize()
		return gomlx_vgg.StatsOf(exec.MustExec1(x)).Mean
	}
	r1, r2 := run(), run()
	fmt.Printf("executor 1: %.9g\nexecutor 2: %.9g\nsame: %v\n", r1, r2, r1 == r2)
}

//gonb:markdown
/*
### Pitfall 2 — initialising new variables overwrites the pretrained ones
`tf.global_variables_initializer()` re-initialised *everything*, wiping the loaded weights. GoMLX's
`InitializeVariables` only touches variables **without a value**: add a new head, initialise, and the VGG
weights are bit-for-bit the same.
*/

//gonb:main
func _() {
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	before := nb.SumOfWeights(m)
	head := m.Store().VariableWithShape("/head/kernel", shapes.Make(dtypes.Float32, 512, 10),
		initializer.GlorotUniformFn(m.Store().RootScope()))
	nb.Must(m.Store().InitializeVariables(m.Backend(), nil))
	after := nb.SumOfWeights(m)
	fmt.Println("new head initialised:", head.HasValue())
	fmt.Printf("sum of VGG weights before %.12g\nsum of VGG weights after  %.12g\n", before, after)
	fmt.Println("unchanged:", before == after)
}

//gonb:markdown
/*
### Pitfall 3 — building the model twice duplicates the graph
Calling a Keras application twice created a second copy of the network and its variables. Applying a GoMLX
model to two inputs builds the ops twice (it is two computations) but **shares one set of variables**: the
graph has one parameter per weight, not two. The table counts the ops per layer; the diagram shows what GoMLX
computes for the first layers (a convolution is a padded im2col and one matrix product).
*/

//gonb:main
func _() {
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	count := func(applications int) (ops, params int) {
		sum := func(scope *model.Scope, x *graph.Node) *graph.Node {
			var y *graph.Node
			for range applications {
				out := graph.ReduceAllMean(m.Apply(scope, x))
				if y == nil {
					y = out
				} else {
					y = graph.Add(y, out)
				}
			}
			return y
		}
		exec := model.MustNewExec(m.Backend(), m.Store(), sum)
		defer exec.Finalize()
		g, err := exec.Compile(shapes.Make(dtypes.Float32, 1, 64, 64, 3))
		nb.Must(err)
		return len(g.Nodes()), g.NumParameters()
	}
	ops1, params1 := count(1)
	ops2, params2 := count(2)
	fmt.Printf("applied once:  %4d ops, %2d parameters (1 input + %d variables)\n",
		ops1, params1, params1-1)
	fmt.Printf("applied twice: %4d ops, %2d parameters — the same %d variables\n",
		ops2, params2, params2-1)
	fmt.Printf("variables in the store: %d\n", m.Store().NumVariables())
	groups, err := m.Ops(1, 64, 64, 3)
	nb.Must(err)
	svg, err := display.OpGraph(groups, 4)
	nb.Must(err)
	display.MustShow(display.OpCounts(groups), svg)
}

//gonb:markdown
/*
### Pitfall 4 — training an input also trains the network
To optimise an *image* (deep-dream style), only the image may change. The VGG variables are frozen, so the
gradient is taken with respect to the trainable image variable alone: after a few steps of gradient ascent on
`block5_pool`'s mean, the image has changed and the sum of the VGG weights has not.
*/

//gonb:main
func _() {
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	img, err := m.Store().CreateVariable("/input_image", nb.Photo(64, 64))
	nb.Must(err)
	img.Trainable = true
	imageSum := func() (s float64) {
		tensors.ConstFlatData(img.MustValue(), func(f []float32) {
			for _, x := range f {
				s += float64(x)
			}
		})
		return
	}
	vggBefore, imgBefore := nb.SumOfWeights(m), imageSum()
	var trained int
	ascend := func(scope *model.Scope, g *graph.Graph) *graph.Node {
		x := img.NodeValue(g)
		objective := graph.ReduceAllMean(m.Apply(scope, x))
		grads := scope.BuildTrainableVariablesGradientsGraph(objective)
		trained = len(grads)
		img.SetNodeValue(graph.Add(x, graph.MulScalar(grads[0], 1000)))
		return objective
	}
	step := model.MustNewExec(m.Backend(), m.Store(), ascend)
	for i := range 3 {
		fmt.Printf("step %d: block5_pool mean %.6g\n", i, step.MustExec1().Value())
	}
	fmt.Printf("variables with a gradient: %d (the image)\n", trained)
	vggAfter := nb.SumOfWeights(m)
	fmt.Printf("VGG weights sum: before %.12g, after %.12g, unchanged: %v\n",
		vggBefore, vggAfter, vggBefore == vggAfter)
	fmt.Printf("image sum:       before %.6g, after %.6g\n", imgBefore, imageSum())
}

//gonb:markdown
/*
## 4. Consistency: pure Go vs float64 truth, layer by layer

An independent implementation — PyTorch (Debian's `python3-torch`), reading the same `.h5` with h5py and the
same photo with PIL, as Keras would — computes every layer **in float64**: the float32 weights and the
preprocessed image are converted after loading, so its rounding (~1e-16) is far below the tolerance and the
truth does not depend on which BLAS this machine has. The table puts the means side by side and passes a layer
when max|Go − truth| / max|truth| ≤ 1e-5. The last column is PyTorch's own **float32** run measured against the
same truth: Go's error sits at the same scale (a few 1e-7), which is what float32 arithmetic allows.

Pure Go computes it two ways, and both are checked: `Outputs` on the Go backend runs vggnb's **native kernels**
(a fused 3×3 convolution + bias + ReLU in assembly: AVX-512, AVX2 or NEON, chosen at run time), and `GraphOutputs` runs
the **GoMLX graph** that `Apply` builds (the one you train and differentiate).
*/

//gonb:main
func _() {
	path, synthetic := nb.VGG19Weights()
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	layers := append([]string{weights.InputLayerName}, m.LayerNames()...)
	goOuts, err := m.Outputs(nb.Photo(200, 300), layers...)
	nb.Must(err)
	photo, err := imagenet.DemoImageFile()
	nb.Must(err)
	ref, err := nb.Reference(torchref.Options{Python: nb.Python(), CacheDir: nb.ReferenceCache(),
		Weights: path, Model: "vgg19", Image: photo, Height: 200, Width: 300, Float32: true})
	nb.Must(err)
	truth, torch32 := consistency.FromTorch(ref)
	// check compares outs with the truth, layer by layer, PyTorch float32 beside.
	check := func(name string, outs map[string]*tensors.Tensor) *consistency.Report {
		r := consistency.Check(consistency.FromTensors(name, outs), truth, layers, 1e-5)
		return r.Beside(torch32)
	}
	report := check("pure Go, native kernels", goOuts)
	display.MustShow(display.ConsistencyTable(report))
	graphOuts, err := m.GraphOutputs(nb.Photo(200, 300), layers...)
	nb.Must(err)
	graphReport := check("pure Go, GoMLX graph", graphOuts)
	display.MustShow(display.ConsistencyTable(graphReport))
	if synthetic {
		fmt.Println("(SYNTHETIC weights: the check compares computations, not ImageNet features)")
	}
	for _, r := range []*consistency.Report{report, graphReport} {
		if !r.Passed() {
			panic(fmt.Sprintf("layers disagree with the float64 truth: %v", r.Failed()))
		}
	}
	// With a PJRT plugin on this machine the kernel links XLA
	// (see `vggnb kernel doctor`): compare it too.
	if plugin := os.Getenv("VGGNB_XLA_PLUGIN"); plugin != "" && gomlx_vgg.XLALinked() {
		backend, err := gomlx_vgg.NewBackend("xla:" + plugin)
		nb.Must(err)
		mx := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false).Backend(backend))
		xlaOuts, err := mx.Outputs(nb.Photo(200, 300), layers...)
		nb.Must(err)
		display.MustShow(display.ConsistencyTable(check("XLA "+plugin, xlaOuts)))
	} else {
		fmt.Println("XLA: no PJRT plugin on this machine (or not linked), skipped;",
			"see `vggnb kernel doctor`")
	}
}

//gonb:markdown
/*
## 5. Inside the network

Activation maps of the first and last convolutions (one tile per channel, viridis: dark is low, yellow high),
the distribution of `block5_conv4`'s values (mostly exact zeros after the ReLU, hence the log scale), and the
mean activation of every layer.
*/

//gonb:main
func _() {
	_, synthetic := nb.VGG19Weights()
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	outs, err := m.Outputs(nb.Photo(200, 300), gomlx_vgg.AllLayers)
	nb.Must(err)
	if synthetic {
		display.MustShow(display.Markdown(
			"**⚠ SYNTHETIC weights: these pictures show random filters, not ImageNet features.**"))
	}
	grid := func(layer string) display.PNG {
		g, err := display.ActivationGrid(outs[layer], display.Channels(32), display.Columns(8))
		nb.Must(err)
		return g
	}
	g1, g5 := grid("block1_conv1"), grid("block5_conv4")
	stats := m.Stats(outs)
	display.MustShow(
		display.Markdown("**block1_conv1**, first 32 of 64 channels"), g1,
		display.Markdown("**block5_conv4**, first 32 of 512 channels"), g5,
		display.Histogram("block5_conv4 values", outs["block5_conv4"], 60, true),
		display.LayerMeans("mean activation per layer", stats),
		display.StatsTable("layer statistics (200x300 photo)", stats),
		display.ChannelMeansTable("block5_pool: mean of each channel (first 64)",
			display.ChannelMeans(outs["block5_pool"])[:64]),
	)
	var nonFinite int
	for _, s := range stats {
		if math.IsNaN(s.Mean) || math.IsInf(s.Mean, 0) {
			nonFinite++
		}
	}
	fmt.Println("layers with non-finite values:", nonFinite)
}

//gonb:markdown
/*
## 6. The graph

The Keras layer graph with output shapes and parameter counts, drawn without a system Graphviz.
*/

//gonb:main
func _() {
	m := nb.VGG19(gomlx_vgg.VGG19().IncludeTop(false).InputShape(200, 300, 3))
	svg, err := display.LayerGraph(m)
	nb.Must(err)
	display.MustShow(svg)
}

//gonb:markdown
/*
## What we checked

- `block5_pool` of a 200×300 photo has shape (1, 6, 9, 512), and both ways of building the model give the
  same hash;
- the pretrained weights survive fresh executors, new variables' initialisation, a second application and
  an optimisation of the input;
- pure Go agrees with PyTorch's float64 computation on every layer within 1e-5 (relative to the largest
  activation), as closely as PyTorch's own float32 run does.

Run it headless with `vggnb kernel run notebooks/01_vgg19_consistency.ipynb` (CI does), which fails on any
cell that does not compile, panics or errors.
*/
