// Package parallel runs a loop's iterations on all cores: the one worker
// pool of vggnb's kernels, weight loading and training steps.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// ForEach calls fn(0), ..., fn(n-1) on all cores (the caller's goroutine
// included), each index once, and returns when they all have.
func ForEach(n int, fn func(i int)) {
	var next atomic.Int64
	work := func() {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			fn(i)
		}
	}
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// Ranges splits [0, n) into ranges of size values (the last one shorter) and
// calls fn(from, to) for each on all cores, like ForEach.
func Ranges(n, size int, fn func(from, to int)) {
	ForEach((n+size-1)/size, func(i int) { fn(i*size, min(n, (i+1)*size)) })
}
