//go:build !purego

#include "textflag.h"

// ROWS loads pixel i's input row for the tap (rows[i*9+t], its slice header
// at i*216(DI)) into R8-R13.
#define ROWS \
	MOVQ 0(DI), R8;    \
	MOVQ 216(DI), R9;  \
	MOVQ 432(DI), R10; \
	MOVQ 648(DI), R11; \
	MOVQ 864(DI), R12; \
	MOVQ 1080(DI), R13

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

// PIXEL2 adds the input value at byte offset DX of row r, times the quarter
// row of b, to accumulators a0-a1.
#define PIXEL2(r, v, a0, a1) \
	VBROADCASTSS (r)(DX*1), v; \
	VFMADD231PS  Y12, v, a0;   \
	VFMADD231PS  Y13, v, a1

// ADDTO2 adds accumulators a0-a1 to the quarter of output row i.
#define ADDTO2(i, a0, a1) \
	MOVQ    (i*24)(AX), R8;        \
	VADDPS  (R8)(R14*1), a0, a0;   \
	VMOVUPS a0, (R8)(R14*1);       \
	VADDPS  32(R8)(R14*1), a1, a1; \
	VMOVUPS a1, 32(R8)(R14*1)

// ZEROROW2 zeroes output row i (Y0 is zero).
#define ZEROROW2(i) \
	MOVQ    (i*24)(AX), R8; \
	VMOVUPS Y0, (R8);       \
	VMOVUPS Y0, 32(R8);     \
	VMOVUPS Y0, 64(R8);     \
	VMOVUPS Y0, 96(R8);     \
	VMOVUPS Y0, 128(R8);    \
	VMOVUPS Y0, 160(R8);    \
	VMOVUPS Y0, 192(R8);    \
	VMOVUPS Y0, 224(R8)

// FINISH2 writes max(0, row + bias) to eight floats of output row R8 at
// byte offset off (bias in b, zero in Y15).
#define FINISH2(off, b) \
	VADDPS  off(R8), b, Y14; \
	VMAXPS  Y15, Y14, Y14;   \
	VMOVUPS Y14, off(R8)

// FINISHROW2 is FINISH2 for all of output row i (bias in Y0-Y7).
#define FINISHROW2(i) \
	MOVQ (i*24)(AX), R8; \
	FINISH2(0, Y0);      \
	FINISH2(32, Y1);     \
	FINISH2(64, Y2);     \
	FINISH2(96, Y3);     \
	FINISH2(128, Y4);    \
	FINISH2(160, Y5);    \
	FINISH2(192, Y6);    \
	FINISH2(224, Y7)

// Pixel i's 64 running values are Z(4i)..Z(4i+3); the four vectors of a row of
// b (64 output channels) are Z24-Z27; Z28-Z31 hold broadcast input values.

// func microAVX512(rows *[mr * 9][]float32, taps, c int, b *float32, ldb int, bias *float32, out *[mr][]float32)
//
// microKernel for mr=6 pixels x nr=64 channels with 512-bit FMAs: per input
// channel, 4 loads of a row of b (rows ldb floats apart) and 6 broadcasts
// feed 24 FMAs. The output rows hold the sum over taps until bias and ReLU
// are applied at the end (with a nil bias the sums are left as they are).
// The Go wrapper (microChecked in micro.go) checks every length; taps and c are at
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
	ROWS

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

// The AVX2 micro-kernel: the 64-channel panel in four quarters of 16, each 6
// pixels x 16 channels in Y0-Y11; Y12-Y13 hold a quarter row of b, Y14-Y15
// broadcast input values. R14 is the quarter's byte offset in b's rows and
// the output rows.

// func microAVX2(rows *[mr * 9][]float32, taps, c int, b *float32, ldb int, bias *float32, out *[mr][]float32)
//
// microKernel for mr=6 pixels x nr=64 channels with 256-bit FMAs, for CPUs
// without AVX-512 (16 vector registers): per quarter of 16 channels and input
// channel, 2 loads of b and 6 broadcasts feed 12 FMAs. Each tap's sums are
// added to the output rows, which hold the totals until bias and ReLU.
TEXT ·microAVX2(SB), NOSPLIT, $0-56
	MOVQ c+16(FP), CX
	SHLQ $2, CX           // c in bytes
	MOVQ ldb+32(FP), R15
	SHLQ $2, R15          // ldb in bytes
	MOVQ out+48(FP), AX

	VXORPS Y0, Y0, Y0
	ZEROROW2(0)
	ZEROROW2(1)
	ZEROROW2(2)
	ZEROROW2(3)
	ZEROROW2(4)
	ZEROROW2(5)
	XORQ R14, R14         // the quarter's byte offset

quarter:
	MOVQ rows+0(FP), DI   // rows[t], t = 0
	MOVQ taps+8(FP), BX
	MOVQ b+24(FP), SI
	ADDQ R14, SI

tap2:
	ROWS
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	XORQ   DX, DX

channel2:
	VMOVUPS (SI), Y12
	VMOVUPS 32(SI), Y13
	PIXEL2(R8, Y14, Y0, Y1)
	PIXEL2(R9, Y15, Y2, Y3)
	PIXEL2(R10, Y14, Y4, Y5)
	PIXEL2(R11, Y15, Y6, Y7)
	PIXEL2(R12, Y14, Y8, Y9)
	PIXEL2(R13, Y15, Y10, Y11)
	ADDQ R15, SI
	ADDQ $4, DX
	CMPQ DX, CX
	JLT  channel2

	ADDTO2(0, Y0, Y1)
	ADDTO2(1, Y2, Y3)
	ADDTO2(2, Y4, Y5)
	ADDTO2(3, Y6, Y7)
	ADDTO2(4, Y8, Y9)
	ADDTO2(5, Y10, Y11)
	ADDQ $24, DI
	DECQ BX
	JNZ  tap2

	ADDQ $64, R14
	CMPQ R14, $256
	JLT  quarter

	MOVQ    bias+40(FP), R9
	TESTQ   R9, R9
	JZ      done2
	VMOVUPS (R9), Y0
	VMOVUPS 32(R9), Y1
	VMOVUPS 64(R9), Y2
	VMOVUPS 96(R9), Y3
	VMOVUPS 128(R9), Y4
	VMOVUPS 160(R9), Y5
	VMOVUPS 192(R9), Y6
	VMOVUPS 224(R9), Y7
	VXORPS  Y15, Y15, Y15
	FINISHROW2(0)
	FINISHROW2(1)
	FINISHROW2(2)
	FINISHROW2(3)
	FINISHROW2(4)
	FINISHROW2(5)

done2:
	VZEROUPPER
	RET
