// Package nb07 is the source of notebooks/07_style_transfer.ipynb: neural style
// transfer with VGG19. go run ./notebooks/gen writes the notebook from it; the
// //gonb: comments mark its cells (see notebooks/gen).
//
//gonb:notebook 07_style_transfer.ipynb
package nb07

//gonb:markdown
/*
# Neural style transfer with VGG19

Gatys, Ecker and Bethge (2015) paint a photo in the manner of another image: starting from the photo, gradient
descent changes the image so that VGG19's features at `block5_conv2` stay the photo's (the **content**), while the
Gram matrices (channel-by-channel correlations) of its features at `block1_conv1` … `block5_conv1` become the
style image's (the **style**), with a **total variation** term that keeps neighbouring pixels alike. The losses,
their weights (content 2.5e-8, style 1e-6, total variation 1e-6) and the SGD schedule are those of Keras'
example "Neural style transfer"; package `gomlx_vgg/style` computes them and their gradient with respect to the
image on vggnb's native kernels: VGG19 up to `block5_conv2` forward and back (package `gomlx_vgg/tape`), the Gram
matrices on the same micro-kernel (`.GraphOnly(true)` runs it all as one GoMLX graph with autodiff, to compare).

The content is Chelsea the cat, the style a coffee cup (both CC0 photos from scikit-image, bundled).

**After a kernel restart, run the Set-up cell first**; every other cell then runs on its own. With no ImageNet
file on this machine VGG19 has **SYNTHETIC weights** (deterministic random values): a random network's Gram
matrices still carry the style image's colours and some of its textures, so the photo takes on the cup's colours,
but not the brush strokes a trained VGG19 finds. What stays true, and is checked, is the computation: the three
losses and the gradient equal PyTorch's float64 autograd on the same weights, and the loss falls step by step.
*/

//gonb:markdown
/*
## Set-up

The pins, the imports and the run's size. These settings are a small run, for CI; Keras' example runs a
400-pixel-high image for 4000 steps at learning rate 100 (with ImageNet weights). With that rate 20 steps would
barely change the image, hence the larger one here.
*/

//gonb:setup
import (
	"fmt"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/notebooks/nb"
	"github.com/vggnb/vggnb/weights"
)

// The run: images of imageSize x imageSize pixels, steps SGD steps from
// learningRate, an intermediate image every so many steps (8 steps, an image
// every 2, with VGGNB_QUICK=1: CI's size).
const (
	imageSize    = 128
	learningRate = 1e4
)

var steps, every = nb.Sized(20, 8), nb.Sized(5, 2)

//gonb:markdown
/*
## 1. The content and the style

Both photos at the run's size, as Keras' example loads them (the style image at the content image's size), then
`preprocess_input`. The targets are computed once: the content's `block5_conv2` features and the style's five
Gram matrices.
*/

//gonb:main
func _() {
	t, _, synthetic := nb.StyleTransfer(imageSize, learningRate)
	if synthetic {
		display.MustShow(display.Markdown("**⚠ " + weights.SyntheticNotice + "**"))
	}
	g := display.NewGallery("the content (left) and the style (right)", 2*imageSize)
	nb.Must(g.Add("content: Chelsea", nb.Picture(t.Image())))
	nb.Must(g.Add("style: coffee cup", nb.Picture(nb.Coffee(imageSize, imageSize))))
	display.MustShow(g.HTML())
	fmt.Printf("image %dx%d; content layer %s; style layers %v\n", imageSize, imageSize, "block5_conv2",
		[]string{"block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"})
}

//gonb:markdown
/*
## 2. The run

Each step computes the three weighted losses and their gradient with respect to the image (VGG19 up to
`block5_conv2` forward and back), then moves the image against the gradient. The plot redraws as it runs; an
intermediate image every few steps.
*/

//gonb:main
func _() {
	t, _, synthetic := nb.StyleTransfer(imageSize, learningRate)
	nb.QuickNote("%d steps instead of 20", steps)
	plot := display.NewLivePlot("style transfer losses (weighted)")
	g := display.NewGallery("the image every few steps", 2*imageSize)
	nb.Must(g.Add("step 0 (the content)", nb.Picture(t.Image())))
	g.Update()
	start := time.Now()
	var first time.Duration
	var begin, end float64
	for s := range steps {
		l, err := t.Step()
		nb.Must(err)
		if s == 0 {
			first, begin = time.Since(start), l.Total
		}
		end = l.Total
		plot.Add("content", float64(s), l.Content)
		plot.Add("style", float64(s), l.Style)
		plot.Add("total variation", float64(s), l.TotalVariation)
		if (s+1)%every == 0 {
			nb.Must(g.Add(fmt.Sprintf("step %d", s+1), nb.Picture(t.Image())))
			plot.Update()
			g.Update()
		}
	}
	perStep := (time.Since(start) - first) / time.Duration(max(steps-1, 1))
	fmt.Printf("%d steps at %dx%d: first step %.1f s (with compilation), then %.2f s per step\n",
		steps, imageSize, imageSize, first.Seconds(), perStep.Seconds())
	fmt.Printf("total loss %.4g at step 0, %.4g at step %d\n", begin, end, steps-1)
	if !(end < begin) {
		panic("the loss did not fall")
	}
	if synthetic {
		fmt.Println("(SYNTHETIC weights: the colours move toward the cup's;")
		fmt.Println(" a trained VGG19 would paint its textures)")
	}
}

