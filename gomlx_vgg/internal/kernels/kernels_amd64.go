//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

// registerArch adds the assembly kernels this CPU can run (micro_amd64.s,
// wino_amd64.s, wino4_amd64.s): AVX2 with FMA, then AVX-512, each registered faster than the one before.
// They need no GOEXPERIMENT: only the architecture, and the CPU checked at run
// time.
func registerArch() {
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		register("AVX2", microChecked(microAVX2), winoAsm("AVX2", 8, winoInputAVX2, winoOutputAVX2, winoKernelAVX2), wino4Transforms{},
			vectorOps{axpyAsm(8, axpyAVX2), maxRowsAsm(8, maxRowsAVX2), addWidenAsm(4, addWidenAVX2), maxGradAsm(8, maxGradAVX2), rmspropAsm(8, rmspropAVX2), reluGradAsm(8, reluGradAVX2), transposeGo})
	}
	if cpu.X86.HasAVX512F {
		register("AVX-512", microChecked(microAVX512), winoAsm("AVX-512", 16, winoInputAVX512, winoOutputAVX512, winoKernelAVX512),
			wino4Asm(wino4InputAVX512, wino4OutputAVX512, wino4KernelAVX512),
			vectorOps{axpyAsm(16, axpyAVX512), maxRowsAsm(16, maxRowsAVX512), addWidenAsm(8, addWidenAVX512), maxGradAsm(16, maxGradAVX512), rmspropAsm(16, rmspropAVX512), reluGradAsm(16, reluGradAVX512), transposeAsm(transpose16AVX512)})
		fmaLoop = fmaLoopAVX512
	}
}

// The assembly, in micro_amd64.s and wino_amd64.s.

//go:noescape
func microAVX512(rows *[mr * 9][]float32, taps, c int, b *float32, ldb int, bias *float32, out *[mr][]float32)

//go:noescape
func microAVX2(rows *[mr * 9][]float32, taps, c int, b *float32, ldb int, bias *float32, out *[mr][]float32)

//go:noescape
func fmaLoopAVX512(n int)

//go:noescape
func winoInputAVX512(v *float32, d *[16][]float32, c, from, to int)

//go:noescape
func winoInputAVX2(v *float32, d *[16][]float32, c, from, to int)

//go:noescape
func winoOutputAVX512(y *[4][]float32, m, bias *float32, floor float32)

//go:noescape
func winoOutputAVX2(y *[4][]float32, m, bias *float32, floor float32)

//go:noescape
func wino4InputAVX512(v *float32, d *[36][]float32, c, from, to int)

//go:noescape
func wino4OutputAVX512(y *[16][]float32, m, bias *float32, floor float32)

//go:noescape
func wino4KernelAVX512(u *float32, us int, gk *[9][]float32)

//go:noescape
func winoKernelAVX512(u *float32, us int, gk *[9][]float32)

//go:noescape
func winoKernelAVX2(u *float32, us int, gk *[9][]float32)

//go:noescape
func axpyAVX512(dst *float32, a float32, x *float32, n int)

//go:noescape
func axpyAVX2(dst *float32, a float32, x *float32, n int)

//go:noescape
func maxRowsAVX512(dst, a, b, c, d *float32, n int)

//go:noescape
func addWidenAVX512(dst *float64, src *float32, n int)

//go:noescape
func addWidenAVX2(dst *float64, src *float32, n int)

//go:noescape
func maxRowsAVX2(dst, a, b, c, d *float32, n int)

//go:noescape
func maxGradAVX512(d00, d01, d10, d11, v00, v01, v10, v11, dy *float32, n int)

//go:noescape
func maxGradAVX2(d00, d01, d10, d11, v00, v01, v10, v11, dy *float32, n int)

//go:noescape
func rmspropAVX512(nv, m2, old, grad *float32, n int, s *[5]float32)

//go:noescape
func rmspropAVX2(nv, m2, old, grad *float32, n int, s *[5]float32)

//go:noescape
func reluGradAVX512(dy, y *float32, n int)

//go:noescape
func reluGradAVX2(dy, y *float32, n int)

//go:noescape
func transpose16AVX512(dst *float32, ldd int, src *float32, lds int)
