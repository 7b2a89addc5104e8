package style_test

import (
	"testing"

	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's own style for graph code.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/style"
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
	m, path := network(t)
	c, s := images(t, 64, 64)
	tr, err := style.New(m).LearningRate(1e3, 100, 0.96).GraphOnly(true).Done(c, s) // LossNodes is the graph's
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
	outs, err := model.ExecOnceN(m.Backend(), m.Store(), func(_ *model.Scope, x *Node) []*Node {
		var ks []*Node
		for _, l := range layers {
			ks = append(ks, m.Scope().At("%s", l).GetVariable("kernel").NodeValue(x.Graph()))
		}
		return Gradient(tr.LossNodes(x), ks...)
	}, x)
	if err != nil {
		t.Fatal(err)
	}
	truth, f32 := reference(t, path, x, layers...)
	got := map[string]*tensors.Tensor{}
	var names []string
	for i, l := range layers {
		name := "style_kernel_gradient_" + l
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
