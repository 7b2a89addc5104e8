//go:build amd64 && goexperiment.simd

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

func init() {
	if archsimd.X86.AVX512() {
		microKernel, SIMD = microKernelAVX512, "AVX-512"
		microKernels["AVX-512"] = microKernelAVX512
	}
}

// microKernelAVX512 is microKernel with 512-bit FMAs: 4 pixels x 32 channels
// in 8 accumulator registers.
func microKernelAVX512(rows *[mr * 9][]float32, taps, c int, b, bias []float32, out *[mr][]float32) {
	_ = b[taps*c*nr-1]
	zero := archsimd.BroadcastFloat32x16(0)
	// The totals live in memory (L1): in registers they would spill.
	var sums [mr * nr]float32
	sp := func(i int) *[16]float32 { return (*[16]float32)(sums[i*16 : i*16+16]) }
	base := unsafe.Pointer(unsafe.SliceData(b))
	bo := uintptr(0) // byte offset of the next row of b: never a pointer past its end
	for t := range taps {
		// Each tap's c products are summed apart, then added to the totals:
		// float32 error grows with c, not 9c.
		a00, a01, a10, a11 := zero, zero, zero, zero
		a20, a21, a30, a31 := zero, zero, zero, zero
		r0 := unsafe.Pointer(unsafe.SliceData(rows[t][:c]))
		r1 := unsafe.Pointer(unsafe.SliceData(rows[9+t][:c]))
		r2 := unsafe.Pointer(unsafe.SliceData(rows[18+t][:c]))
		r3 := unsafe.Pointer(unsafe.SliceData(rows[27+t][:c]))
		for k := 0; k < c; k++ {
			b0 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(base, bo)))
			b1 := archsimd.LoadFloat32x16((*[16]float32)(unsafe.Add(base, bo+64)))
			bo += 128
			off := uintptr(k) * 4
			v0 := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(r0, off)))
			a00 = b0.MulAdd(v0, a00)
			a01 = b1.MulAdd(v0, a01)
			v1 := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(r1, off)))
			a10 = b0.MulAdd(v1, a10)
			a11 = b1.MulAdd(v1, a11)
			v2 := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(r2, off)))
			a20 = b0.MulAdd(v2, a20)
			a21 = b1.MulAdd(v2, a21)
			v3 := archsimd.BroadcastFloat32x16(*(*float32)(unsafe.Add(r3, off)))
			a30 = b0.MulAdd(v3, a30)
			a31 = b1.MulAdd(v3, a31)
		}
		for i, a := range [8]archsimd.Float32x16{a00, a01, a10, a11, a20, a21, a30, a31} {
			archsimd.LoadFloat32x16(sp(i)).Add(a).Store(sp(i))
		}
	}
	bias0 := archsimd.LoadFloat32x16((*[16]float32)(bias[0:16]))
	bias1 := archsimd.LoadFloat32x16((*[16]float32)(bias[16:32]))
	for i := range mr {
		archsimd.LoadFloat32x16(sp(2 * i)).Add(bias0).Max(zero).Store((*[16]float32)(out[i][0:16]))
		archsimd.LoadFloat32x16(sp(2*i + 1)).Add(bias1).Max(zero).Store((*[16]float32)(out[i][16:32]))
	}
}

func init() {
	if archsimd.X86.AVX512() {
		axpy = axpyAVX512
		maxRows = maxRowsAVX512
	}
}

// axpyAVX512 is axpy, 16 lanes at a time.
func axpyAVX512(dst []float32, a float32, x []float32) {
	x = x[:len(dst)]
	av := archsimd.BroadcastFloat32x16(a)
	i := 0
	for ; i+16 <= len(dst); i += 16 {
		d := (*[16]float32)(dst[i : i+16])
		archsimd.LoadFloat32x16((*[16]float32)(x[i:i+16])).MulAdd(av, archsimd.LoadFloat32x16(d)).Store(d)
	}
	axpyGo(dst[i:], a, x[i:])
}

// maxRowsAVX512 is maxRows, 16 lanes at a time.
func maxRowsAVX512(dst, a, b, c, d []float32) {
	n := len(dst)
	a, b, c, d = a[:n], b[:n], c[:n], d[:n]
	i := 0
	for ; i+16 <= n; i += 16 {
		va := archsimd.LoadFloat32x16((*[16]float32)(a[i : i+16]))
		vb := archsimd.LoadFloat32x16((*[16]float32)(b[i : i+16]))
		vc := archsimd.LoadFloat32x16((*[16]float32)(c[i : i+16]))
		vd := archsimd.LoadFloat32x16((*[16]float32)(d[i : i+16]))
		va.Max(vb).Max(vc.Max(vd)).Store((*[16]float32)(dst[i : i+16]))
	}
	maxRowsGo(dst[i:], a[i:], b[i:], c[i:], d[i:])
}
