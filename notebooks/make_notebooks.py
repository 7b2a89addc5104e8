#!/usr/bin/python3
"""Writes notebooks/*.ipynb from the cell sources below (run it after editing them).
The notebooks are what users open; this script only keeps their JSON tidy and reviewable."""
import os
import nbformat as nbf

HERE = os.path.dirname(os.path.abspath(__file__))
KERNEL = {"name": "vggnb", "display_name": "Go (vggnb)", "language": "go"}

def md(s): return nbf.v4.new_markdown_cell(s.strip())
def code(s): return nbf.v4.new_code_cell(s.strip())

nb01 = [
md("""
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
   vggnb's native kernels (what `Outputs` runs on the Go backend, ~0.2 s for VGG19) and the GoMLX graph;
6. look inside: activation maps, histograms, per-layer means, the model summary and its graph.

**Weights.** If the official Keras file `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5` is on this machine
(`vggnb weights fetch --model vgg19`), it is used. Otherwise the notebook uses **SYNTHETIC weights**:
deterministic random values written in the real Keras file layout. Everything below then still checks the
*computation* (both implementations read the same file), but predictions and pictures mean nothing — every
cell that uses them says so.
"""),
md("""
## Set-up

Each GoNB cell is compiled and run as a whole Go program; functions declared here stay available to later
cells. The `vggnb` kernel resolves `github.com/vggnb/vggnb/...` to this checkout; the first cell pins the GoMLX
modules (the module proxy here refuses `@latest`, which GoNB's automatic `go get` would ask for). `weightsFile` finds the real weights or writes the synthetic ones once, in the Keras 2 layout, so
that PyTorch can read the very same file later.
"""),
code("""
!*go get github.com/gomlx/gomlx@v0.28.8 github.com/gomlx/compute@v0.1.6
"""),
code("""
import (
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// weightsFile returns the VGG19 no-top weight file: ImageNet's if verified on this machine,
// else SYNTHETIC weights written once in the Keras layout.
func weightsFile() (path string, synthetic bool) {
	e, err := weights.ImageNet("vgg19", false)
	must(err)
	if p, err := download.Local(e); err == nil {
		return p, false
	}
	p := filepath.Join(download.CacheDir(), "synthetic", "vgg19_notop_seed1.h5")
	if _, err := os.Stat(p); err != nil {
		must(os.MkdirAll(filepath.Dir(p), 0o755))
		tmp := p + ".tmp"
		must(weights.WriteKeras2(tmp, weights.Synthetic(weights.MustVGG("vgg19", false, 0), 1)))
		must(os.Rename(tmp, p))
	}
	return p, true
}

// vgg19 builds VGG19 without its top on the weights above.
func vgg19(b *gomlx_vgg.Builder) *gomlx_vgg.Model {
	path, _ := weightsFile()
	return b.Weights(gomlx_vgg.WeightSource(path)).MustDone()
}

// photo is the demo photograph (Chelsea the cat, CC0, from scikit-image).
func photo() string {
	dir := os.Getenv("VGGNB_CHECKOUT")
	if dir == "" {
		dir = ".."
	}
	return filepath.Join(dir, "gomlx_vgg", "demo", "chelsea.png")
}

// input loads the photo at h x w like Keras' load_img and applies preprocess_input.
func input(h, w int) *tensors.Tensor {
	img, err := gomlx_vgg.LoadImg(photo(), gomlx_vgg.TargetSize(h, w))
	must(err)
	x, err := gomlx_vgg.PreprocessInput(gomlx_vgg.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
	must(err)
	return gomlx_vgg.MustBatch(x)
}

// sumOfWeights adds up every VGG variable: a quick fingerprint of the pretrained weights.
func sumOfWeights(m *gomlx_vgg.Model) float64 {
	var s float64
	for v := range m.Store().IterVariables() {
		if v.Path() == "/input_image" || v.Path() == "/head/kernel" {
			continue
		}
		tensors.ConstFlatData(v.MustValue(), func(f []float32) {
			for _, x := range f {
				s += float64(x)
			}
		})
	}
	return s
}

%%
path, synthetic := weightsFile()
fmt.Println("weights file:", path)
if synthetic {
	display.MustShow(display.Markdown("**⚠ " + weights.SyntheticNotice + "**"))
}
"""),
md("""
## 1. The model

`gomlx_vgg.VGG19()` takes Keras' arguments as builder options: `IncludeTop(false)` is `include_top=False`.
Without the top, the input size is free (`None`), as in Keras. Pretrained weights are **frozen** unless you
ask (`Trainable(true)`), so nothing trains them by accident.
"""),
code("""
%%
m := vgg19(gomlx_vgg.VGG19().IncludeTop(false))
display.MustShow(display.Summary(m))
"""),
md("""
## 2. Features of a photo: `block5_pool` and its "hash"

The post feeds a 200×300 image and reads `vgg['block5_pool']`. `Outputs` returns any layer by name from one
run. Five 2×2 poolings turn 200×300 into ⌊200/32⌋×⌊300/32⌋ = 6×9.
"""),
code("""
%%
m := vgg19(gomlx_vgg.VGG19().IncludeTop(false))
outs, err := m.Outputs(input(200, 300), "block5_pool")
must(err)
s := gomlx_vgg.StatsOf(outs["block5_pool"])
fmt.Printf("block5_pool shape %v\\n", s.Shape)
fmt.Printf("block5_pool mean (the hash) %.9g\\n", s.Mean)
"""),
md("""
### The same model, built the second way

In the post, the second way passes the input tensor when the model is constructed. Here that is
`InputShape(200, 300, 3)`: the shape is fixed at construction and checked on every call. The hash must be
**identical** — the same weights, the same graph.
"""),
code("""
%%
first := vgg19(gomlx_vgg.VGG19().IncludeTop(false))
second := vgg19(gomlx_vgg.VGG19().IncludeTop(false).InputShape(200, 300, 3))
x := input(200, 300)
a, err := first.Predict(x)
must(err)
b, err := second.Predict(x)
must(err)
ma, mb := gomlx_vgg.StatsOf(a).Mean, gomlx_vgg.StatsOf(b).Mean
fmt.Printf("first way  %.9g\\nsecond way %.9g\\nidentical: %v\\n", ma, mb, ma == mb)
if ma != mb {
	panic("the two constructions disagree")
}
"""),
md("""
## 3. The four pitfalls, and their guards

### Pitfall 1 — a fresh session forgets the loaded weights
In TensorFlow 1, a new `Session` starts with uninitialised variables: the pretrained weights had to be loaded
again. In GoMLX the values live in the model's `Store`, not in an executor: **a fresh executor reuses them**.
"""),
code("""
%%
m := vgg19(gomlx_vgg.VGG19().IncludeTop(false))
x := input(200, 300)
run := func() float64 {
	exec := model.MustNewExec(m.Backend(), m.Store(), func(scope *model.Scope, x *graph.Node) *graph.Node {
		return m.Apply(scope, x)
	})
	defer exec.Finalize()
	return gomlx_vgg.StatsOf(exec.MustExec1(x)).Mean
}
r1, r2 := run(), run()
fmt.Printf("executor 1: %.9g\\nexecutor 2: %.9g\\nsame: %v\\n", r1, r2, r1 == r2)
"""),
md("""
### Pitfall 2 — initialising new variables overwrites the pretrained ones
`tf.global_variables_initializer()` re-initialised *everything*, wiping the loaded weights. GoMLX's
`InitializeVariables` only touches variables **without a value**: add a new head, initialise, and the VGG
weights are bit-for-bit the same.
"""),
code("""
%%
m := vgg19(gomlx_vgg.VGG19().IncludeTop(false))
before := sumOfWeights(m)
head := m.Store().VariableWithShape("/head/kernel", shapes.Make(dtypes.Float32, 512, 10),
	initializer.GlorotUniformFn(m.Store().RootScope()))
must(m.Store().InitializeVariables(m.Backend(), nil))
after := sumOfWeights(m)
fmt.Printf("new head initialised: %v\\nsum of VGG weights before %.12g\\nsum of VGG weights after  %.12g\\nunchanged: %v\\n",
	head.HasValue(), before, after, before == after)
"""),
md("""
### Pitfall 3 — building the model twice duplicates the graph
Calling a Keras application twice created a second copy of the network and its variables. Applying a GoMLX
model to two inputs builds the ops twice (it is two computations) but **shares one set of variables**: the
graph has one parameter per weight, not two. The table counts the ops per layer; the diagram shows what GoMLX
computes for the first layers (a convolution is a padded im2col and one matrix product).
"""),
code("""
%%
m := vgg19(gomlx_vgg.VGG19().IncludeTop(false))
count := func(applications int) (ops, params int) {
	exec := model.MustNewExec(m.Backend(), m.Store(), func(scope *model.Scope, x *graph.Node) *graph.Node {
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
	})
	defer exec.Finalize()
	g, err := exec.Compile(shapes.Make(dtypes.Float32, 1, 64, 64, 3))
	must(err)
	return len(g.Nodes()), g.NumParameters()
}
ops1, params1 := count(1)
ops2, params2 := count(2)
fmt.Printf("applied once:  %4d ops, %2d parameters (1 input + %d variables)\\n", ops1, params1, params1-1)
fmt.Printf("applied twice: %4d ops, %2d parameters — the same %d variables\\n", ops2, params2, params2-1)
fmt.Printf("variables in the store: %d\\n", m.Store().NumVariables())
groups, err := m.Ops(1, 64, 64, 3)
must(err)
svg, err := display.OpGraph(groups, 4)
must(err)
display.MustShow(display.OpCounts(groups), svg)
"""),
md("""
### Pitfall 4 — training an input also trains the network
To optimise an *image* (deep-dream style), only the image may change. The VGG variables are frozen, so the
gradient is taken with respect to the trainable image variable alone: after a few steps of gradient ascent on
`block5_pool`'s mean, the image has changed and the sum of the VGG weights has not.
"""),
code("""
%%
m := vgg19(gomlx_vgg.VGG19().IncludeTop(false))
img, err := m.Store().CreateVariable("/input_image", input(64, 64))
must(err)
img.Trainable = true
imageSum := func() (s float64) {
	tensors.ConstFlatData(img.MustValue(), func(f []float32) {
		for _, x := range f {
			s += float64(x)
		}
	})
	return
}
vggBefore, imgBefore := sumOfWeights(m), imageSum()
var trained int
step := model.MustNewExec(m.Backend(), m.Store(), func(scope *model.Scope, g *graph.Graph) *graph.Node {
	x := img.NodeValue(g)
	objective := graph.ReduceAllMean(m.Apply(scope, x))
	grads := scope.BuildTrainableVariablesGradientsGraph(objective)
	trained = len(grads)
	img.SetNodeValue(graph.Add(x, graph.MulScalar(grads[0], 1000)))
	return objective
})
for i := range 3 {
	fmt.Printf("step %d: block5_pool mean %.6g\\n", i, step.MustExec1().Value())
}
fmt.Printf("variables with a gradient: %d (the image)\\n", trained)
fmt.Printf("VGG weights sum: before %.12g, after %.12g, unchanged: %v\\n", vggBefore, sumOfWeights(m), vggBefore == sumOfWeights(m))
fmt.Printf("image sum:       before %.6g, after %.6g\\n", imgBefore, imageSum())
"""),
md("""
## 4. Consistency: pure Go vs float64 truth, layer by layer

An independent implementation — PyTorch (Debian's `python3-torch`), reading the same `.h5` with h5py and the
same photo with PIL, as Keras would — computes every layer **in float64**: the float32 weights and the
preprocessed image are converted after loading, so its rounding (~1e-16) is far below the tolerance and the
truth does not depend on which BLAS this machine has. The table puts the means side by side and passes a layer
when max|Go − truth| / max|truth| ≤ 1e-5. The last column is PyTorch's own **float32** run measured against the
same truth: Go's error sits at the same scale (a few 1e-7), which is what float32 arithmetic allows.

Pure Go computes it two ways, and both are checked: `Outputs` on the Go backend runs vggnb's **native kernels**
(a fused 3×3 convolution + bias + ReLU, AVX-512 when built with `GOEXPERIMENT=simd`), and `GraphOutputs` runs
the **GoMLX graph** that `Apply` builds (the one you train and differentiate).
"""),
code("""
%%
path, synthetic := weightsFile()
m := vgg19(gomlx_vgg.VGG19().IncludeTop(false))
goOuts, err := m.Outputs(input(200, 300), append([]string{"input_1"}, m.LayerNames()...)...)
must(err)
ref, err := torchref.Run(torchref.Options{Weights: path, Model: "vgg19", Image: photo(), Height: 200, Width: 300, Float32: true})
must(err)
truth, torch32 := consistency.FromTorch(ref)
layers := append([]string{"input_1"}, m.LayerNames()...)
report := consistency.Check(consistency.FromTensors("pure Go, native kernels", goOuts), truth, layers, 1e-5).Beside(torch32)
display.MustShow(display.ConsistencyTable(report))
graphOuts, err := m.GraphOutputs(input(200, 300), layers...)
must(err)
graphReport := consistency.Check(consistency.FromTensors("pure Go, GoMLX graph", graphOuts), truth, layers, 1e-5).Beside(torch32)
display.MustShow(display.ConsistencyTable(graphReport))
if synthetic {
	fmt.Println("(SYNTHETIC weights: the check compares computations, not ImageNet features)")
}
for _, r := range []*consistency.Report{report, graphReport} {
	if !r.Passed() {
		panic(fmt.Sprintf("layers disagree with the float64 truth: %v", r.Failed()))
	}
}
// With a PJRT plugin on this machine the kernel links XLA (see `vggnb kernel doctor`): compare it too.
if plugin := os.Getenv("VGGNB_XLA_PLUGIN"); plugin != "" && gomlx_vgg.XLALinked() {
	backend, err := gomlx_vgg.NewBackend("xla:" + plugin)
	must(err)
	mx := vgg19(gomlx_vgg.VGG19().IncludeTop(false).Backend(backend))
	xlaOuts, err := mx.Outputs(input(200, 300), layers...)
	must(err)
	xr := consistency.Check(consistency.FromTensors("XLA "+plugin, xlaOuts), truth, layers, 1e-5).Beside(torch32)
	display.MustShow(display.ConsistencyTable(xr))
} else {
	fmt.Println("XLA: no PJRT plugin on this machine (or not linked), skipped; see `vggnb kernel doctor`")
}
"""),
md("""
## 5. Inside the network

Activation maps of the first and last convolutions (one tile per channel, viridis: dark is low, yellow high),
the distribution of `block5_conv4`'s values (mostly exact zeros after the ReLU, hence the log scale), and the
mean activation of every layer.
"""),
code("""
%%
_, synthetic := weightsFile()
m := vgg19(gomlx_vgg.VGG19().IncludeTop(false))
outs, err := m.Outputs(input(200, 300), gomlx_vgg.AllLayers)
must(err)
if synthetic {
	display.MustShow(display.Markdown("**⚠ SYNTHETIC weights: these pictures show random filters, not ImageNet features.**"))
}
g1, err := display.ActivationGrid(outs["block1_conv1"], display.Channels(32), display.Columns(8))
must(err)
g5, err := display.ActivationGrid(outs["block5_conv4"], display.Channels(32), display.Columns(8))
must(err)
stats := m.Stats(outs)
display.MustShow(
	display.Markdown("**block1_conv1**, first 32 of 64 channels"), g1,
	display.Markdown("**block5_conv4**, first 32 of 512 channels"), g5,
	display.Histogram("block5_conv4 values", outs["block5_conv4"], 60, true),
	display.LayerMeans("mean activation per layer", stats),
	display.StatsTable("layer statistics (200x300 photo)", stats),
	display.ChannelMeansTable("block5_pool: mean of each channel (first 64)", display.ChannelMeans(outs["block5_pool"])[:64]),
)
var nonFinite int
for _, s := range stats {
	if math.IsNaN(s.Mean) || math.IsInf(s.Mean, 0) {
		nonFinite++
	}
}
fmt.Println("layers with non-finite values:", nonFinite)
"""),
md("""
## 6. The graph

The Keras layer graph with output shapes and parameter counts, drawn without a system Graphviz.
"""),
code("""
%%
m := vgg19(gomlx_vgg.VGG19().IncludeTop(false).InputShape(200, 300, 3))
svg, err := display.LayerGraph(m)
must(err)
display.MustShow(svg)
"""),
md("""
## What we checked

- `block5_pool` of a 200×300 photo has shape (1, 6, 9, 512), and both ways of building the model give the
  same hash;
- the pretrained weights survive fresh executors, new variables' initialisation, a second application and
  an optimisation of the input;
- pure Go agrees with PyTorch's float64 computation on every layer within 1e-5 (relative to the largest
  activation), as closely as PyTorch's own float32 run does.

Run it headless with `vggnb kernel run notebooks/01_vgg19_consistency.ipynb` (CI does), which fails on any
cell that does not compile, panics or errors.
"""),
]


