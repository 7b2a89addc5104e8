package parallel

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// TestForEach: every index once, for counts around the number of cores.
func TestForEach(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 100} {
		calls := make([]atomic.Int32, n)
		ForEach(n, func(i int) { calls[i].Add(1) })
		for i := range calls {
			if c := calls[i].Load(); c != 1 {
				t.Errorf("n=%d: fn(%d) called %d times", n, i, c)
			}
		}
	}
}

// TestRanges: the ranges cover [0, n) once, each size long but the last.
func TestRanges(t *testing.T) {
	for _, c := range []struct{ n, size int }{{0, 4}, {1, 4}, {8, 4}, {9, 4}, {100, 7}} {
		t.Run(fmt.Sprintf("%d/%d", c.n, c.size), func(t *testing.T) {
			covered := make([]atomic.Int32, c.n)
			Ranges(c.n, c.size, func(from, to int) {
				if from%c.size != 0 || to-from > c.size || to <= from || (to-from < c.size && to != c.n) {
					t.Errorf("range [%d, %d)", from, to)
				}
				for i := from; i < to; i++ {
					covered[i].Add(1)
				}
			})
			for i := range covered {
				if v := covered[i].Load(); v != 1 {
					t.Errorf("value %d covered %d times", i, v)
				}
			}
		})
	}
}
