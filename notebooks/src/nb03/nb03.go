// Package nb03 is the source of notebooks/03_weight_conversion.ipynb: "Convert
// pretrained weights between Theano and TensorFlow" in Go. go run
// ./notebooks/gen writes the notebook from it; the //gonb: comments mark its
// cells (see notebooks/gen).
//
//gonb:notebook 03_weight_conversion.ipynb
package nb03

//gonb:markdown
/*
# Converting VGG weights between Theano and TensorFlow

Keras 1 shipped every pretrained model twice: `*_th_dim_ordering_th_kernels.h5` for Theano and
`*_tf_dim_ordering_tf_kernels.h5` for TensorFlow. The numbers are the same; their **layout** is not:

| | Theano (`channels_first`) | TensorFlow (`channels_last`) |
| --- | --- | --- |
| images | (N, C, H, W) | (N, H, W, C) |
| convolution kernels | (O, I, H, W), **flipped**: Theano convolves, TensorFlow cross-correlates | (H, W, I, O) |
| `fc1` (after `Flatten`) | rows in (C, H, W) order | rows in (H, W, C) order |

Converting one into the other takes three steps, and forgetting either of the last two is the classic bug: the
model loads, runs and gives wrong numbers without an error. This notebook

1. writes VGG16 (with its top) in the Theano layout and looks inside both files;
2. loads the Theano file, converts it (`weights.LoadVGG` detects the layout) and checks that **every layer's
   activations and the predictions** equal the TensorFlow file's;
3. makes the two classic mistakes on purpose, **no kernel flip** and **no `fc1` reorder**, and catches each
   with a layer-by-layer comparison and its picture;
4. converts back and checks that the files **round-trip byte for byte**.

**After a kernel restart, run the Set-up cell first**; every other cell then runs on its own. With no ImageNet
file on this machine, VGG16 has **SYNTHETIC weights** (deterministic random values in the Keras layout): the
predictions then name meaningless classes, but a conversion that is right gives *identical* numbers whatever the
weights, and a wrong one differs just as visibly, so everything checked here still holds.
*/

//gonb:markdown
/*
## Set-up

The pins and imports. The Theano file goes to the notebooks' work directory (`nb.Dir("03")`), written once by
`nb.TheanoVGG16` (`weights.ToTheano`, then `weights.WriteKeras2`).
*/

//gonb:setup
import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/notebooks/nb"
	"github.com/vggnb/vggnb/weights"
)

//gonb:markdown
/*
## 1. Two files, one network

Both files read raw (`weights.Read`: what is stored, no conversion). The first kernel's filter for output 0 and
input 0 is the TensorFlow one **rotated by 180°**, and `fc1`'s row for position (h=0, w=0) and channel 1 is
row 1 in TensorFlow's order but row 49 (= 1·7·7) in Theano's.
*/

//gonb:main
func _() {
	th, tf, synthetic := nb.TheanoVGG16()
	if synthetic {
		display.MustShow(display.Markdown("**⚠ " + weights.SyntheticNotice + "**"))
	}
	fth, err := weights.Read(th)
	nb.Must(err)
	ftf, err := weights.Read(tf)
	nb.Must(err)
	fmt.Printf("TensorFlow file: %s\nTheano file:     %s\n\n", filepath.Base(tf), filepath.Base(th))
	fmt.Printf("%-22s %-20s %s\n", "weight", "TensorFlow", "Theano")
	for _, name := range []string{"block1_conv1", "block5_conv3", "fc1", "predictions"} {
		a, b := ftf.Layer(name).Weights[0], fth.Layer(name).Weights[0]
		fmt.Printf("%-22s %-20s %v\n", name+"/kernel", fmt.Sprint(a.Shape), b.Shape)
	}
	k, kt := ftf.Layer("block1_conv1").Weights[0], fth.Layer("block1_conv1").Weights[0]
	fmt.Println("\nblock1_conv1, output 0, input 0:  TensorFlow [h][w]        Theano [h][w]")
	for h := range 3 {
		fmt.Print("                                 ")
		for w := range 3 {
			fmt.Printf("%8.4f", k.Data[((h*3+w)*3+0)*64+0]) // (H, W, I, O)
		}
		fmt.Print("   ")
		for w := range 3 {
			fmt.Printf("%8.4f", kt.Data[h*3+w]) // (O, I, H, W), o = i = 0
		}
		fmt.Println()
	}
	fc, fct := ftf.Layer("fc1").Weights[0], fth.Layer("fc1").Weights[0]
	units := fc.Shape[1]
	row := func(t weights.Tensor, r int) []float32 { return t.Data[r*units : (r+1)*units] }
	same49, same1 := slices.Equal(row(fc, 1), row(fct, 49)), slices.Equal(row(fc, 1), row(fct, 1))
	fmt.Printf("\nfc1: TensorFlow row 1 (h0, w0, c1) equals Theano row 49 (c1, h0, w0): %v;"+
		" Theano row 1 (c0, h0, w1): %v\n", same49, same1)
}

