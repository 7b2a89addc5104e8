//go:build amd64 && goexperiment.simd

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

func init() {
	if archsimd.X86.AVX2() && archsimd.X86.FMA() {
		microKernels["AVX2"] = microKernelAVX2
		if !archsimd.X86.AVX512() { // micro_amd64.go has the AVX-512 one
			microKernel, SIMD = microKernelAVX2, "AVX2"
		}
	}
}

// microKernelAVX2 is microKernel with 256-bit FMAs, for CPUs without AVX-512:
// the 64-channel panel is done in four quarters of 16, 6 pixels x 16 channels
// in 12 accumulator registers each (AVX2 has 16 vector registers).
func microKernelAVX2(rows *[mr * 9][]float32, taps, c int, b []float32, ldb int, bias []float32, out *[mr][]float32) {
	_ = b[(taps*c-1)*ldb+nr-1]
	zero := archsimd.BroadcastFloat32x8(0)
	// The totals over taps live in memory (L1): in registers they would spill.
	var sums [mr * nr]float32
	sp := func(i int) *[8]float32 { return (*[8]float32)(sums[i*8 : i*8+8]) }
	base := unsafe.Pointer(unsafe.SliceData(b))
	for q := range nr / 16 {
		bo := uintptr(q * 64) // byte offset of the next row of b: never a pointer past its end
		for t := range taps {
			// Each tap's c products are summed apart, then added to the totals:
			// float32 error grows with c, not 9c.
			a00, a01, a10, a11, a20, a21 := zero, zero, zero, zero, zero, zero
			a30, a31, a40, a41, a50, a51 := zero, zero, zero, zero, zero, zero
			r0 := unsafe.Pointer(unsafe.SliceData(rows[0+t][:c]))
			r1 := unsafe.Pointer(unsafe.SliceData(rows[9+t][:c]))
			r2 := unsafe.Pointer(unsafe.SliceData(rows[18+t][:c]))
			r3 := unsafe.Pointer(unsafe.SliceData(rows[27+t][:c]))
			r4 := unsafe.Pointer(unsafe.SliceData(rows[36+t][:c]))
			r5 := unsafe.Pointer(unsafe.SliceData(rows[45+t][:c]))
			for k := 0; k < c; k++ {
				b0 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(base, bo)))
				b1 := archsimd.LoadFloat32x8((*[8]float32)(unsafe.Add(base, bo+32)))
				bo += uintptr(ldb) * 4
				off := uintptr(k) * 4
				v0 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(r0, off)))
				a00 = b0.MulAdd(v0, a00)
				a01 = b1.MulAdd(v0, a01)
				v1 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(r1, off)))
				a10 = b0.MulAdd(v1, a10)
				a11 = b1.MulAdd(v1, a11)
				v2 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(r2, off)))
				a20 = b0.MulAdd(v2, a20)
				a21 = b1.MulAdd(v2, a21)
				v3 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(r3, off)))
				a30 = b0.MulAdd(v3, a30)
				a31 = b1.MulAdd(v3, a31)
				v4 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(r4, off)))
				a40 = b0.MulAdd(v4, a40)
				a41 = b1.MulAdd(v4, a41)
				v5 := archsimd.BroadcastFloat32x8(*(*float32)(unsafe.Add(r5, off)))
				a50 = b0.MulAdd(v5, a50)
				a51 = b1.MulAdd(v5, a51)
			}
			for i, a := range [2 * mr]archsimd.Float32x8{a00, a01, a10, a11, a20, a21, a30, a31, a40, a41, a50, a51} {
				j := (i/2)*(nr/8) + q*2 + i%2 // pixel i/2, lanes q*16 + (i%2)*8
				archsimd.LoadFloat32x8(sp(j)).Add(a).Store(sp(j))
			}
		}
	}
	for i := range mr {
		if bias == nil {
			copy(out[i][:nr], sums[i*nr:(i+1)*nr])
			continue
		}
		for v := range nr / 8 {
			bv := archsimd.LoadFloat32x8((*[8]float32)(bias[v*8 : v*8+8]))
			archsimd.LoadFloat32x8(sp(i*(nr/8) + v)).Add(bv).Max(zero).Store((*[8]float32)(out[i][v*8 : v*8+8]))
		}
	}
}
