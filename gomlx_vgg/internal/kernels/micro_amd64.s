//go:build amd64 && goexperiment.simd

#include "textflag.h"

// Pixel i's 64 running values are Z(4i)..Z(4i+3); the four vectors of a row of
// b (64 output channels) are Z24-Z27; Z28-Z31 hold broadcast input values.

// PIXEL adds the input value at byte offset DX of row r, times the row of b,
// to accumulators a0-a3.
#define PIXEL(r, v, a0, a1, a2, a3) \
	VBROADCASTSS (r)(DX*1), v; \
	VFMADD231PS  Z24, v, a0;   \
	VFMADD231PS  Z25, v, a1;   \
	VFMADD231PS  Z26, v, a2;   \
	VFMADD231PS  Z27, v, a3

// ADDTO adds accumulators a0-a3 to output row i (its pointer at i*24(AX)).
#define ADDTO(i, a0, a1, a2, a3) \
	MOVQ    (i*24)(AX), R8; \
	VADDPS  (R8), a0, a0;   \
	VMOVUPS a0, (R8);       \
	VADDPS  64(R8), a1, a1; \
	VMOVUPS a1, 64(R8);     \
	VADDPS  128(R8), a2, a2; \
	VMOVUPS a2, 128(R8);    \
	VADDPS  192(R8), a3, a3; \
	VMOVUPS a3, 192(R8)

// ZERO4 zeroes four registers.
#define ZERO4(a0, a1, a2, a3) \
	VPXORD a0, a0, a0; \
	VPXORD a1, a1, a1; \
	VPXORD a2, a2, a2; \
	VPXORD a3, a3, a3

// ZEROROW zeroes output row i (Z0 is zero).
#define ZEROROW(i) \
	MOVQ    (i*24)(AX), R8; \
	VMOVUPS Z0, (R8);       \
	VMOVUPS Z0, 64(R8);     \
	VMOVUPS Z0, 128(R8);    \
	VMOVUPS Z0, 192(R8)

// FINISH writes max(0, row + bias) to output row i (bias in Z24-Z27, zero in Z28).
#define FINISH(i) \
	MOVQ    (i*24)(AX), R8; \
	VADDPS  (R8), Z24, Z0;  \
	VMAXPS  Z28, Z0, Z0;    \
	VMOVUPS Z0, (R8);       \
	VADDPS  64(R8), Z25, Z1; \
	VMAXPS  Z28, Z1, Z1;    \
	VMOVUPS Z1, 64(R8);     \
	VADDPS  128(R8), Z26, Z2; \
	VMAXPS  Z28, Z2, Z2;    \
	VMOVUPS Z2, 128(R8);    \
	VADDPS  192(R8), Z27, Z3; \
	VMAXPS  Z28, Z3, Z3;    \
	VMOVUPS Z3, 192(R8)

// func microAVX512(rows *[mr * 9][]float32, taps, c int, b *float32, ldb int, bias *float32, out *[mr][]float32)
//
// microKernel for mr=6 pixels x nr=64 channels with 512-bit FMAs: per input
// channel, 4 loads of a row of b (rows ldb floats apart) and 6 broadcasts
// feed 24 FMAs. The output rows hold the sum over taps until bias and ReLU
// are applied at the end (with a nil bias the sums are left as they are).
// The Go wrapper (micro_amd64.go) checks every length; taps and c are at
// least 1.
TEXT ·microAVX512(SB), NOSPLIT, $0-56
	MOVQ rows+0(FP), DI // rows[t], t = 0
	MOVQ taps+8(FP), BX
	MOVQ c+16(FP), CX
	SHLQ $2, CX         // c in bytes
	MOVQ b+24(FP), SI
	MOVQ ldb+32(FP), R15
	SHLQ $2, R15        // ldb in bytes (R15 is free: no global is accessed)
	MOVQ out+48(FP), AX

	VPXORD Z0, Z0, Z0
	ZEROROW(0)
	ZEROROW(1)
	ZEROROW(2)
	ZEROROW(3)
	ZEROROW(4)
	ZEROROW(5)

