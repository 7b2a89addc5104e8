// Package nb04 is the source of notebooks/04_transfer_learning.ipynb:
// "Transfer Learning using Keras and VGG" in Go. go run ./notebooks/gen writes
// the notebook from it; the //gonb: comments mark its cells (see notebooks/gen).
//
//gonb:notebook 04_transfer_learning.ipynb
package nb04

//gonb:markdown
/*
# Transfer learning with VGG16 in Go: cut, stack, freeze, train, replace

The blog post *"Transfer Learning using Keras and VGG"* reuses a pretrained VGG16 three ways, all done here in Go
with [GoMLX](https://github.com/gomlx/gomlx):

1. **cut and stack**: VGG16 up to `block2_pool` (40×40×128 for a 160×160 input), then a new head
   `Conv2D(64, 3×3, relu) → MaxPooling2D → Flatten → Dense(256, relu) → Dropout(0.5) → Dense(10, softmax)`,
   with `model.layers[:7]` frozen, categorical cross-entropy and RMSprop;
2. **train** it on data a bare Debian machine has, Fashion-MNIST (`dataset-fashion-mnist`) as RGB at 160×160,
   both of Keras' ways: *feature extraction* (the frozen part run once, its features cached on disk) and
   *end to end* with the base frozen; then *fine-tuning* with block2 unfrozen;
3. **layer surgery**: block1_conv1 and block1_conv2 replaced by one 5×5 `new_conv`, every later layer keeping its
   pretrained weights, frozen; here `new_conv` is also initialised by distillation.

Each GoNB cell is a new process: trained weights go from cell to cell through **GoMLX checkpoints**, and
extracted features through a cache on disk, so they also survive a kernel or Jupyter restart.

**Weights.** With the official Keras file on this machine (`vggnb weights fetch --model vgg16`) this is real
transfer learning. Otherwise the notebook uses **SYNTHETIC weights** (deterministic random values in the Keras
layout): the "pretrained" filters are random, so the accuracies below measure random features, not ImageNet's —
every cell that depends on it says so.

**After a kernel restart, run the Set-up cell first** (it pins the modules and imports the packages); every other
cell then runs on its own, in any order (a cell that needs a checkpoint says which cell writes it).
*/

//gonb:markdown
/*
## Set-up

The pins and imports; the helpers the cells share come from `notebooks/nb` (`nb.PostModel` is the post's
model on the VGG16 weights of this machine, `nb.FashionSubset` the examples). The subset is 300 training and 100
test images here, 64 of them for fine-tuning (100, 50 and 32 with `VGGNB_QUICK=1`, CI's size);
`VGGNB_TRANSFER_SIZE=2000,500,512` runs the post's "very little data" size.
*/

//gonb:setup
import (
	"fmt"
	"os"
	"time"

	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg/transfer"
	"github.com/vggnb/vggnb/notebooks/nb"
	"github.com/vggnb/vggnb/weights"
)

//gonb:markdown
/*
## 1. The post's model

`transfer.NewPostModel` builds VGG16 without its top at 160×160, cuts it at `block2_pool` and stacks the head, in
one GoMLX store. `Freeze(7)` is Keras' `for layer in model.layers[:7]: layer.trainable = False`. The summary has
Keras' columns and totals.
*/

//gonb:main
func _() {
	_, synthetic := nb.VGG16Weights(false)
	if synthetic {
		display.MustShow(display.Markdown("**⚠ " + weights.SyntheticNotice + "**"))
	}
	s := nb.PostModel()
	display.MustShow(display.Summary(s))
	fmt.Printf("frozen: layers[:%d]\n", s.Frozen())
}

//gonb:markdown
/*
## 2. Feature extraction: the frozen part runs once

The frozen layers never change, so their output for an image is computed once: `ExtractFeatures` runs the base
through vggnb's native kernels and caches the features on disk, under a SHA-256 of the base's weights and of the
examples (a second run, or the next cell, reads the file). Each image's `block2_pool` features are 40×40×128
floats, 800 KB — why the post trains on little data.
*/

//gonb:main
func _() {
	s := nb.PostModel()
	train, test, trainIdx, testIdx := nb.FashionSubset()
	nb.QuickNote("%d training and %d test images instead of 300 and 100", len(trainIdx), len(testIdx))
	dir := nb.Dir("04/features")
	for _, run := range []string{"first call", "second call"} {
		t0 := time.Now()
		xs, _, err := s.ExtractFeatures(train, trainIdx, dir, nil)
		nb.Must(err)
		_, _, err = s.ExtractFeatures(test, testIdx, dir, nil)
		nb.Must(err)
		mb := float64(xs.Shape().Size()*4) / 1e6
		fmt.Printf("%s: %d+%d images, train features %v (%.0f MB) in %.1fs\n",
			run, len(trainIdx), len(testIdx), xs.Shape(), mb, time.Since(t0).Seconds())
	}
}

