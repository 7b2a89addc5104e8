//go:build !linux

package kernels

// AdviseHugePages does nothing outside Linux (see the Linux version).
func AdviseHugePages(s []float32) {}

// MakeLarge is make([]float32, n) outside Linux (see the Linux version).
func MakeLarge(n int) []float32 { return make([]float32, n) }

func makeLarge[T float32 | float64](n int) []T { return make([]T, n) }

// mapLarge is MakeLarge outside Linux, with nothing to unmap (see the Linux
// version).
func mapLarge(n int) (s []float32, unmap func()) { return make([]float32, n), func() {} }
