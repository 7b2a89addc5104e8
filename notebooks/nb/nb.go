// Package nb holds the helpers that the notebooks' cells share.
//
// GoNB compiles every cell as a whole program and keeps a cell's declarations
// only until the kernel restarts: a helper declared in a notebook cell is
// "undefined" in any later cell run alone after a restart. Declared here, a
// helper is one import away, and the set-up cell (the go get pins and the
// imports) is all a cell needs after a restart.
//
// Helpers panic on error, as notebook cells do: the panic is the cell's error.
package nb

import (
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/ort"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/gomlx_vgg/style"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/gomlx_vgg/transfer"
	"github.com/vggnb/vggnb/internal/environ"
	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// Must panics with err when it is not nil.
func Must(err error) {
	if err != nil {
		panic(err)
	}
}

// Python returns the interpreter the PyTorch reference runs on: $VGGNB_PYTHON
// (which `vggnb kernel install` sets in the kernel's environment), else
// Debian's /usr/bin/python3.
func Python() string { return python.FromEnv() }

// VGG19Weights returns the VGG19 no-top weight file: ImageNet's if it is
// verified on this machine, else SYNTHETIC weights written once in the Keras 2
// layout (so that PyTorch reads the very same file).
func VGG19Weights() (path string, synthetic bool) {
	path, synthetic, err := weights.ImageNetOrSynthetic("vgg19", false, 1)
	Must(err)
	return path, synthetic
}

// VGG19 finishes b (a VGG19 builder without its top) on VGG19Weights.
func VGG19(b *gomlx_vgg.Builder) *gomlx_vgg.Model {
	path, _ := VGG19Weights()
	return b.Weights(gomlx_vgg.WeightSource(path)).MustDone()
}

// Photo returns the demo photograph (Chelsea the cat, CC0) as a batch of one,
// loaded at h x w as Keras' load_img does and put through preprocess_input.
func Photo(h, w int) *tensors.Tensor { return photoInput(imagenet.DemoImage, h, w) }

// Coffee is Photo for the style photograph (the coffee cup, CC0).
func Coffee(h, w int) *tensors.Tensor { return photoInput(imagenet.CoffeeImage, h, w) }

func photoInput(photo func(...imagenet.ImgOption) (*image.NRGBA, error), h, w int) *tensors.Tensor {
	x, err := imagenet.PhotoInput(photo, h, w)
	Must(err)
	return x
}

// StyleTransfer is notebook 07's style transfer: VGG19 without its top on
// VGG19Weights (path, synthetic), the demo photo as the content and the coffee
// photo as the style, both size x size, Keras' example's layers and loss
// weights, SGD from learningRate (decaying by 0.96 every 100 steps).
func StyleTransfer(size int, learningRate float64) (t *style.Transfer, path string, synthetic bool) {
	path, synthetic = VGG19Weights()
	m, err := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightSource(path)).Notices(nil).Done()
	Must(err)
	t, err = style.New(m).LearningRate(learningRate, style.DefaultDecaySteps, style.DefaultDecayRate).
		Done(Photo(size, size), Coffee(size, size))
	Must(err)
	return t, path, synthetic
}

// Scalar is v as a float32 tensor of shape (1): a loss or a score beside
// layers in a consistency check.
func Scalar(v float64) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions([]float32{float32(v)}, 1)
}

// Picture is style.Deprocess for cells.
func Picture(x *tensors.Tensor) *image.NRGBA {
	img, err := style.Deprocess(x)
	Must(err)
	return img
}