//gonb:markdown
/*
### Training the head on the features

The head alone, on the cached features: RMSprop (learning rate 1e-4, the post's choice for a pretrained base),
batches of 32, the loss and test accuracy drawn as it trains. Then the head is saved as a GoMLX checkpoint for the
next cells.
*/

//gonb:main
func _() {
	s := nb.PostModel()
	train, test, trainIdx, testIdx := nb.FashionSubset()
	dir := nb.Dir("04/features")
	x, y, err := s.ExtractFeatures(train, trainIdx, dir, nil)
	nb.Must(err)
	tx, ty, err := s.ExtractFeatures(test, testIdx, dir, nil)
	nb.Must(err)
	plot := display.NewLivePlot("head on VGG16 block2_pool features")
	onStep := func(step, steps int, loss float32) {
		plot.Add("train loss", float64(step), float64(loss))
	}
	onEpoch := func(epoch int, loss, acc float64) {
		plot.Add("test accuracy", float64(epoch), acc)
		plot.Update()
	}
	fit := transfer.Fit{Epochs: 5, BatchSize: 32, ValX: tx, ValY: ty,
		OnStep: onStep, OnEpoch: onEpoch}
	hist, err := s.HeadTrainer(transfer.RMSprop(1e-4)).Fit(x, y, fit)
	nb.Must(err)
	acc := hist.ValAccuracy[len(hist.Loss)-1]
	fmt.Printf("(a) head on frozen VGG features: test accuracy %.3f\n", acc)
	fmt.Printf("%d epochs, %.1fs each\n", len(hist.Loss), hist.Seconds[0])
	ckpt := nb.Dir("04/head")
	nb.Must(os.RemoveAll(ckpt))
	nb.Must(s.Save(ckpt))
	fmt.Println("saved to", ckpt)
}

//gonb:markdown
/*
## 3. A checkpoint survives the cell

This cell is a new process. It builds the model again (the base from the Keras file) and loads the head from the
checkpoint the previous cell wrote: the same test accuracy, and the pretrained layers still frozen.
*/

//gonb:main
func _() {
	s := nb.PostModel()
	nb.Must(s.Load(nb.Dir("04/head")))
	_, test, _, testIdx := nb.FashionSubset()
	tx, ty, err := s.ExtractFeatures(test, testIdx, nb.Dir("04/features"), nil)
	nb.Must(err)
	acc, err := s.Accuracy(tx, ty, true)
	nb.Must(err)
	fmt.Printf("loaded head: test accuracy %.3f\n", acc)
	for _, l := range s.Layers() {
		if l.Params > 0 {
			fmt.Printf("  %-13s trainable=%v\n", l.Name, l.Trainable)
		}
	}
}

//gonb:markdown
/*
## 4. The same head from scratch, on raw pixels

What do VGG's features buy? The same head (`transfer.NewHead`), trained the same way on the images themselves,
shrunk to the features' 40×40 so that it has the same shape and nearly the same size.
*/

//gonb:main
func _() {
	train, test, trainIdx, testIdx := nb.FashionSubset()
	x, y, err := transfer.Images(train, trainIdx, 40)
	nb.Must(err)
	tx, ty, err := transfer.Images(test, testIdx, 40)
	nb.Must(err)
	h, err := transfer.NewHead(40, 40, 3, 10, 1)
	nb.Must(err)
	fit := transfer.Fit{Epochs: 5, BatchSize: 32, ValX: tx, ValY: ty}
	hist, err := h.EndToEndTrainer(transfer.RMSprop(1e-4)).Fit(x, y, fit)
	nb.Must(err)
	fmt.Printf("(b) the same head on raw 40x40 pixels: test accuracy %.3f\n",
		hist.ValAccuracy[len(hist.ValAccuracy)-1])
}

//gonb:markdown
/*
## 5. End to end with the base frozen, then fine-tuning

End to end, VGG's convolutions run forward and backward on the native kernels (package `gomlx_vgg/tape`), and so
do the head, its loss and RMSprop's update (only the dropout's random numbers come from a small GoMLX graph; a
trainer's `.GraphOnly(true)` runs it all as one graph with autodiff, to compare); the frozen layers get no gradient,
so their weights stay bit-for-bit what the file has.
Fine-tuning then unfreezes block2 (`Freeze(4)`: `layers[:4]` frozen) with a low learning rate, starting from the
head of section 2 (run that cell first).
*/

