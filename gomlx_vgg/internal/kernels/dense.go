package kernels

import (
	"fmt"
	"runtime"
)

// DenseBlock is the length of the partial sums Dense adds up: float32
// rounding error then grows with the block instead of with the input length
// (25088 for VGG's fc1), as in gomlx_vgg's graph.
const DenseBlock = 256

// Dense computes dst = x·kernel + bias for x (n, k), a Keras kernel (k, o) and
// bias (o), all row-major, with ReLU if relu is set. The k products of each
// output are summed in blocks of DenseBlock, and the blocks' sums then added.
// It runs on Best's kernels.
func Dense(dst, x, kernel, bias []float32, n, k, o int, relu bool) error {
	return Kernels{}.Dense(dst, x, kernel, bias, n, k, o, relu)
}

// Dense is the package's Dense on ks.
func (ks Kernels) Dense(dst, x, kernel, bias []float32, n, k, o int, relu bool) error {
	if k <= 0 || o <= 0 || len(x) != n*k || len(kernel) != k*o || len(bias) != o || len(dst) != n*o {
		return fmt.Errorf("kernels: dense %d->%d on batch %d: x has %d values (want %d), kernel %d (want %d), bias %d (want %d), dst %d (want %d)",
			k, o, n, len(x), n*k, len(kernel), k*o, len(bias), o, len(dst), n*o)
	}
	axpy := ks.or().vec.axpy
	// Workers take column ranges, multiples of 16 wide.
	workers := max(1, min(runtime.GOMAXPROCS(0), o/64))
	step := (o/workers + 15) / 16 * 16
	ForEach((o+step-1)/step, func(i int) {
		denseColumns(axpy, dst, x, kernel, bias, n, k, o, i*step, min(o, (i+1)*step), relu)
	})
	return nil
}

// denseColumns computes output columns [c0, c1) of Dense.
func denseColumns(axpy func(dst []float32, a float32, x []float32), dst, x, kernel, bias []float32, n, k, o, c0, c1 int, relu bool) {
	width := c1 - c0
	part := make([]float32, n*width)
	total := make([]float32, n*width)
	for k0 := 0; k0 < k; k0 += DenseBlock {
		clear(part)
		for j := k0; j < min(k, k0+DenseBlock); j++ {
			row := kernel[j*o+c0 : j*o+c1]
			for i := range n {
				if a := x[i*k+j]; a != 0 { // ReLU outputs: often zero
					axpy(part[i*width:(i+1)*width], a, row)
				}
			}
		}
		for i, v := range part {
			total[i] += v
		}
	}
	for i := range n {
		out := dst[i*o+c0 : i*o+c1]
		for j, v := range total[i*width : (i+1)*width] {
			v += bias[c0+j]
			if relu {
				v = max(0, v)
			}
			out[j] = v
		}
	}
}

// axpyGo is dst += a*x (vectorOps.axpy).
func axpyGo(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += a * x[i]
	}
}
