package transfer

import (
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
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
