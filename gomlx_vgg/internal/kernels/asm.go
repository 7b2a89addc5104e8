//go:build !purego && (amd64 || arm64)

package kernels

import "unsafe"

// The Go side of the assembly kernels (kernels_amd64.go, kernels_arm64.go):
// each wrapper checks every length the assembly reads or writes, so that a
// wrong call panics in Go instead of touching memory it should not, and
// leaves the channels past the last full vector to the portable Go.

// asmMicro is the assembly form of a micro-kernel: pointers for b and bias
// (nil: no bias).
type asmMicro = func(rows *[mr * 9][]float32, taps, c int, b *float32, ldb int, bias *float32, out *[mr][]float32)

// microChecked wraps an assembly micro-kernel.
func microChecked(k asmMicro) microKernelFunc {
	return func(rows *[mr * 9][]float32, taps, c int, b []float32, ldb int, bias []float32, out *[mr][]float32) {
		if taps < 1 || taps > 9 || c < 1 || ldb < nr || len(b) < (taps*c-1)*ldb+nr || bias != nil && len(bias) < nr {
			panic("kernels: micro-kernel arguments out of range")
		}
		for i := range mr {
			_ = out[i][nr-1]
			for t := range taps {
				_ = rows[i*9+t][c-1]
			}
		}
		k(rows, taps, c, unsafe.SliceData(b), ldb, unsafe.SliceData(bias), out)
	}
}

// winoAsm wraps assembly transforms that do lanes channels a step.
func winoAsm(isa string, lanes int,
	input func(v *float32, d *[16][]float32, c, from, to int),
	output func(y *[4][]float32, m, bias *float32, floor float32),
	kernel func(u *float32, us int, g *[9][]float32)) winoTransforms {
	return winoTransforms{
		isa: isa,
		input: func(v []float32, d *[16][]float32, c, from int) {
			v = v[:16*c]
			checkRows(d[:], c)
			to := from + max(0, c-from)/lanes*lanes
			if to > from {
				input(unsafe.SliceData(v), d, c, from, to)
			}
			winoInputGo(v, d, c, to)
		},
		output: func(y *[4][]float32, m []float32, bias []float32, floor float32) {
			m, bias = m[:16*nr], bias[:nr]
			checkRows(y[:], nr)
			output(y, unsafe.SliceData(m), unsafe.SliceData(bias), floor)
		},
		kernel: func(u []float32, us int, g *[9][]float32) {
			checkKernelArgs(u, us, 16, g)
			kernel(unsafe.SliceData(u), us, g)
		},
	}
}

// axpyAsm wraps an assembly axpy that does a multiple of lanes floats.
func axpyAsm(lanes int, f func(dst *float32, a float32, x *float32, n int)) func(dst []float32, a float32, x []float32) {
	return func(dst []float32, a float32, x []float32) {
		x = x[:len(dst)]
		n := len(dst) / lanes * lanes
		if n > 0 {
			f(unsafe.SliceData(dst), a, unsafe.SliceData(x), n)
		}
		axpyGo(dst[n:], a, x[n:])
	}
}

// addWidenAsm wraps an assembly addWiden that does a multiple of lanes values.
func addWidenAsm(lanes int, f func(dst *float64, src *float32, n int)) func(dst []float64, src []float32) {
	return func(dst []float64, src []float32) {
		src = src[:len(dst)]
		n := len(dst) / lanes * lanes
		if n > 0 {
			f(unsafe.SliceData(dst), unsafe.SliceData(src), n)
		}
		addWidenGo(dst[n:], src[n:])
	}
}

// maxRowsAsm wraps an assembly maxRows that does a multiple of lanes floats.
func maxRowsAsm(lanes int, f func(dst, a, b, c, d *float32, n int)) func(dst, a, b, c, d []float32) {
	return func(dst, a, b, c, d []float32) {
		l := len(dst)
		a, b, c, d = a[:l], b[:l], c[:l], d[:l]
		n := l / lanes * lanes
		if n > 0 {
			f(unsafe.SliceData(dst), unsafe.SliceData(a), unsafe.SliceData(b), unsafe.SliceData(c), unsafe.SliceData(d), n)
		}
		maxRowsGo(dst[n:], a[n:], b[n:], c[n:], d[n:])
	}
}