//gonb:main
func _() {
	s := nb.PostModel()
	nb.Must(s.Load(nb.Dir("04/head")))
	train, test, trainIdx, testIdx := nb.FashionSubset()
	_, _, n := nb.TransferSizes()
	x, y, err := transfer.Images(train, trainIdx[:n], transfer.PostInputSize)
	nb.Must(err)
	tx, ty, err := transfer.Images(test, testIdx, transfer.PostInputSize)
	nb.Must(err)
	sum := func(layer string) float64 { return nb.VariableSum(s.Store(), "/"+layer+"/kernel") }
	b1, b2 := sum("block1_conv1"), sum("block2_conv2")
	t0 := time.Now()
	oneEpoch := transfer.Fit{Epochs: 1, BatchSize: 8}
	_, err = s.EndToEndTrainer(transfer.RMSprop(1e-4)).Fit(x, y, oneEpoch)
	nb.Must(err)
	fmt.Printf("end to end, base frozen: %d steps of 8 in %.1fs\n", n/8, time.Since(t0).Seconds())
	fmt.Println("  block1_conv1 unchanged:", sum("block1_conv1") == b1)
	fmt.Println("  block2_conv2 unchanged:", sum("block2_conv2") == b2)
	nb.Must(s.Freeze(4))
	t0 = time.Now()
	hist, err := s.EndToEndTrainer(transfer.RMSprop(1e-5)).Fit(x, y,
		transfer.Fit{Epochs: 1, BatchSize: 8, ValX: tx, ValY: ty})
	nb.Must(err)
	fmt.Printf("fine-tuning, block2 trainable: %d steps in %.1fs\n", n/8, time.Since(t0).Seconds())
	fmt.Println("  block1_conv1 unchanged:", sum("block1_conv1") == b1)
	fmt.Println("  block2_conv2 changed:  ", sum("block2_conv2") != b2)
	fmt.Printf("(c) after fine-tuning: test accuracy %.3f\n", hist.ValAccuracy[0])
}

//gonb:markdown
/*
## 6. Layer surgery: one 5×5 convolution for block1

The post replaces block1's two 3×3 convolutions by one `Conv2D(64, (5, 5), padding='same')` named `new_conv` and
keeps every other layer, pretrained and frozen. A new convolution starts random, so everything after it sees
inputs it was never trained on: here it is first **distilled**, trained alone (Adam) so that ReLU(new_conv(x))
matches block1_conv2's output on the photo. The table says how close the modified network gets to the unmodified
one, layer by layer, and how much faster it is (both through the GoMLX graph). `block1` compares ReLU(new_conv)
with block1_conv2, the distillation's target; `block1_pool` compares the post's model as it is: `new_conv` has no
activation, so values a ReLU would have zeroed reach the pooling.
*/

//gonb:main
func _() {
	path, synthetic := nb.VGG16Weights(true)
	s, err := transfer.NewPostSurgery(path, 1)
	nb.Must(err)
	display.MustShow(display.Summary(s))
	x := nb.Photo(224, 224)
	before, err := s.Compare(x)
	nb.Must(err)
	d := s.Distiller(optimizer.Adam().LearningRate(3e-3).Done())
	plot := display.NewLivePlot("distilling new_conv")
	for step := range 30 {
		loss, err := d.Step(x)
		nb.Must(err)
		plot.Add("mean squared error", float64(step), float64(loss))
	}
	plot.Update()
	after, err := s.Compare(x)
	nb.Must(err)
	fmt.Println("max|modified - original| / max|original|:")
	fmt.Printf("  %-26s %-10s %s\n", "", "random", "distilled")
	for _, r := range []struct {
		name string
		a, b float64
	}{
		{"block1 (ReLU(new_conv))", before.Block1, after.Block1},
		{"block1_pool", before.Block1Pool, after.Block1Pool},
		{"block5_pool", before.Block5Pool, after.Block5Pool},
		{"predictions", before.Predictions, after.Predictions},
	} {
		fmt.Printf("  %-26s %-10.3g %.3g\n", r.name, r.a, r.b)
	}
	orig, mod := after.Original.Round(time.Millisecond), after.Modified.Round(time.Millisecond)
	fmt.Printf("time for one image: original %v, modified %v (%.2fx faster)\n",
		orig, mod, after.Original.Seconds()/after.Modified.Seconds())
	if synthetic {
		fmt.Println("(SYNTHETIC weights: the errors measure how well one 5x5 conv imitates",
			"two random 3x3 ones)")
	}
}

//gonb:markdown
/*
## What we measured

- (a) the head on frozen VGG16 features, (b) the same head from scratch on raw pixels, (c) after fine-tuning
  block2: the three test accuracies printed above, on the subset this notebook ran with. With **SYNTHETIC**
  weights the "transfer" is from random filters: (a) against (b) then shows what random (but fixed and well
  scaled) convolutions give a small head, not what ImageNet features give. With ImageNet's weights on your
  machine, the same cells show the real thing.
- Frozen layers stay bit-identical through training; a checkpoint carries the head (and fine-tuned layers, and
  the optimizer's state) from one cell, or one Jupyter session, to the next.
- The surgery's `new_conv` gets close to block1 only through distillation: a random one leaves every later
  layer far from what it was trained on.
*/
