package transfer

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/weights"
)

// TestNativeStepMatchesGraph: end-to-end steps with the base on the native
// kernels (Trainer.Native) give the losses and the updated variables, base
// and head, of the same steps through the GoMLX graph, for each optimizer
// kind and Freeze setting: all trainable, the first blocks frozen, and the
// whole base frozen (a forward pass only); and so do steps of the head alone
// on the base's features (HeadTrainer), its conv2d_1 trainable or frozen. The
// head runs on the native kernels in all of them, with dropout on (its random
// numbers are GoMLX's, the same as the graph's).
func TestNativeStepMatchesGraph(t *testing.T) {
	if testing.Short() {
		t.Skip("trains VGG16 to block3_pool twice")
	}
	path, _, err := weights.ImageNetOrSynthetic("vgg16", false, 1)
	if err != nil {
		t.Fatal(err)
	}
	x := photosAt(t, 3, 48, 7)
	labels := []int32{3, 7, 1}
	// The updates of the first step are compared. SGD's are the gradients
	// times the learning rate: they must agree within 1e-4 (measured: 4e-5).
	// RMSProp and Adam check that every gradient reaches its own variable and
	// the optimizer's state: with a large epsilon their updates stay close to
	// linear in the gradients (with a small one, the sign of a gradient within
	// rounding of 0 decides an update of ±lr), within 1e-3 (measured: 3e-4; a
	// gradient given to the wrong variable differs by ~1). The second step's
	// loss, after the update, is compared too; later steps are not, as the
	// synthetic weights make the loss large (~250) and the steps chaotic.
	cases := []struct {
		name   string
		opt    func() optimizer.Interface
		frozen int
		tol    float64
		// features: the head alone on the base's features (HeadTrainer).
		features bool
	}{
		{"rmsprop/all trainable", func() optimizer.Interface { return optimizer.RMSProp().LearningRate(1).Epsilon(1e6).Done() }, 0, 1e-3, false},
		{"sgd/all trainable", func() optimizer.Interface { return optimizer.StochasticGradientDescent().WithLearningRate(1e-4).Done() }, 0, 1e-4, false},
		{"sgd/block1 frozen", func() optimizer.Interface { return optimizer.StochasticGradientDescent().WithLearningRate(1e-4).Done() }, 4, 1e-4, false},
		{"adam/base frozen", func() optimizer.Interface { return optimizer.Adam().LearningRate(1).Epsilon(1e6).Done() }, 11, 1e-3, false},
		{"sgd/head on features", func() optimizer.Interface { return optimizer.StochasticGradientDescent().WithLearningRate(1e-4).Done() }, 0, 1e-4, true},
		{"rmsprop/head on features, conv2d_1 frozen", func() optimizer.Interface { return optimizer.RMSProp().LearningRate(1).Epsilon(1e6).Done() }, 12, 1e-3, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			run := func(engine string) ([]float32, map[string][]float32) {
				s, err := NewStacked(path, "block3_pool", 48, 5)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Freeze(c.frozen); err != nil {
					t.Fatal(err)
				}
				tr, in := s.EndToEndTrainer(c.opt()), x
				if c.features {
					tr = s.HeadTrainer(c.opt())
					if in, err = s.Features(x); err != nil {
						t.Fatal(err)
					}
				}
				tr.GraphOnly(engine == "graph")
				if got, want := tr.Native(), engine != "graph"; got != want {
					t.Fatalf("GraphOnly(%v): Native() = %v, want %v", engine == "graph", got, want)
				}
				var losses []float32
				var after map[string][]float32
				for i := range 2 {
					l, err := tr.Step(in, labels)
					if err != nil {
						t.Fatal(err)
					}
					losses = append(losses, l)
					if i == 0 {
						after = values(s)
					}
				}
				return losses, after
			}
			gl, gv := run("graph")
			nl, nv := run("")
			for i := range gl {
				if math.Abs(float64(gl[i]-nl[i])) > []float64{1e-5, 1e-3}[i]*math.Abs(float64(gl[i])) {
					t.Errorf("step %d: loss %v native, %v graph", i, nl[i], gl[i])
				}
			}
			// The updates (value after - before) are compared: with SGD they
			// are the gradients times the learning rate.
			before := values(mustStacked(t, path))
			changed, worst := 0, 0.0
			for p, g := range gv {
				if before[p] == nil {
					continue // the optimizer's state
				}
				dg, dn := make([]float64, len(g)), make([]float32, len(g))
				for i := range g {
					dg[i], dn[i] = float64(g[i])-float64(before[p][i]), nv[p][i]-before[p][i]
				}
				_, rel := consistency.Compare(dn, dg)
				worst = max(worst, rel)
				if !(rel < c.tol) {
					t.Errorf("%s: native and graph updates differ by %.3g of the largest, want < %g", p, rel, c.tol)
				}
				if !math.IsNaN(rel) {
					changed++
				}
			}
			t.Logf("largest difference between the updates: %.3g of the largest update", worst)
			if changed == 0 {
				t.Error("no variable changed in training")
			}
		})
	}
}

func mustStacked(t *testing.T, path string) *Stacked {
	s, err := NewStacked(path, "block3_pool", 48, 5)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
