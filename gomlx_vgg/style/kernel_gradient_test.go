package style

import (
	"fmt"
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's own style for graph code.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/weights"
)

// TestKernelGradientsMatchPyTorch: the style loss differentiated with respect
// to convolution kernels (the first layer, one inside, the deepest) through
// the graph's written-out convolution gradients equals float64 PyTorch
// autograd within 1e-4 of the largest value: the weight gradients that
// fine-tuning uses.
func TestKernelGradientsMatchPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("VGG19 style loss in Go and in PyTorch")
	}
	path, _, err := weights.ImageNetOrSynthetic("vgg19", false, 1)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightSource(path)).Notices(nil).Done()
	if err != nil {
		t.Fatal(err)
	}
	const h, w = 64, 64
	photo, err := gomlx_vgg.DemoImage(gomlx_vgg.TargetSize(h, w))
	if err != nil {
		t.Fatal(err)
	}
	cup, err := gomlx_vgg.CoffeeImage(gomlx_vgg.TargetSize(h, w))
	if err != nil {
		t.Fatal(err)
	}
	c, err := gomlx_vgg.ImageInput(photo, weights.ChannelsLast)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gomlx_vgg.ImageInput(cup, weights.ChannelsLast)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := New(m).LearningRate(1e3, 100, 0.96).Done(c, s)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // away from the content image, so that every term has a gradient
		if _, err := tr.Step(); err != nil {
			t.Fatal(err)
		}
	}
	layers := []string{"block1_conv1", "block3_conv2", "block5_conv2"}
	x := tr.Image()
	outs, err := model.ExecOnceN(m.Backend(), m.Store(), func(scope *model.Scope, in []*Node) []*Node {
		content, style, tv := tr.losses(in)
		var ks []*Node
		for _, l := range layers {
			ks = append(ks, m.Scope().At("%s", l).GetVariable("kernel").NodeValue(in[0].Graph()))
		}
		return Gradient(Add(Add(content, style), tv), ks...)
	}, append([]any{x}, anySlice(tr.targets)...)...)
	if err != nil {
		t.Fatal(err)
	}
	photoFile, err := gomlx_vgg.DemoImageFile()
	if err != nil {
		t.Fatal(err)
	}
	cupFile, err := gomlx_vgg.CoffeeImageFile()
	if err != nil {
		t.Fatal(err)
	}
	ref, err := torchref.Run(torchref.Options{Weights: path, Model: "vgg19", Image: photoFile, Height: h, Width: w,
		Float32: true, Style: &torchref.Style{Image: cupFile, Combination: tensors.MustCopyFlatData[float32](x), KernelGradients: layers}})
	if err != nil {
		t.Fatal(err)
	}
	truth, f32 := consistency.FromTorch(ref)
	got := map[string]*tensors.Tensor{}
	var names []string
	for i, l := range layers {
		name := fmt.Sprintf("style_kernel_gradient_%s", l)
		got[name] = outs[i]
		names = append(names, name)
	}
	r := consistency.Check(consistency.FromTensors("GoMLX", got), truth, names, 1e-4).Beside(f32)
	for _, row := range r.Rows {
		t.Logf("%-36s %v rel %.2g, PyTorch float32 %.2g %s", row.Layer, row.Shape, row.Rel, row.PeerRel, row.Problem)
	}
	if !r.Passed() {
		t.Errorf("kernel gradients differ from PyTorch float64 autograd beyond 1e-4: %v", r.Failed())
	}
}
