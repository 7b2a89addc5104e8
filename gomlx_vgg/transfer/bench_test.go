package transfer

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/weights"
)

// BenchmarkHeadStep is one head-only training step on cached features, batch 32
// (bench/transfer's case a).
func BenchmarkHeadStep(b *testing.B) {
	t := &testing.T{}
	s := postModel(t)
	feats := tensors.FromShape(shapes.Make(dtypes.Float32, 32, 40, 40, 128))
	tensors.MutableFlatData(feats, func(f []float32) {
		for i := range f {
			f[i] = float32(i%97) / 10
		}
	})
	labels := make([]int32, 32)
	tr := s.HeadTrainer(RMSprop(1e-3))
	if _, err := tr.Step(feats, labels); err != nil { // compile
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := tr.Step(feats, labels); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFineTuneStep is one fine-tuning step of VGG16 to block5_pool with
// every conv trainable + head, batch 8 at 160x160 (bench/transfer's case c),
// with the base on the native kernels and through the GoMLX graph alone.
func BenchmarkFineTuneStep(b *testing.B) {
	path, _, err := weights.ImageNetOrSynthetic("vgg16", false, 1)
	if err != nil {
		b.Fatal(err)
	}
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 8, 160, 160, 3))
	tensors.MutableFlatData(x, func(f []float32) {
		for i := range f {
			f[i] = float32((i*7919)%1000)/10 - 50
		}
	})
	labels := []int32{0, 1, 2, 3, 4, 5, 6, 7}
	for _, engine := range []string{"native", "graph"} {
		b.Run(engine, func(b *testing.B) {
			s, err := NewStacked(path, "block5_pool", 160, 1)
			if err != nil {
				b.Fatal(err)
			}
			tr := s.EndToEndTrainer(RMSprop(1e-4)).GraphOnly(engine == "graph")
			if tr.Native() != (engine == "native") {
				b.Fatalf("GraphOnly(%v): Native() = %v", engine == "graph", tr.Native())
			}
			if _, err := tr.Step(x, labels); err != nil { // compile
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := tr.Step(x, labels); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
