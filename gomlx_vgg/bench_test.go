package gomlx_vgg

import (
	"fmt"
	"testing"
)

// BenchmarkVGG19 times VGG19 features (no top, synthetic weights) on one
// 224x224 image and a batch of 8, through the native kernels and through the
// GoMLX graph, on the pure-Go backend. bench/vgg compares them with PyTorch.
func BenchmarkVGG19(b *testing.B) {
	m := VGG19().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).MustDone()
	for _, n := range []int{1, 8} {
		x := randomBatch(1, n, 224, 224, 3)
		for _, k := range []Engine{EngineNative, EngineGraph} {
			b.Run(fmt.Sprintf("%s/batch%d", k, n), func(b *testing.B) {
				if _, err := m.outputs(k, x, nil); err != nil { // packs or compiles
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := m.outputs(k, x, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N*n), "ms/img")
			})
		}
	}
}