//gonb:markdown
/*
## 2. Load the Theano file, convert, compare

`weights.LoadVGG` reads the Theano file, sees `(O, I, H, W)` kernels, and converts: transpose and flip every
kernel (Keras' `convert_kernel`), reorder `fc1`'s rows (Keras' `convert_dense_weights_data_format`). The model
built from that (`WeightsFrom`) and the model built from the TensorFlow file run the same photo; every layer is
compared with a tolerance of **zero**: a right conversion moves numbers, it does not change them.
*/

//gonb:main
func _() {
	th, tf, synthetic := nb.TheanoVGG16()
	converted, err := weights.LoadVGG(th, weights.MustVGG("vgg16", true, 0), weights.WithoutCache())
	nb.Must(err)
	fromTF := gomlx_vgg.VGG16().Weights(gomlx_vgg.WeightSource(tf)).Notices(nil).MustDone()
	fromTh := gomlx_vgg.VGG16().WeightsFrom(converted).Notices(nil).MustDone()
	x := nb.Photo(224, 224)
	a, err := fromTF.Outputs(x, gomlx_vgg.AllLayers)
	nb.Must(err)
	b, err := fromTh.Outputs(x, gomlx_vgg.AllLayers)
	nb.Must(err)
	r := consistency.Check(consistency.FromTensors("converted Theano file", b),
		consistency.FromTensors("TensorFlow file", a), fromTF.LayerNames(), 0)
	display.MustShow(display.ConsistencyTable(r))
	nb.Top5("TensorFlow file", a["predictions"], "converted Theano file", b["predictions"], synthetic)
	fmt.Printf("every layer identical: %v\n", r.Passed())
}

//gonb:markdown
/*
## 3. Mistake 1: transposed, not flipped

Transposing `(O, I, H, W)` to `(H, W, I, O)` without flipping applies every 3×3 filter rotated by 180°. The very
first convolution differs, and everything after it. The comparison catches it at `block1_conv1`; the pictures
are that layer's first 16 channels with the right kernels and with the unflipped ones (the unflipped maps are
the right ones seen through mirrored filters: edges shift, textures change).
*/

//gonb:main
func _() {
	th, _, synthetic := nb.TheanoVGG16()
	right, err := weights.LoadVGG(th, weights.MustVGG("vgg16", true, 0), weights.WithoutCache())
	nb.Must(err)
	raw, err := weights.Read(th)
	nb.Must(err)
	wrong := right
	for _, l := range raw.Layers {
		if len(l.Weights) == 2 && len(l.Weights[0].Shape) == 4 { // a convolution: (O, I, H, W)
			wrong = nb.WithWeight(wrong, l.Name, 0, nb.TransposeWithoutFlip(l.Weights[0]))
		}
	}
	// The convolutions are enough to see it: both models without their top.
	good := gomlx_vgg.VGG16().IncludeTop(false).WeightsFrom(right).Notices(nil).MustDone()
	bad := gomlx_vgg.VGG16().IncludeTop(false).WeightsFrom(wrong).Notices(nil).MustDone()
	x := nb.Photo(224, 224)
	a, err := good.Outputs(x, gomlx_vgg.AllLayers)
	nb.Must(err)
	b, err := bad.Outputs(x, gomlx_vgg.AllLayers)
	nb.Must(err)
	r := consistency.Check(consistency.FromTensors("kernels not flipped", b),
		consistency.FromTensors("converted right", a), good.LayerNames(), 1e-5)
	grid := func(t *tensors.Tensor) display.PNG {
		g, err := display.ActivationGrid(t, display.Channels(16), display.Columns(8))
		nb.Must(err)
		return g
	}
	if synthetic {
		display.MustShow(display.Markdown("**⚠ SYNTHETIC weights: random filters, so the maps " +
			"show noise; the difference is what counts.**"))
	}
	display.MustShow(display.DifferenceChart(r),
		display.Markdown("**block1_conv1, converted right** (16 channels)"), grid(a["block1_conv1"]),
		display.Markdown("**block1_conv1, kernels not flipped**"), grid(b["block1_conv1"]))
	if failed := r.Failed(); len(failed) > 0 {
		fmt.Printf("caught: %d of %d layers differ, from %s on\n", len(failed), len(r.Rows), failed[0])
	} else {
		panic("the unflipped kernels were not caught")
	}
}

