//go:build amd64 && goexperiment.simd

package kernels

import (
	"simd/archsimd"
	"unsafe"
)

// The assembly itself needs no GOEXPERIMENT, but the rest of the native path
// (dense layers, pooling) does: the kernels are all SIMD or none.
func init() {
	if archsimd.X86.AVX512() {
		microKernel, SIMD = microKernelAVX512, "AVX-512"
		microKernels["AVX-512"] = microKernelAVX512
		fmaLoop = fmaLoopAVX512
	}
}

// fmaLoopAVX512 is in micro_amd64.s.
//
//go:noescape
func fmaLoopAVX512(n int)

// microAVX512 is in micro_amd64.s.
//
//go:noescape
func microAVX512(rows *[mr * 9][]float32, taps, c int, b *float32, ldb int, bias *float32, out *[mr][]float32)

// microKernelAVX512 is microKernel in assembly with 512-bit FMAs: 6 pixels x
// 64 channels in 24 of the 32 vector registers (archsimd's allocation spills
// past 8 accumulators). It checks what the assembly reads and writes.
func microKernelAVX512(rows *[mr * 9][]float32, taps, c int, b []float32, ldb int, bias []float32, out *[mr][]float32) {
	if taps < 1 || taps > 9 || c < 1 || ldb < nr || len(b) < (taps*c-1)*ldb+nr || bias != nil && len(bias) < nr {
		panic("kernels: micro-kernel arguments out of range")
	}
	for i := range mr {
		_ = out[i][nr-1]
		for t := range taps {
			_ = rows[i*9+t][c-1]
		}
	}
	microAVX512(rows, taps, c, unsafe.SliceData(b), ldb, unsafe.SliceData(bias), out)
}