tap:
	// Pixel i's input row for tap t is rows[i*9+t], its slice header at i*216(DI).
	MOVQ 0(DI), R8
	MOVQ 216(DI), R9
	MOVQ 432(DI), R10
	MOVQ 648(DI), R11
	MOVQ 864(DI), R12
	MOVQ 1080(DI), R13

	// Each tap's c products are summed apart, then added to the totals:
	// float32 error grows with c, not 9c.
	ZERO4(Z0, Z1, Z2, Z3)
	ZERO4(Z4, Z5, Z6, Z7)
	ZERO4(Z8, Z9, Z10, Z11)
	ZERO4(Z12, Z13, Z14, Z15)
	ZERO4(Z16, Z17, Z18, Z19)
	ZERO4(Z20, Z21, Z22, Z23)
	XORQ DX, DX // byte offset of channel k in the input rows

channel:
	// b's rows are ldb floats apart (VGG's kernels are read in place, rows
	// up to 2 KB apart): fetch the row 8 ahead.
	PREFETCHT0 (SI)(R15*8)
	PREFETCHT0 64(SI)(R15*8)
	PREFETCHT0 128(SI)(R15*8)
	PREFETCHT0 192(SI)(R15*8)
	VMOVUPS    (SI), Z24
	VMOVUPS 64(SI), Z25
	VMOVUPS 128(SI), Z26
	VMOVUPS 192(SI), Z27
	PIXEL(R8, Z28, Z0, Z1, Z2, Z3)
	PIXEL(R9, Z29, Z4, Z5, Z6, Z7)
	PIXEL(R10, Z30, Z8, Z9, Z10, Z11)
	PIXEL(R11, Z31, Z12, Z13, Z14, Z15)
	PIXEL(R12, Z28, Z16, Z17, Z18, Z19)
	PIXEL(R13, Z29, Z20, Z21, Z22, Z23)
	ADDQ R15, SI
	ADDQ $4, DX
	CMPQ DX, CX
	JLT  channel

	ADDTO(0, Z0, Z1, Z2, Z3)
	ADDTO(1, Z4, Z5, Z6, Z7)
	ADDTO(2, Z8, Z9, Z10, Z11)
	ADDTO(3, Z12, Z13, Z14, Z15)
	ADDTO(4, Z16, Z17, Z18, Z19)
	ADDTO(5, Z20, Z21, Z22, Z23)
	ADDQ $24, DI // rows[t+1]
	DECQ BX
	JNZ  tap

	MOVQ    bias+40(FP), R8
	TESTQ   R8, R8
	JZ      done // no bias: the raw sums (Winograd's products)
	VMOVUPS (R8), Z24
	VMOVUPS 64(R8), Z25
	VMOVUPS 128(R8), Z26
	VMOVUPS 192(R8), Z27
	VPXORD  Z28, Z28, Z28
	FINISH(0)
	FINISH(1)
	FINISH(2)
	FINISH(3)
	FINISH(4)
	FINISH(5)

done:
	VZEROUPPER
	RET

// func fmaLoopAVX512(n int)
//
// fmaLoopAVX512 runs n x 12 independent 512-bit FMAs and nothing else: the
// most this core can do (FMAPeak).
TEXT ·fmaLoopAVX512(SB), NOSPLIT, $0-8
	MOVQ   n+0(FP), CX
	ZERO4(Z0, Z1, Z2, Z3)
	ZERO4(Z4, Z5, Z6, Z7)
	ZERO4(Z8, Z9, Z10, Z11)

fma:
	VFMADD231PS Z30, Z31, Z0
	VFMADD231PS Z30, Z31, Z1
	VFMADD231PS Z30, Z31, Z2
	VFMADD231PS Z30, Z31, Z3
	VFMADD231PS Z30, Z31, Z4
	VFMADD231PS Z30, Z31, Z5
	VFMADD231PS Z30, Z31, Z6
	VFMADD231PS Z30, Z31, Z7
	VFMADD231PS Z30, Z31, Z8
	VFMADD231PS Z30, Z31, Z9
	VFMADD231PS Z30, Z31, Z10
	VFMADD231PS Z30, Z31, Z11
	DECQ        CX
	JNZ         fma
	VZEROUPPER
	RET
