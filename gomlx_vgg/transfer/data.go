package transfer

import (
	"fmt"
	"image"
	"math/rand/v2"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/weights"
)

// Balanced returns n example indices of d with the classes in equal shares (n
// rounded down to a multiple of classes), drawn reproducibly from seed: the
// subset a small machine trains on.
func Balanced(d *mlp.Dataset, n, classes int, seed uint64) ([]int, error) {
	if n < classes || classes <= 0 {
		return nil, fmt.Errorf("transfer: a balanced subset of %d examples over %d classes", n, classes)
	}
	per := n / classes
	byClass := make([][]int, classes)
	for i, l := range d.Labels {
		if int(l) < classes {
			byClass[l] = append(byClass[l], i)
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x7fa57))
	var out []int
	for c, ids := range byClass {
		if len(ids) < per {
			return nil, fmt.Errorf("transfer: %s has %d examples of class %d, fewer than %d", d.Name, len(ids), c, per)
		}
		r.Shuffle(len(ids), func(i, j int) { ids[i], ids[j] = ids[j], ids[i] })
		out = append(out, ids[:per]...)
	}
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out, nil
}

// Images returns examples idx of d (28x28 grey, as Fashion-MNIST) as VGG takes
// them: each image resized to size x size (bilinear, as PIL), grey copied to R,
// G and B, then preprocess_input; and their labels. A batch (n, size, size, 3).
func Images(d *mlp.Dataset, idx []int, size int) (*tensors.Tensor, []int32, error) {
	if size <= 0 {
		return nil, nil, fmt.Errorf("transfer: image size %d", size)
	}
	px := d.Rows * d.Cols
	one := size * size * 3
	data := make([]float32, 0, len(idx)*one)
	labels := make([]int32, len(idx))
	gray := image.NewGray(image.Rect(0, 0, d.Cols, d.Rows))
	for i, j := range idx {
		if j < 0 || j >= len(d.Labels) {
			return nil, nil, fmt.Errorf("transfer: example %d of %s, which has %d", j, d.Name, len(d.Labels))
		}
		for k, v := range d.Images[j*px : (j+1)*px] {
			gray.Pix[k] = uint8(v*255 + 0.5)
		}
		img, err := imagenet.ResizeImg(gray, size, size, imagenet.Bilinear)
		if err != nil {
			return nil, nil, err
		}
		x, err := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
		if err != nil {
			return nil, nil, err
		}
		tensors.ConstFlatData(x, func(f []float32) { data = append(data, f...) })
		labels[i] = int32(d.Labels[j])
	}
	return tensors.FromFlatDataAndDimensions(data, len(idx), size, size, 3), labels, nil
}

// rows returns rows [from, to) of a batch tensor as a new tensor.
func rows(x *tensors.Tensor, from, to int) *tensors.Tensor {
	dims := x.Shape().Dimensions
	per := x.Shape().Size() / dims[0]
	out := make([]float32, (to-from)*per)
	tensors.ConstFlatData(x, func(f []float32) { copy(out, f[from*per:to*per]) })
	return tensors.FromFlatDataAndDimensions(out, append([]int{to - from}, dims[1:]...)...)
}

// gather returns rows idx of a batch tensor as a new tensor.
func gather(x *tensors.Tensor, idx []int) *tensors.Tensor {
	dims := x.Shape().Dimensions
	per := x.Shape().Size() / dims[0]
	out := make([]float32, len(idx)*per)
	tensors.ConstFlatData(x, func(f []float32) {
		for i, j := range idx {
			copy(out[i*per:(i+1)*per], f[j*per:(j+1)*per])
		}
	})
	return tensors.FromFlatDataAndDimensions(out, append([]int{len(idx)}, dims[1:]...)...)
}