nb02 = [
md("""
# The seed's MNIST MLP in Go: learning phase, scopes, sharing, batch norm, freezing, devices

*"Keras as a simplified interface to TensorFlow"* trains `Dense(128, relu) → Dense(128, relu) → Dense(10, softmax)`
with SGD (learning rate 0.5, batches of 50) and uses it to show what happens around a model. This notebook does
the same in Go with GoMLX, on **Fashion-MNIST** from Debian's `dataset-fashion-mnist` (offline; MNIST itself is
downloaded with pinned hashes by `mlp.LoadMNIST` where there is network).
"""),
code("""
!*go get github.com/gomlx/gomlx@v0.28.8 github.com/gomlx/compute@v0.1.6
"""),
code("""
import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func data() (train, test *mlp.Dataset) {
	train, test, err := mlp.LoadFashionMNIST("")
	must(err)
	return train, test
}

func flat(t *tensors.Tensor) (v []float32) {
	tensors.ConstFlatData(t, func(f []float32) { v = slices.Clone(f) })
	return
}

%%
train, test := data()
fmt.Printf("%s: %d examples of %dx%d; %s: %d\\n", train.Name, train.Len(), train.Rows, train.Cols, test.Name, test.Len())
fmt.Println("classes:", strings.Join(mlp.FashionMNISTClasses, ", "))
"""),
md("""
## 1. The seed's schedule: 100 steps

Exactly the seed: learning rate 0.5, batches of 50, 100 steps. The accuracy is what 5,000 examples buy.
"""),
code("""
%%
train, test := data()
m := mlp.New(mlp.Config{}, nil)
loss, err := m.Train(train, mlp.SeedScheduleSteps, nil, nil, 0, nil)
must(err)
acc, err := m.Accuracy(test)
must(err)
fmt.Printf("after %d steps: loss %.4f, test accuracy %.4f\\n", m.Steps(), loss, acc)
"""),
md("""
## 2. The full schedule, with a live plot

15 epochs, with the learning rate going from 0.1 to 0.001 along a cosine (the seed's 0.5 is tuned for MNIST;
on Fashion-MNIST it stays near 0.88). The plot redraws in place while it trains; in a terminal, `Train` draws a
progress bar instead.
"""),
code("""
%%
train, test := data()
m := mlp.New(mlp.FullSchedule(), nil)
plot := display.NewLivePlot("Fashion-MNIST, MLP 128-128")
_, err := m.Train(train, mlp.FullScheduleSteps, nil, test, 1200, func(step, total int, loss float32, acc float64) {
	if step%100 == 0 {
		plot.Add("train loss", float64(step), float64(loss))
	}
	if acc >= 0 {
		plot.Add("test accuracy", float64(step), acc)
	}
	if step%1200 == 0 {
		plot.Update()
	}
})
must(err)
acc, err := m.Accuracy(test)
must(err)
fmt.Printf("after %d steps: test accuracy %.4f (the dataset's README lists 0.8833 for an MLP 256-128-100)\\n", m.Steps(), acc)
if acc < 0.88 {
	panic(fmt.Sprintf("full schedule reached only %.4f", acc))
}
"""),
md("""
## 3. The learning phase

Keras' `K.learning_phase()` switched dropout on for training and off for evaluation. In GoMLX the phase belongs
to the graph (`store.SetTraining(g, ...)`): with dropout 0.5 the training-phase outputs change from call to call,
the evaluation-phase ones never do. `Predict` and `Accuracy` always evaluate.
"""),
code("""
%%
train, _ := data()
m := mlp.New(mlp.Config{Dropout: 0.5}, nil)
x := tensors.FromFlatDataAndDimensions(slices.Clone(train.Images[:4*784]), 4, 784)
logits := func(training bool) []float32 {
	return flat(model.MustExecOnce(m.Backend(), m.Store(), func(scope *model.Scope, x *graph.Node) *graph.Node {
		m.Store().SetTraining(x.Graph(), training)
		return m.Logits(scope, x)
	}, x))
}
fmt.Println("evaluation phase, two calls equal:", slices.Equal(logits(false), logits(false)))
fmt.Println("training phase, two calls equal:  ", slices.Equal(logits(true), logits(true)))
"""),
md("""
## 4. Scopes and weight sharing

Variables live under scope names, like TensorFlow's `name_scope`. Applying the same named layer to two inputs
shares its weights — one kernel and one bias, however many inputs.
"""),
code("""
%%
store := model.NewStore()
a := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3)
b := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3)
outs := model.MustExecOnceN(gobackend.GetBackend(), store, func(scope *model.Scope, x, y *graph.Node) []*graph.Node {
	return []*graph.Node{mlp.Dense(scope, "shared", x, 2), mlp.Dense(scope, "shared", y, 2)}
}, a, b)
for v := range store.IterVariables() {
	if strings.HasPrefix(v.Path(), "/shared/") {
		fmt.Println("variable", v.Path(), v.Shape())
	}
}
fmt.Println("same output for the same input:", slices.Equal(flat(outs[0]), flat(outs[1])))
"""),
md("""
## 5. Batch normalisation's moving statistics

Batch norm keeps moving averages of the mean and variance. Training steps update them; evaluation only reads them.
"""),
code("""
%%
train, test := data()
m := mlp.New(mlp.Config{BatchNorm: true}, nil)
_, err := m.Train(train, 10, nil, nil, 0, nil)
must(err)
mean := func() []float32 { return flat(m.Store().GetVariable("/batch_normalization_1/mean").MustValue()) }
before := mean()
_, err = m.Accuracy(test)
must(err)
fmt.Println("unchanged by evaluation:", slices.Equal(before, mean()))
_, err = m.Train(train, 1, nil, nil, 0, nil)
must(err)
fmt.Println("changed by a training step:", !slices.Equal(before, mean()))
"""),
md("""
## 6. Trainable weights and freezing

The trainable variables, with their scope names; freezing `dense_1` keeps its values through training while the
rest keeps learning.
"""),
code("""
%%
train, _ := data()
m := mlp.New(mlp.Config{}, nil)
_, err := m.Train(train, 10, nil, nil, 0, nil)
must(err)
for _, v := range m.TrainableVariables() {
	fmt.Println("trainable", v)
}
must(m.Freeze("dense_1", true))
var first, second string
for v := range m.Store().IterVariables() {
	if v.Shape().Rank() == 2 && strings.HasPrefix(v.Path(), "/dense_1/") {
		first = v.Path()
	}
	if v.Shape().Rank() == 2 && strings.HasPrefix(v.Path(), "/dense_2/") {
		second = v.Path()
	}
}
k1, k2 := flat(m.Store().GetVariable(first).MustValue()), flat(m.Store().GetVariable(second).MustValue())
_, err = m.Train(train, 50, nil, nil, 0, nil)
must(err)
fmt.Println("frozen dense_1 unchanged:", slices.Equal(k1, flat(m.Store().GetVariable(first).MustValue())))
fmt.Println("dense_2 trained:", !slices.Equal(k2, flat(m.Store().GetVariable(second).MustValue())))
"""),
md("""
## 7. Several devices

The seed replicated the model on several GPUs. GoMLX does that on backends with several devices (XLA with several
GPUs); the pure-Go backend has one, and says so.
"""),
code("""
%%
fmt.Println(mlp.New(mlp.Config{}, nil).Devices())
"""),
]

def write(name, cells):
    nb = nbf.v4.new_notebook()
    nb.cells = cells
    for i, c in enumerate(cells):
        c.id = "c%02d" % i  # stable ids: regenerating gives a reviewable diff
    nb.metadata["kernelspec"] = KERNEL
    nb.metadata["language_info"] = {"name": "go"}
    nbf.write(nb, os.path.join(HERE, name))

write("01_vgg19_consistency.ipynb", nb01)
write("02_mnist_mlp.ipynb", nb02)