//gonb:markdown
/*
## 4. Mistake 2: `fc1` not reordered

The convolutions are right this time, but `fc1`'s rows stay in Theano's (C, H, W) order while `Flatten` now
produces (H, W, C): each of `fc1`'s 4096 units weighs the wrong pixels. Every convolution and pooling layer
matches exactly; the difference starts at `fc1`, and the predictions change.
*/

//gonb:main
func _() {
	th, _, synthetic := nb.TheanoVGG16()
	right, err := weights.LoadVGG(th, weights.MustVGG("vgg16", true, 0), weights.WithoutCache())
	nb.Must(err)
	fs := weights.FlattenShape
	fc1 := right.Layer("fc1").Weights[0]
	cl, cf := weights.ChannelsLast, weights.ChannelsFirst
	thRows := weights.DenseRowsReorder(fc1, fs[0], fs[1], fs[2], cl, cf)
	wrong := nb.WithWeight(right, "fc1", 0, thRows)
	good := gomlx_vgg.VGG16().WeightsFrom(right).Notices(nil).MustDone()
	bad := gomlx_vgg.VGG16().WeightsFrom(wrong).Notices(nil).MustDone()
	x := nb.Photo(224, 224)
	a, err := good.Outputs(x, gomlx_vgg.AllLayers)
	nb.Must(err)
	b, err := bad.Outputs(x, gomlx_vgg.AllLayers)
	nb.Must(err)
	r := consistency.Check(consistency.FromTensors("fc1 not reordered", b),
		consistency.FromTensors("converted right", a), good.LayerNames(), 1e-5)
	display.MustShow(display.DifferenceChart(r))
	nb.Top5("converted right", a["predictions"], "fc1 not reordered", b["predictions"], synthetic)
	failed := r.Failed()
	if len(failed) == 0 {
		panic("the unreordered fc1 was not caught")
	}
	fmt.Printf("caught: the first %d layers match exactly, %d differ from %s on\n",
		len(r.Rows)-len(failed), len(failed), failed[0])
}

//gonb:markdown
/*
## 5. And back: byte for byte

The converted weights written back in the Theano layout (`weights.ToTheano`, `weights.WriteKeras2`) give the
very file we started from, and the TensorFlow file written from the converted Theano weights is the one written
from the TensorFlow weights: no value is lost or changed, either way.
*/

//gonb:main
func _() {
	th, tf, _ := nb.TheanoVGG16()
	spec := weights.MustVGG("vgg16", true, 0)
	fromTh, err := weights.LoadVGG(th, spec, weights.WithoutCache())
	nb.Must(err)
	fromTF, err := weights.LoadVGG(tf, spec, weights.WithoutCache())
	nb.Must(err)
	dir, err := os.MkdirTemp(nb.Dir("03"), "roundtrip-")
	nb.Must(err)
	defer os.RemoveAll(dir)
	sum := func(path string) ([]byte, [32]byte) {
		b, err := os.ReadFile(path)
		nb.Must(err)
		return b, sha256.Sum256(b)
	}
	write := func(name string, f *weights.File) string {
		p := filepath.Join(dir, name)
		nb.Must(weights.WriteKeras2(p, f))
		return p
	}
	orig, origSum := sum(th)
	back, backSum := sum(write("th_again.h5", weights.ToTheano(fromTh)))
	fmt.Printf("Theano -> TensorFlow -> Theano: %d bytes, sha256 %x…\n", len(back), backSum[:8])
	fmt.Printf("the original Theano file:       %d bytes, sha256 %x…\n", len(orig), origSum[:8])
	fmt.Printf("Theano round trip byte-exact: %v\n", bytes.Equal(orig, back))
	a, aSum := sum(write("tf_from_tf.h5", fromTF))
	b, bSum := sum(write("tf_from_th.h5", fromTh))
	fmt.Printf("\nTensorFlow file written from the TensorFlow weights: sha256 %x…\n", aSum[:8])
	fmt.Printf("TensorFlow file written from the Theano weights:     sha256 %x…\n", bSum[:8])
	fmt.Printf("TensorFlow round trip byte-exact: %v\n", bytes.Equal(a, b))
}

//gonb:markdown
/*
## What we checked

- A Theano-layout VGG16 file (flipped `(O, I, H, W)` kernels, `fc1` rows in (C, H, W) order), converted on load,
  gives **every layer and the predictions identical** to the TensorFlow file's (tolerance zero).
- Forgetting the **kernel flip** changes everything from `block1_conv1` on; forgetting the **`fc1` reorder**
  leaves every convolution exact and changes `fc1` and the predictions: both are caught by comparing layer by
  layer, which is what `vggnb weights convert` and `weights.LoadVGG` are tested against.
- Converting back reproduces the files **byte for byte**.
*/
