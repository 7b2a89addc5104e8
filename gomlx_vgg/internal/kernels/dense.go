package kernels

import (
	"fmt"
	"runtime"
	"sync"
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

// denseGradWork holds DenseGrads' buffers, kept from call to call.
type denseGradWork struct{ xt, dyp, dyt []float32 }

var denseGradPool = sync.Pool{New: func() any { return new(denseGradWork) }}

// denseGroups is how many micro-kernel row groups (mr rows each) a worker
// takes at a time in DenseGrads.
const denseGroups = 16

// DenseGrads computes the gradients of a dense layer y = x·kernel + bias
// (Dense, without its ReLU: ReluGrad first) for x (n, k), kernel (k, o) and
// dy (n, o), the gradient with respect to y: the kernel's, dk (k, o) = xᵀ·dy,
// the bias', db (o) = the sum of dy's rows, and, unless dx is nil, the
// input's, dx (n, k) = dy·kernelᵀ. With dk and db nil only dx is computed
// (a gradient with respect to the input only, as Grad-CAM's). The two matrix
// products run on the micro-kernel, a sum over the batch (dk) or over the o
// outputs (dx) per value; db is summed in float64.
//
// It runs on Best's kernels.
func DenseGrads(dx, dk, db, x, kernel, dy []float32, n, k, o int) error {
	return Kernels{}.DenseGrads(dx, dk, db, x, kernel, dy, n, k, o)
}

// DenseGrads is the package's DenseGrads on ks.
func (ks Kernels) DenseGrads(dx, dk, db, x, kernel, dy []float32, n, k, o int) error {
	inputOnly := dk == nil && db == nil && dx != nil
	if n <= 0 || k <= 0 || o <= 0 || len(x) != n*k || len(kernel) != k*o || len(dy) != n*o ||
		!inputOnly && (len(dk) != k*o || len(db) != o) || dx != nil && len(dx) != n*k {
		return fmt.Errorf("kernels: dense %d->%d gradients on batch %d: x has %d values (want %d), kernel %d (want %d), dy %d (want %d), dk %d (want %d), db %d (want %d), dx %d (want %d or none)",
			k, o, n, len(x), n*k, len(kernel), k*o, len(dy), n*o, len(dk), k*o, len(db), o, len(dx), n*k)
	}
	microKernel := ks.or().micro
	dw := denseGradPool.Get().(*denseGradWork)
	defer denseGradPool.Put(dw)
	opad, npad := (o+nr-1)/nr*nr, (n+nr-1)/nr*nr
	groups := (k + mr - 1) / mr
	chunks := (groups + denseGroups - 1) / denseGroups
	var rowsTimes rowsTimesFunc = func(g int, rows func(r int) []float32, c int, b []float32, ldb, cols int, put func(r int, out []float32, col, width int)) {
		var a [mr * 9][]float32
		var out [mr][]float32
		scratch := make([]float32, mr*nr)
		for i := range mr {
			out[i] = scratch[i*nr : (i+1)*nr]
		}
		for g0 := g * denseGroups; g0 < min(groups, (g+1)*denseGroups); g0++ {
			r0 := g0 * mr
			valid := min(mr, k-r0)
			for i := range mr {
				a[i*9] = rows(r0 + min(i, valid-1))
			}
			for p := 0; p < ldb; p += nr {
				microKernel(&a, 1, c, b[p:], ldb, nil, &out)
				for i := range valid {
					put(r0+i, out[i], p, min(nr, cols-p))
				}
			}
		}
	}
	if !inputOnly {
		denseKernelGrad(dw, rowsTimes, chunks, dk, db, x, dy, n, k, o, opad)
	}
	if dx == nil {
		return nil
	}
	// dx's column r is kernel's row r times dyt, dy transposed (o, npad).
	dw.dyt = grow(dw.dyt, o*npad)
	dyt := dw.dyt
	for j := range o {
		row := dyt[j*npad : (j+1)*npad]
		for i := range n {
			row[i] = dy[i*o+j]
		}
		clear(row[n:])
	}
	ForEach(chunks, func(g int) {
		rowsTimes(g, func(r int) []float32 { return kernel[r*o : (r+1)*o] }, o, dyt, npad, n,
			func(r int, out []float32, col, width int) {
				for i, v := range out[:width] {
					dx[(col+i)*k+r] = v
				}
			})
	})
	return nil
}

// rowsTimesFunc computes, for chunk g of DenseGrads' row groups (mr rows of
// a, at rows(r), c values each), the products with b (c, ldb) panel by panel
// on the micro-kernel, and hands each row's panel of cols columns to put.
type rowsTimesFunc func(g int, rows func(r int) []float32, c int, b []float32, ldb, cols int, put func(r int, out []float32, col, width int))

// denseKernelGrad is DenseGrads' dk and db.
func denseKernelGrad(dw *denseGradWork, rowsTimes rowsTimesFunc, chunks int, dk, db, x, dy []float32, n, k, o, opad int) {
	// xt (k, n) is x transposed: dk's rows are xt's rows times dyp, dy padded
	// to opad columns.
	dw.xt, dw.dyp = grow(dw.xt, k*n), grow(dw.dyp, n*opad)
	xt, dyp := dw.xt, dw.dyp
	ForEach((k+255)/256, func(b int) {
		for j := b * 256; j < min(k, (b+1)*256); j++ {
			for i := range n {
				xt[j*n+i] = x[i*k+j]
			}
		}
	})
	for i := range n {
		row := dyp[i*opad : (i+1)*opad]
		copy(row, dy[i*o:(i+1)*o])
		clear(row[o:])
	}
	for j := range o {
		var s float64
		for i := range n {
			s += float64(dy[i*o+j])
		}
		db[j] = float32(s)
	}
	ForEach(chunks, func(g int) {
		rowsTimes(g, func(r int) []float32 { return xt[r*n : (r+1)*n] }, n, dyp, opad, o,
			func(r int, out []float32, col, width int) { copy(dk[r*o+col:r*o+col+width], out[:width]) })
	})
}
