//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// registerArch adds the NEON kernels (kernels_arm64.s) where the CPU has
// Advanced SIMD (every arm64 Linux machine): 128-bit vectors, so a fourth of
// AVX-512's lanes, on the same 6 pixels x 64 channels tile.
func registerArch() {
	if cpu.ARM64.HasASIMD {
		register("NEON", microChecked(microNEON), winoAsm("NEON", 4, winoInputNEON, winoOutputNEON, winoKernelNEON), wino4Transforms{},
			vectorOps{axpyAsm(16, axpyNEON), maxRowsAsm(16, maxRowsNEON), addWidenGo, maxGradGo, rmspropGo, reluGradGo, transposeGo})
	}
}

// The assembly, in kernels_arm64.s.

//go:noescape
func microNEON(rows *[mr * 9][]float32, taps, c int, b *float32, ldb int, bias *float32, out *[mr][]float32)

//go:noescape
func winoInputNEON(v *float32, d *[16][]float32, c, from, to int)

//go:noescape
func winoOutputNEON(y *[4][]float32, m, bias *float32, floor float32)

//go:noescape
func winoKernelNEON(u *float32, us int, gk *[9][]float32)

//go:noescape
func axpyNEON(dst *float32, a float32, x *float32, n int)

//go:noescape
func maxRowsNEON(dst, a, b, c, d *float32, n int)
