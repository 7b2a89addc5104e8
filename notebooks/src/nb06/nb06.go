// Package nb06 is the source of notebooks/06_grad_cam.ipynb: Grad-CAM on
// VGG19. go run ./notebooks/gen writes the notebook from it; the //gonb:
// comments mark its cells (see notebooks/gen).
//
//gonb:notebook 06_grad_cam.ipynb
package nb06

//gonb:markdown
/*
# Grad-CAM: where VGG19 looks

Grad-CAM (Selvaraju et al., 2017) explains a class score with the last convolution layer's output A
(`block5_conv4` in VGG19, 14×14×512 for a 224×224 image): the score **before softmax** differentiated with
respect to A, averaged over the positions into one weight per channel, the weighted sum of A's channels through
a ReLU, scaled to [0, 1]. Drawn over the photo in the jet colours (alpha 0.4), as in Keras' Grad-CAM example.

Package `gomlx_vgg/gradcam` computes A, the scores and the gradient back from a score to A (through the dense
layers and the pooling) with vggnb's native kernels: a map takes about as long as a prediction
(`.GraphOnly(true)` differentiates the network after A as a GoMLX graph with autodiff instead, to compare). The
gradient is then **checked against PyTorch's autograd in float64** on the same weights.

**After a kernel restart, run the Set-up cell first**; every other cell then runs on its own. With no ImageNet
file on this machine VGG19 has **SYNTHETIC weights** (deterministic random values): the maps then show where a
*random* network's score depends on the photo, not where a cat is, and the class names mean nothing. What stays
true, and is checked, is the computation: the gradient is the exact derivative of the score, the map is made as
Keras makes it, and two classes get two different maps.
*/

//gonb:markdown
/*
## Set-up

The pins and imports.
*/

//gonb:setup
import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/gradcam"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/notebooks/nb"
	"github.com/vggnb/vggnb/weights"
)

//gonb:markdown
/*
## 1. The photo and VGG19's top classes

VGG19 with its top, its last layer without softmax (the class scores Grad-CAM differentiates), on the demo photo
at 224×224.
*/

//gonb:main
func _() {
	m, _, synthetic := nb.VGG19Logits()
	if synthetic {
		display.MustShow(display.Markdown("**⚠ " + weights.SyntheticNotice + "**"))
	}
	scores, err := m.Predict(nb.Photo(224, 224))
	nb.Must(err)
	top, err := imagenet.DecodePredictions(scores, 5)
	nb.Must(err)
	fmt.Println("top 5 classes (score before softmax):")
	for _, p := range top[0] {
		fmt.Printf("  %4d %-28s %.4g\n", p.Index, p.Name, p.Score)
	}
}

//gonb:markdown
/*
## 2. Grad-CAM of the top class and of the second

The heat map over the photo (jet, alpha 0.4), and the 14×14 map itself, for the two highest scores.
*/

//gonb:main
func _() {
	m, _, synthetic := nb.VGG19Logits()
	x := nb.Photo(224, 224)
	scores, err := m.Predict(x)
	nb.Must(err)
	top, err := imagenet.DecodePredictions(scores, 2)
	nb.Must(err)
	e, err := gradcam.New(m, "block5_conv4")
	nb.Must(err)
	maps, err := e.Explain(x, top[0][0].Index, top[0][1].Index)
	nb.Must(err)
	img, err := imagenet.DemoImage(imagenet.TargetSize(224, 224))
	nb.Must(err)
	if synthetic {
		const warning = "**⚠ SYNTHETIC weights: a random network's maps, not where the cat is.**"
		display.MustShow(display.Markdown(warning))
	}
	for i, mp := range maps {
		over, err := display.GradCAMOverlay(img, mp.Heat, 0.4)
		nb.Must(err)
		raw, err := display.HeatMap(mp.Heat, 8)
		nb.Must(err)
		display.MustShow(display.Markdown(fmt.Sprintf("**class %d of the top 2: %d %s** (score %.4g)",
			i+1, mp.Class, top[0][i].Name, mp.Score)), over, raw)
	}
	same := 0.0
	for y := range maps[0].Heat {
		for x := range maps[0].Heat[y] {
			same = math.Max(same, math.Abs(maps[0].Heat[y][x]-maps[1].Heat[y][x]))
		}
	}
	fmt.Printf("the two maps differ by up to %.2f (of 1)\n", same)
}

//gonb:markdown
/*
## 3. The gradient, checked against PyTorch in float64

An independent implementation (Debian's `python3-torch`, reading the same `.h5`) computes `block5_conv4`'s output,
the score and its gradient with autograd in float64, for the same two classes. Each must agree within 1e-4 of
its largest value.
*/

//gonb:main
func _() {
	m, path, _ := nb.VGG19Logits()
	x := nb.Photo(224, 224)
	scores, err := m.Predict(x)
	nb.Must(err)
	top := imagenet.TopIndices(tensors.MustCopyFlatData[float32](scores), 2)
	e, err := gradcam.New(m, "block5_conv4")
	nb.Must(err)
	maps, err := e.Explain(x, top...)
	nb.Must(err)
	photo, err := imagenet.DemoImageFile()
	nb.Must(err)
	ref, err := nb.Reference(torchref.Options{Python: nb.Python(), CacheDir: nb.ReferenceCache(),
		Weights: path, Model: "vgg19", IncludeTop: true, Image: photo, Height: 224, Width: 224,
		GradCAM: "block5_conv4", GradCAMClasses: top})
	nb.Must(err)
	truth, _ := consistency.FromTorch(ref)
	passed := 0
	for _, mp := range maps {
		g, s := fmt.Sprintf("gradcam_gradient_%d", mp.Class), fmt.Sprintf("gradcam_score_%d", mp.Class)
		score := tensors.FromFlatDataAndDimensions([]float32{float32(mp.Score)}, 1)
		got := consistency.FromTensors(fmt.Sprintf("GoMLX, class %d", mp.Class), map[string]*tensors.Tensor{
			"gradcam_activation": mp.Activation, g: mp.Gradient, s: score})
		r := consistency.Check(got, truth, []string{"gradcam_activation", g, s}, 1e-4)
		display.MustShow(display.ConsistencyTable(r))
		if r.Passed() {
			passed++
		}
	}
	fmt.Printf("gradient checks passed: %d of %d (PyTorch %s, float64 autograd)\n", passed, len(maps), ref.Torch)
}

//gonb:markdown
/*
## What we showed

- Grad-CAM of VGG19 at `block5_conv4` for the two top classes, drawn over the photo as Keras' example draws it.
- The score before softmax, `block5_conv4`'s output and the gradient equal PyTorch's float64 autograd within
  1e-4 of their largest values: the maps are the exact Grad-CAM of these weights. (vggnb's max pooling passes
  the gradient to one element of each window, the first maximum, as TensorFlow and PyTorch do; after a ReLU whole
  windows of zeros tie, and GoMLX's ReduceMax alone would share it among them.)
- With SYNTHETIC weights the maps mean nothing about the photo; with the ImageNet file (`vggnb weights fetch
  --model vgg19 --include-top`) the same cells show where VGG19 sees each class.
*/
