package kernels

import (
	"sync"
	"time"
)

// fmaLoop runs n x 12 independent FMAs of 16 float32 lanes, or is nil where
// this build and CPU have no AVX-512 micro-kernel.
var fmaLoop func(n int)

// FMAPeak measures the most floating point operations per second (2 per
// multiply-add, GFLOP/s) that the micro-kernel's vector FMAs can reach on
// threads cores, nothing loaded or stored: the ceiling for the convolutions.
// It runs for about d, and returns 0 where the micro-kernel in use is not the
// AVX-512 one.
func FMAPeak(threads int, d time.Duration) float64 {
	if best.simd != "AVX-512" || threads < 1 { // fmaLoop is set with the AVX-512 micro-kernel
		return 0
	}
	const n = 1 << 20 // ~3 ms per call at 4 GHz
	calls := 0
	for t0 := time.Now(); time.Since(t0) < d/10; calls++ {
		fmaLoop(n)
	}
	calls = max(1, calls*10)
	var wg sync.WaitGroup
	t0 := time.Now()
	for range threads {
		wg.Go(func() {
			for range calls {
				fmaLoop(n)
			}
		})
	}
	wg.Wait()
	return float64(threads) * float64(calls) * n * 12 * 16 * 2 / time.Since(t0).Seconds() / 1e9
}