// maxGradAsm wraps an assembly maxGrad that does a multiple of lanes
// channels.
func maxGradAsm(lanes int, f func(d00, d01, d10, d11, v00, v01, v10, v11, g *float32, n int)) func(d00, d01, d10, d11, v00, v01, v10, v11, g []float32) {
	return func(d00, d01, d10, d11, v00, v01, v10, v11, g []float32) {
		l := len(g)
		d00, d01, d10, d11 = d00[:l], d01[:l], d10[:l], d11[:l]
		v00, v01, v10, v11 = v00[:l], v01[:l], v10[:l], v11[:l]
		n := l / lanes * lanes
		if n > 0 {
			f(unsafe.SliceData(d00), unsafe.SliceData(d01), unsafe.SliceData(d10), unsafe.SliceData(d11),
				unsafe.SliceData(v00), unsafe.SliceData(v01), unsafe.SliceData(v10), unsafe.SliceData(v11), unsafe.SliceData(g), n)
		}
		maxGradGo(d00[n:], d01[n:], d10[n:], d11[n:], v00[n:], v01[n:], v10[n:], v11[n:], g[n:])
	}
}

// rmspropAsm wraps an assembly rmsprop that does a multiple of lanes values.
func rmspropAsm(lanes int, f func(nv, m2, old, g *float32, n int, s *[5]float32)) func(nv, m2, old, g []float32, s *[5]float32) {
	return func(nv, m2, old, g []float32, s *[5]float32) {
		l := len(g)
		nv, m2, old = nv[:l], m2[:l], old[:l]
		n := l / lanes * lanes
		if n > 0 {
			f(unsafe.SliceData(nv), unsafe.SliceData(m2), unsafe.SliceData(old), unsafe.SliceData(g), n, s)
		}
		rmspropGo(nv[n:], m2[n:], old[n:], g[n:], s)
	}
}

// reluGradAsm wraps an assembly reluGrad that does a multiple of lanes
// values.
func reluGradAsm(lanes int, f func(dy, y *float32, n int)) func(dy, y []float32) {
	return func(dy, y []float32) {
		y = y[:len(dy)]
		n := len(dy) / lanes * lanes
		if n > 0 {
			f(unsafe.SliceData(dy), unsafe.SliceData(y), n)
		}
		reluGradGo(dy[n:], y[n:])
	}
}

// transposeAsm wraps an assembly transpose of 16 x 16 blocks: the block's
// whole 16 x 16 squares on it, the rest in Go.
func transposeAsm(f func(dst *float32, ldd int, src *float32, lds int)) func(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	return func(dst []float32, ldd int, src []float32, lds, rows, cols int) {
		if rows <= 0 || cols <= 0 {
			return
		}
		_, _ = src[(rows-1)*lds+cols-1], dst[(cols-1)*ldd+rows-1] // the block's last values: in bounds
		r16, c16 := rows&^15, cols&^15
		for i := 0; i < r16; i += 16 {
			for j := 0; j < c16; j += 16 {
				f(&dst[j*ldd+i], ldd, &src[i*lds+j], lds)
			}
		}
		if c16 < cols {
			transposeGo(dst[c16*ldd:], ldd, src[c16:], lds, r16, cols-c16)
		}
		if r16 < rows {
			transposeGo(dst[r16:], ldd, src[r16*lds:], lds, rows-r16, cols)
		}
	}
}

// wino4Asm wraps F(4x4, 3x3)'s assembly transforms, which do 16 channels a
// step.
func wino4Asm(input func(v *float32, d *[36][]float32, c, from, to int),
	output func(y *[16][]float32, m, bias *float32, floor float32),
	kernel func(u *float32, us int, g *[9][]float32)) wino4Transforms {
	const lanes = 16
	return wino4Transforms{
		input: func(v []float32, d *[36][]float32, c, from int) {
			v = v[:36*c]
			checkRows(d[:], c)
			to := from + max(0, c-from)/lanes*lanes
			if to > from {
				input(unsafe.SliceData(v), d, c, from, to)
			}
			wino4InputGo(v, d, c, to)
		},
		output: func(y *[16][]float32, m []float32, bias []float32, floor float32) {
			m, bias = m[:36*nr], bias[:nr]
			checkRows(y[:], nr)
			output(y, unsafe.SliceData(m), unsafe.SliceData(bias), floor)
		},
		kernel: func(u []float32, us int, g *[9][]float32) {
			checkKernelArgs(u, us, 36, g)
			kernel(unsafe.SliceData(u), us, g)
		},
	}
}

// checkRows panics unless every row holds at least n values (what an
// assembly transform reads or writes through them).
func checkRows(rows [][]float32, n int) {
	for _, r := range rows {
		_ = r[:n]
	}
}

// checkKernelArgs panics unless a kernel transform's output u (xis rows us
// floats apart) and its nine tap rows g have a panel's room.
func checkKernelArgs(u []float32, us, xis int, g *[9][]float32) {
	if us < nr {
		panic("kernels: Winograd kernel stride below a panel")
	}
	_ = u[(xis-1)*us+nr-1]
	checkRows(g[:], nr)
}