//gonb:markdown
/*
## 3. The losses and the gradient, checked against PyTorch in float64

An independent implementation (Debian's `python3-torch`, reading the same `.h5` and the same two photos) computes
the three losses and their gradient with respect to the image with autograd in float64, at the image after three
steps. Each must agree within 1e-4 of its largest value; PyTorch's own float32 error is shown beside Go's. (The
losses are summed in float64, the rest is float32 as in PyTorch. At step 0 itself neighbouring pixels tie, where
the total variation's power 1.25 is badly conditioned: float32 is then ~1e-4 off, PyTorch's as much as Go's.)
*/

//gonb:main
func _() {
	t, path, _ := nb.StyleTransfer(imageSize, learningRate)
	for range 3 {
		_, err := t.Step()
		nb.Must(err)
	}
	x := t.Image()
	l, grad, err := t.Evaluate(x)
	nb.Must(err)
	photo, err := imagenet.DemoImageFile()
	nb.Must(err)
	coffee, err := imagenet.CoffeeImageFile()
	nb.Must(err)
	ref, err := nb.Reference(torchref.Options{Python: nb.Python(), CacheDir: nb.ReferenceCache(),
		Weights: path, Model: "vgg19", Image: photo, Height: imageSize, Width: imageSize, Float32: true,
		Style: &torchref.Style{Image: coffee, Combination: nb.Flat(x)}})
	nb.Must(err)
	truth, f32 := consistency.FromTorch(ref)
	got := consistency.FromTensors("GoMLX", map[string]*tensors.Tensor{"style_content_loss": nb.Scalar(l.Content),
		"style_style_loss": nb.Scalar(l.Style), "style_tv_loss": nb.Scalar(l.TotalVariation),
		"style_gradient": grad})
	r := consistency.Check(got, truth, []string{"style_content_loss", "style_style_loss", "style_tv_loss",
		"style_gradient"}, 1e-4).Beside(f32)
	display.MustShow(display.ConsistencyTable(r))
	fmt.Printf("checks passed: %v (PyTorch %s, float64 autograd)\n", r.Passed(), ref.Torch)
}

//gonb:markdown
/*
## 4. The same run in PyTorch

PyTorch (float32, its default precision, 2 threads) runs the same steps from the same image with the same
schedule. The two final images should look alike (float32 rounding differs, so they are not equal to the last
bit), and the times compare the two on this machine.
*/

//gonb:main
func _() {
	t, path, _ := nb.StyleTransfer(imageSize, learningRate)
	start := time.Now()
	var goFirst time.Duration
	var goLast float64
	for s := range steps {
		l, err := t.Step()
		nb.Must(err)
		if s == 0 {
			goFirst = time.Since(start)
		}
		goLast = l.Total
	}
	goStep := (time.Since(start) - goFirst).Seconds() / float64(max(steps-1, 1))
	photo, err := imagenet.DemoImageFile()
	nb.Must(err)
	coffee, err := imagenet.CoffeeImageFile()
	nb.Must(err)
	ref, err := torchref.Run(torchref.Options{Python: nb.Python(), Weights: path, Model: "vgg19",
		Image: photo, Height: imageSize, Width: imageSize, Style: &torchref.Style{Image: coffee, Steps: steps,
			LearningRate: []float64{learningRate, 100, 0.96}}})
	nb.Must(err)
	run := ref.StyleRun
	ptStep := run.SecondsPerStep()
	img := tensors.FromFlatDataAndDimensions(run.Image, 1, imageSize, imageSize, 3)
	g := display.NewGallery(fmt.Sprintf("after %d steps", steps), 2*imageSize)
	nb.Must(g.Add("GoMLX (pure Go)", nb.Picture(t.Image())))
	nb.Must(g.Add("PyTorch "+ref.Torch, nb.Picture(img)))
	display.MustShow(g.HTML())
	_, rel := consistency.Compare(nb.Flat(t.Image()), run.Image)
	fmt.Printf("final images differ by up to %.2g of the largest value\n", rel)
	fmt.Printf("last step's total loss: Go %.5g, PyTorch %.5g\n", goLast, run.Steps[len(run.Steps)-1].Total())
	fmt.Printf("seconds per step after the first: Go %.3f, PyTorch %.3f (Go/PyTorch %.2f)\n",
		goStep, ptStep, goStep/ptStep)
}

//gonb:markdown
/*
## What we showed

- Keras' neural style transfer on VGG19, its three losses plotted as the image changes.
- The losses and the gradient with respect to the image equal PyTorch's float64 autograd on the same weights within
  1e-4: every step is an exact step of the example's optimisation, through the fourteen convolutions up to
  `block5_conv2`.
- The same run in PyTorch ends at the same image, up to float32 rounding.
- With SYNTHETIC weights the picture shows a random network's idea of style: colours more than textures. With the
  ImageNet file (`vggnb weights fetch --model vgg19`) the same cells paint the cup's textures onto the cat; raise
  `imageSize` and `steps` in the Set-up cell for a larger picture (`bench/style` measures the time a larger run
  takes, against PyTorch).
*/
