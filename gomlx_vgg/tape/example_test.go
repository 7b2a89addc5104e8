package tape_test

import (
	"fmt"
	"io"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/tape"
)

// One backward pass on the native kernels: VGG16 cut at block2_pool on a
// 32x32 batch of 2, and the gradients of block2_conv2's kernel and bias for
// the gradient of sum(output), as a head's autodiff would hand it over.
func ExampleRecorder_Record() {
	m, err := gomlx_vgg.VGG16().IncludeTop(false).InputShape(32, 32, 3).
		Weights(gomlx_vgg.WeightsSynthetic). // offline stand-in; use "imagenet" or a .h5 path
		Notices(io.Discard).Done()
	if err != nil {
		panic(err)
	}
	if m, err = m.Truncate("block2_pool"); err != nil {
		panic(err)
	}
	r, err := tape.New(m)
	if err != nil {
		panic(err)
	}
	x := tensors.FromShape(tensors.FromFlatDataAndDimensions(make([]float32, 2*32*32*3), 2, 32, 32, 3).Shape())
	t, err := r.Record(x, "block2_conv2")
	if err != nil {
		panic(err)
	}
	ones := make([]float32, t.Output().Shape().Size())
	for i := range ones {
		ones[i] = 1
	}
	grads, err := t.Backward(tensors.FromFlatDataAndDimensions(ones, t.Output().Shape().Dimensions...))
	if err != nil {
		panic(err)
	}
	fmt.Println("output", t.Output().Shape().Dimensions)
	fmt.Println("block2_conv2 kernel", grads["block2_conv2"].Kernel.Shape().Dimensions, "bias", grads["block2_conv2"].Bias.Shape().Dimensions)
	// Output:
	// output [2 8 8 128]
	// block2_conv2 kernel [3 3 128 128] bias [128]
}
