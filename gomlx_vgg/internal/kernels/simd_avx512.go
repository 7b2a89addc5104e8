//go:build amd64 && goexperiment.simd

package kernels

import "simd/archsimd"

// The dense layers and pooling with AVX-512 (the convolution's micro-kernel
// is in micro_amd64.go).
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