// SumOfWeights adds up the VGG layers' variables of m: a quick fingerprint of
// the pretrained weights that ignores variables a notebook adds at "/input_image"
// or under "/head/".
func SumOfWeights(m *gomlx_vgg.Model) float64 {
	var s float64
	for v := range m.Store().IterVariables() {
		if v.Path() == "/input_image" || strings.HasPrefix(v.Path(), "/head/") {
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

// FashionMNIST loads Debian's dataset-fashion-mnist.
func FashionMNIST() (train, test *mlp.Dataset) {
	train, test, err := mlp.LoadFashionMNIST("")
	Must(err)
	return train, test
}

// Values returns a copy of the float32 values of store's variable at path
// ("/dense_1/weights", say).
func Values(store *model.Store, path string) []float32 {
	v := store.GetVariable(path)
	if v == nil {
		panic(fmt.Sprintf("nb: no variable %q in the store", path))
	}
	return Flat(v.MustValue())
}

// Flat returns a copy of t's float32 values.
func Flat(t *tensors.Tensor) (v []float32) {
	tensors.ConstFlatData(t, func(f []float32) { v = slices.Clone(f) })
	return v
}

// init applies the environment's settings to every cell (environ.Configure:
// display's files and graphviz helper).
func init() { environ.Configure() }

// ReferenceCache is where the PyTorch references' outputs are kept between
// runs (torchref.Options.CacheDir): $VGGNB_REFERENCE_CACHE, else
// vggnb-reference-cache in the temporary directory; "off" keeps none.
func ReferenceCache() string { return python.ReferenceCacheFromEnv() }

// Reference is torchref.Run, saying so when PyTorch's outputs come from the
// reference cache (computed by an earlier run of the same inputs).
func Reference(o torchref.Options) (*torchref.Result, error) {
	r, err := torchref.Run(o)
	if err == nil && r.Cached {
		fmt.Printf("PyTorch %s's outputs read from the reference cache (an earlier run of the same inputs: %s)\n", r.Torch, o.CacheDir)
	}
	return r, err
}

// Quick reports whether $VGGNB_QUICK is 1: the notebooks' heavy cells then
// run sized down, as CI runs them (make test sets it), and say so in their
// output. What they claim at full size is checked by the packages' tests.
func Quick() bool { return os.Getenv("VGGNB_QUICK") == "1" }

// Sized is full, or quick when Quick().
func Sized[T any](full, quick T) T {
	if Quick() {
		return quick
	}
	return full
}

// QuickNote prints, when Quick(), what a cell does at CI's size instead of
// its full size, and where the full size is checked.
func QuickNote(format string, args ...any) {
	if Quick() {
		fmt.Printf("VGGNB_QUICK=1 (CI's size): "+format+"\n", args...)
	}
}

// TransferSizes is how many Fashion-MNIST examples notebook 04 trains and
// tests on, and how many of the training ones it fine-tunes on: 300, 100 and
// 64 (100, 50 and 32 with VGGNB_QUICK=1), or what VGGNB_TRANSFER_SIZE says as
// "TRAIN,TEST[,TUNE]" (the note's full run: 2000,500,512).
func TransferSizes() (train, test, tune int) {
	train, test, tune = Sized(300, 100), Sized(100, 50), Sized(64, 32)
	if v := os.Getenv("VGGNB_TRANSFER_SIZE"); v != "" {
		n, err := fmt.Sscanf(v, "%d,%d,%d", &train, &test, &tune)
		if n < 2 || (err != nil && n != 2) || train < 10 || test < 10 || tune < 8 {
			panic(fmt.Sprintf("nb: VGGNB_TRANSFER_SIZE=%q: want TRAIN,TEST[,TUNE] (at least 10, 10, 8)", v))
		}
	}
	return train, test, min(tune, train)
}

// FashionSubset returns Fashion-MNIST and balanced subsets of its training and
// test sets of TransferSizes, the same in every cell.
func FashionSubset() (train, test *mlp.Dataset, trainIdx, testIdx []int) {
	train, test = FashionMNIST()
	n, m, _ := TransferSizes()
	trainIdx, err := transfer.Balanced(train, n, 10, 1)
	Must(err)
	testIdx, err = transfer.Balanced(test, m, 10, 2)
	Must(err)
	return train, test, trainIdx, testIdx
}

// VGG16Weights returns the VGG16 weight file (with or without the top):
// ImageNet's if verified on this machine, else SYNTHETIC weights.
func VGG16Weights(includeTop bool) (path string, synthetic bool) {
	path, synthetic, err := weights.ImageNetOrSynthetic("vgg16", includeTop, 1)
	Must(err)
	return path, synthetic
}

// PostModel is the transfer-learning post's model (transfer.NewPostModel) on
// VGG16Weights, its head initialised from seed 1.
func PostModel() *transfer.Stacked {
	path, _ := VGG16Weights(false)
	s, err := transfer.NewPostModel(path, 1)
	Must(err)
	return s
}

// Dir returns a directory for what notebook cells hand to later cells
// (checkpoints, cached features), under the vggnb cache: each cell is a new
// process, and these survive a kernel or server restart.
func Dir(name string) string {
	dir := filepath.Join(download.CacheDir(), "notebooks", name)
	Must(os.MkdirAll(dir, 0o755))
	return dir
}

// VariableSum adds up the values of store's variable at path: a fingerprint
// that shows whether training changed it.
func VariableSum(store *model.Store, path string) float64 {
	var s float64
	for _, v := range Values(store, path) {
		s += float64(v)
	}
	return s
}

// Examples returns the first n images of d as a batch (n, 784), values in [0, 1]
// as the MLP takes them.
func Examples(d *mlp.Dataset, n int) *tensors.Tensor {
	size := d.Rows * d.Cols
	n = min(n, d.Len())
	return tensors.FromFlatDataAndDimensions(slices.Clone(d.Images[:n*size]), n, size)
}

// SameArgmax counts the rows of two (batch, classes) outputs whose largest
// entry is in the same place.
func SameArgmax(a, b *tensors.Tensor) int {
	av, bv := Flat(a), Flat(b)
	classes := a.Shape().Dimensions[1]
	same := 0
	for r := range a.Shape().Dimensions[0] {
		ra, rb := av[r*classes:(r+1)*classes], bv[r*classes:(r+1)*classes]
		if slices.Index(ra, slices.Max(ra)) == slices.Index(rb, slices.Max(rb)) {
			same++
		}
	}
	return same
}

// TheanoVGG16 returns VGG16Weights(true) (channels_last) and the same weights in
// the layout of Keras' *_th_dim_ordering_th_kernels files (channels_first:
// flipped (O, I, H, W) kernels, fc1's rows in (C, H, W) order), written once by
// weights.ToTheano under Dir("03"); synthetic says whether they are SYNTHETIC.
func TheanoVGG16() (th, tf string, synthetic bool) {
	tf, synthetic = VGG16Weights(true)
	kind := map[bool]string{true: "synthetic", false: "imagenet"}[synthetic]
	th = filepath.Join(Dir("03"), "vgg16_weights_th_dim_ordering_th_kernels_"+kind+".h5")
	if _, err := os.Stat(th); err == nil {
		return th, tf, synthetic
	}
	f, err := weights.LoadVGG(tf, weights.MustVGG("vgg16", true, 0))
	Must(err)
	Must(weights.WriteKeras2(th, weights.ToTheano(f))) // atomic: whole or absent
	return th, tf, synthetic
}

// TransposeWithoutFlip is the classic conversion mistake: a Theano kernel (O, I,
// H, W) transposed to (H, W, I, O) but not flipped (Keras' convert_kernel
// forgotten), so every filter is applied upside down and mirrored.
func TransposeWithoutFlip(t weights.Tensor) weights.Tensor {
	o, i, h, w := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	out := make([]float32, len(t.Data))
	for oo := range o {
		for ii := range i {
			for hh := range h {
				for ww := range w {
					out[((hh*w+ww)*i+ii)*o+oo] = t.Data[((oo*i+ii)*h+hh)*w+ww]
				}
			}
		}
	}
	return weights.Tensor{Name: t.Name, Shape: []int{h, w, i, o}, Data: out}
}

// WithWeight returns a copy of f (sharing the other tensors) whose layer's
// weight i is t.
func WithWeight(f *weights.File, layer string, i int, t weights.Tensor) *weights.File {
	out := *f
	out.Layers = slices.Clone(f.Layers)
	for li := range out.Layers {
		if out.Layers[li].Name == layer {
			out.Layers[li].Weights = slices.Clone(out.Layers[li].Weights)
			out.Layers[li].Weights[i] = t
			return &out
		}
	}
	panic(fmt.Sprintf("nb.WithWeight: no layer %s in %s", layer, f.Path))
}

// Top5 prints two models' top-5 ImageNet classes (predictions of shape (1,
// 1000)) side by side; with SYNTHETIC weights it says the names mean nothing.
func Top5(nameA string, a *tensors.Tensor, nameB string, b *tensors.Tensor, synthetic bool) {
	pa, err := imagenet.DecodePredictions(a, 5)
	Must(err)
	pb, err := imagenet.DecodePredictions(b, 5)
	Must(err)
	fmt.Printf("\n%-40s %s\n", nameA+", top 5", nameB+", top 5")
	for i := range 5 {
		fmt.Printf("%-28s %-11.4g %-28s %.4g\n", pa[0][i].Name, pa[0][i].Score, pb[0][i].Name, pb[0][i].Score)
	}
	if synthetic {
		fmt.Println("(SYNTHETIC weights: the class names mean nothing; whether the two columns agree does)")
	}
}

// VGG19Logits is VGG19 with its top and a linear classifier (the class scores
// before softmax, as Grad-CAM differentiates them), on VGG19's weight file with
// the top: ImageNet's if verified on this machine, else SYNTHETIC (synthetic
// says which; path is the file, for the PyTorch reference).
func VGG19Logits() (m *gomlx_vgg.Model, path string, synthetic bool) {
	path, synthetic, err := weights.ImageNetOrSynthetic("vgg19", true, 1)
	Must(err)
	m, err = gomlx_vgg.VGG19().Weights(gomlx_vgg.WeightSource(path)).ClassifierActivation("linear").Notices(nil).Done()
	Must(err)
	return m, path, synthetic
}

// ORT is ONNX Runtime for the notebooks' cells: the checkout's scripts/ort
// (environ.ORT: $VGGNB_ORT_DIR if set, else under $VGGNB_CHECKOUT, which the
// vggnb kernel sets, else under the vggnb checkout at or above the working
// directory).
func ORT() ort.Runtime {
	rt, err := environ.ORT()
	if err != nil {
		panic(fmt.Errorf("nb: %w", err))
	}
	return rt
}
