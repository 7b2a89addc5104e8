//go:build !purego

#include "textflag.h"

// NEON kernels for arm64: the micro-kernel (the same 6 pixels x 64 channels
// tile as amd64's), Winograd F(2x2, 3x3)'s transforms, the dense layers' axpy
// and pooling's maxRows. Go's arm64 assembler has no vector FADD, FSUB, FMUL
// or FMAX: they are encoded below (Vd.4S = Vn op Vm, registers by number).
// The transforms do the portable Go's operations in the same order, so their
// results are the same to the bit.

#define FADDV(d, n, m) WORD $(0x4E20D400 | ((m)<<16) | ((n)<<5) | (d))
#define FSUBV(d, n, m) WORD $(0x4EA0D400 | ((m)<<16) | ((n)<<5) | (d))
#define FMULV(d, n, m) WORD $(0x6E20DC00 | ((m)<<16) | ((n)<<5) | (d))
#define FMAXV(d, n, m) WORD $(0x4E20F400 | ((m)<<16) | ((n)<<5) | (d))

// LD9 loads four floats from each of R4-R12 into V0-V8 and moves the
// pointers on.
#define LD9 \
	FMOVQ.P 16(R4), F0; \
	FMOVQ.P 16(R5), F1; \
	FMOVQ.P 16(R6), F2; \
	FMOVQ.P 16(R7), F3; \
	FMOVQ.P 16(R8), F4; \
	FMOVQ.P 16(R9), F5; \
	FMOVQ.P 16(R10), F6; \
	FMOVQ.P 16(R11), F7; \
	FMOVQ.P 16(R12), F8

// ZROW zeroes the 64 floats at r (V0-V3 are zero).
#define ZROW(r) \
	MOVD r, R12; \
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R12); \
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R12); \
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R12); \
	VST1   [V0.S4, V1.S4, V2.S4, V3.S4], (R12)

// PIX4 adds the broadcast input value in v times the quarter row of b
// (V24-V27) to accumulators a0-a3.
#define PIX4(v, a0, a1, a2, a3) \
	VFMLA V24.S4, v, a0; \
	VFMLA V25.S4, v, a1; \
	VFMLA V26.S4, v, a2; \
	VFMLA V27.S4, v, a3

// ADDTO4 adds accumulators a0-a3 (by number) to the quarter (R13) of the
// output row at r.
#define ADDTO4(r, a0, a1, a2, a3) \
	ADD  R13, r, R12; \
	VLD1 (R12), [V24.S4, V25.S4, V26.S4, V27.S4]; \
	FADDV(24, 24, a0); \
	FADDV(25, 25, a1); \
	FADDV(26, 26, a2); \
	FADDV(27, 27, a3); \
	VST1 [V24.S4, V25.S4, V26.S4, V27.S4], (R12)

// FIN4 writes max(0, x + bias) for 16 floats of the output row at r (bias
// in b0-b3 by number, zero in V15), and moves r on.
#define FIN4(r, b0, b1, b2, b3) \
	VLD1 (r), [V0.S4, V1.S4, V2.S4, V3.S4]; \
	FADDV(0, 0, b0); \
	FADDV(1, 1, b1); \
	FADDV(2, 2, b2); \
	FADDV(3, 3, b3); \
	FMAXV(0, 0, 15); \
	FMAXV(1, 1, 15); \
	FMAXV(2, 2, 15); \
	FMAXV(3, 3, 15); \
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(r)

#define FINROW(r) \
	FIN4(r, 16, 17, 18, 19); \
	FIN4(r, 20, 21, 22, 23); \
	FIN4(r, 24, 25, 26, 27); \
	FIN4(r, 28, 29, 30, 31)

// TCOL sets column j of Bᵀ d: V16+j, V20+j, V24+j, V28+j from the input
// rows in V0-V15.
#define TCOL(j) \
	FSUBV(16+j, j, 8+j); \
	FADDV(20+j, 4+j, 8+j); \
	FSUBV(24+j, 8+j, 4+j); \
	FSUBV(28+j, 4+j, 12+j)

// TROW writes row i of (Bᵀ d) B (from Bᵀ d's row at V(b)..V(b+3)) to four
// rows of v (R0, moved on by R2 a row).
#define TROW(b) \
	FSUBV(0, b, b+2); \
	FADDV(1, b+1, b+2); \
	FSUBV(2, b+2, b+1); \
	FSUBV(3, b+1, b+3); \
	VST1.P [V0.S4], (R0)(R2); \
	VST1.P [V1.S4], (R0)(R2); \
	VST1.P [V2.S4], (R0)(R2); \
	VST1.P [V3.S4], (R0)(R2)

// MCOLN sets column j of Aᵀ M: V16+j = m[j]+m[4+j]+m[8+j] and V20+j =
// m[4+j]-m[8+j]-m[12+j] (M's rows in V0-V15).
#define MCOLN(j) \
	FADDV(16+j, j, 4+j); \
	FADDV(16+j, 16+j, 8+j); \
	FSUBV(20+j, 4+j, 8+j); \
	FSUBV(20+j, 20+j, 12+j)

// YOUTN writes max(floor (V31), V25 + bias (V24)) to the output pixel at r.
#define YOUTN(r) \
	FADDV(25, 25, 24); \
	FMAXV(25, 25, 31); \
	FMOVQ.P F25, 16(r)

// GMIDN sets rows 1 and 2 of G g, column j: V9+j = (g0+g1+g2)/2 and V12+j =
// (g0-g1+g2)/2 (g's rows in V0-V8, 0.5 in V31).
#define GMIDN(j) \
	FADDV(9+j, j, 3+j); \
	FADDV(9+j, 9+j, 6+j); \
	FMULV(9+j, 9+j, 31); \
	FSUBV(12+j, j, 3+j); \
	FADDV(12+j, 12+j, 6+j); \
	FMULV(12+j, 12+j, 31)

// KROWN writes row i of (G g) Gᵀ from row i of G g (a0-a2 by number, A0 and
// A2 the same registers by name) to four rows of u (R0, moved on by R2).
#define KROWN(A0, A2, a0, a1, a2) \
	FADDV(16, a0, a1); \
	FADDV(16, 16, a2); \
	FMULV(16, 16, 31); \
	FSUBV(17, a0, a1); \
	FADDV(17, 17, a2); \
	FMULV(17, 17, 31); \
	VST1.P [A0.S4], (R0)(R2); \
	VST1.P [V16.S4], (R0)(R2); \
	VST1.P [V17.S4], (R0)(R2); \
	VST1.P [A2.S4], (R0)(R2)

// func microNEON(rows *[mr * 9][]float32, taps, c int, b *float32, ldb int, bias *float32, out *[mr][]float32)
//
// microKernel for mr=6 pixels x nr=64 channels with 128-bit FMLAs, in four
// quarters of 16 channels: per input channel, one load of a quarter row of b
// (V24-V27, then the pointer moves on by ldb) and 6 broadcasts (V28-V31)
// feed 24 FMLAs into V0-V23. Each tap's sums are added to the output rows,
// which hold the totals until bias and ReLU. The inner loop is 33
// instructions (1 load of b, 6 broadcast loads, 24 FMLAs, the count and the
// branch) for 96 multiply-adds: 0.34 instructions a multiply-add, against
// AVX-512's 42 for 384 (0.11: 4 prefetches, 4 loads, 6 broadcasts, 24 FMAs,
// 4 for the loop), as 4 lanes against 16 make it.
TEXT ·microNEON(SB), NOSPLIT, $0-56
	MOVD c+16(FP), R2
	LSL  $2, R2, R2       // c in bytes
	MOVD ldb+32(FP), R4
	LSL  $2, R4, R4       // ldb in bytes
	MOVD out+48(FP), R5
	MOVD 0(R5), R6
	MOVD 24(R5), R7
	MOVD 48(R5), R8
	MOVD 72(R5), R9
	MOVD 96(R5), R10
	MOVD 120(R5), R11
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	ZROW(R6)
	ZROW(R7)
	ZROW(R8)
	ZROW(R9)
	ZROW(R10)
	ZROW(R11)
	MOVD ZR, R13          // the quarter's byte offset

quarter:
	MOVD rows+0(FP), R0   // rows[t], t = 0
	MOVD taps+8(FP), R1
	MOVD b+24(FP), R14
	ADD  R13, R14, R14

tap:
	MOVD 0(R0), R15
	MOVD 216(R0), R16
	MOVD 432(R0), R17
	MOVD 648(R0), R19
	MOVD 864(R0), R20
	MOVD 1080(R0), R21
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16
	VEOR V20.B16, V20.B16, V20.B16
	VEOR V21.B16, V21.B16, V21.B16
	VEOR V22.B16, V22.B16, V22.B16
	VEOR V23.B16, V23.B16, V23.B16
	MOVD R2, R22

channel:
	VLD1.P  (R14)(R4), [V24.S4, V25.S4, V26.S4, V27.S4]
	VLD1R.P 4(R15), [V28.S4]
	VLD1R.P 4(R16), [V29.S4]
	VLD1R.P 4(R17), [V30.S4]
	VLD1R.P 4(R19), [V31.S4]
	PIX4(V28.S4, V0.S4, V1.S4, V2.S4, V3.S4)
	PIX4(V29.S4, V4.S4, V5.S4, V6.S4, V7.S4)
	VLD1R.P 4(R20), [V28.S4]
	VLD1R.P 4(R21), [V29.S4]
	PIX4(V30.S4, V8.S4, V9.S4, V10.S4, V11.S4)
	PIX4(V31.S4, V12.S4, V13.S4, V14.S4, V15.S4)
	PIX4(V28.S4, V16.S4, V17.S4, V18.S4, V19.S4)
	PIX4(V29.S4, V20.S4, V21.S4, V22.S4, V23.S4)
	SUBS $4, R22, R22
	BNE  channel

	ADDTO4(R6, 0, 1, 2, 3)
	ADDTO4(R7, 4, 5, 6, 7)
	ADDTO4(R8, 8, 9, 10, 11)
	ADDTO4(R9, 12, 13, 14, 15)
	ADDTO4(R10, 16, 17, 18, 19)
	ADDTO4(R11, 20, 21, 22, 23)
	ADD  $24, R0
	SUBS $1, R1, R1
	BNE  tap

	ADD $64, R13
	CMP $256, R13
	BLT quarter

	MOVD bias+40(FP), R12
	CBZ  R12, done
	VLD1.P 64(R12), [V16.S4, V17.S4, V18.S4, V19.S4]
	VLD1.P 64(R12), [V20.S4, V21.S4, V22.S4, V23.S4]
	VLD1.P 64(R12), [V24.S4, V25.S4, V26.S4, V27.S4]
	VLD1   (R12), [V28.S4, V29.S4, V30.S4, V31.S4]
	VEOR   V15.B16, V15.B16, V15.B16
	FINROW(R6)
	FINROW(R7)
	FINROW(R8)
	FINROW(R9)
	FINROW(R10)
	FINROW(R11)

done:
	RET

// func winoInputNEON(v *float32, d *[16][]float32, c, from, to int)
//
// Four channels a step: the 16 input rows' values into V0-V15 (each row's
// pointer moved on), Bᵀ d into V16-V31, each row of (Bᵀ d) B stored down
// the 16 rows of v (R2 apart), then back up and on by four channels.
TEXT ·winoInputNEON(SB), NOSPLIT, $0-40
	MOVD from+24(FP), R3
	MOVD to+32(FP), R24
	SUB  R3, R24, R24
	LSR  $2, R24, R24     // steps
	CBZ  R24, indone
	LSL  $2, R3, R3       // from in bytes
	MOVD c+16(FP), R2
	LSL  $2, R2, R2       // a row of v in bytes
	LSL  $4, R2, R23
	SUB  $16, R23, R23    // 16 rows back, one step on
	MOVD v+0(FP), R0
	ADD  R3, R0, R0
	MOVD d+8(FP), R1
	MOVD 0(R1), R4
	ADD  R3, R4, R4
	MOVD 24(R1), R5
	ADD  R3, R5, R5
	MOVD 48(R1), R6
	ADD  R3, R6, R6
	MOVD 72(R1), R7
	ADD  R3, R7, R7
	MOVD 96(R1), R8
	ADD  R3, R8, R8
	MOVD 120(R1), R9
	ADD  R3, R9, R9
	MOVD 144(R1), R10
	ADD  R3, R10, R10
	MOVD 168(R1), R11
	ADD  R3, R11, R11
	MOVD 192(R1), R12
	ADD  R3, R12, R12
	MOVD 216(R1), R13
	ADD  R3, R13, R13
	MOVD 240(R1), R14
	ADD  R3, R14, R14
	MOVD 264(R1), R15
	ADD  R3, R15, R15
	MOVD 288(R1), R16
	ADD  R3, R16, R16
	MOVD 312(R1), R17
	ADD  R3, R17, R17
	MOVD 336(R1), R19
	ADD  R3, R19, R19
	MOVD 360(R1), R20
	ADD  R3, R20, R20

instep:
	LD9
	FMOVQ.P 16(R13), F9
	FMOVQ.P 16(R14), F10
	FMOVQ.P 16(R15), F11
	FMOVQ.P 16(R16), F12
	FMOVQ.P 16(R17), F13
	FMOVQ.P 16(R19), F14
	FMOVQ.P 16(R20), F15
	TCOL(0)
	TCOL(1)
	TCOL(2)
	TCOL(3)
	TROW(16)
	TROW(20)
	TROW(24)
	TROW(28)
	SUB  R23, R0, R0
	SUBS $1, R24, R24
	BNE  instep

indone:
	RET

// func winoOutputNEON(y *[4][]float32, m, bias *float32, floor float32)
//
// Four channels a step: M's 16 rows (256 bytes apart) into V0-V15, Aᵀ M into
// V16-V23, each output pixel's four values through V25.
TEXT ·winoOutputNEON(SB), NOSPLIT, $0-28
	MOVD  y+0(FP), R3
	MOVD  0(R3), R4
	MOVD  24(R3), R5
	MOVD  48(R3), R6
	MOVD  72(R3), R7
	MOVD  m+8(FP), R1
	MOVD  bias+16(FP), R2
	FMOVS floor+24(FP), F31
	VDUP  V31.S[0], V31.S4
	MOVD  $16, R8

outstep:
	FMOVQ 0(R1), F0
	FMOVQ 256(R1), F1
	FMOVQ 512(R1), F2
	FMOVQ 768(R1), F3
	FMOVQ 1024(R1), F4
	FMOVQ 1280(R1), F5
	FMOVQ 1536(R1), F6
	FMOVQ 1792(R1), F7
	FMOVQ 2048(R1), F8
	FMOVQ 2304(R1), F9
	FMOVQ 2560(R1), F10
	FMOVQ 2816(R1), F11
	FMOVQ 3072(R1), F12
	FMOVQ 3328(R1), F13
	FMOVQ 3584(R1), F14
	FMOVQ 3840(R1), F15
	ADD $16, R1
	MCOLN(0)
	MCOLN(1)
	MCOLN(2)
	MCOLN(3)
	FMOVQ.P 16(R2), F24
	FADDV(25, 16, 17)
	FADDV(25, 25, 18)
	YOUTN(R4)
	FSUBV(25, 17, 18)
	FSUBV(25, 25, 19)
	YOUTN(R5)
	FADDV(25, 20, 21)
	FADDV(25, 25, 22)
	YOUTN(R6)
	FSUBV(25, 21, 22)
	FSUBV(25, 25, 23)
	YOUTN(R7)
	SUBS $1, R8, R8
	BNE  outstep
	RET

// func winoKernelNEON(u *float32, us int, gk *[9][]float32)
//
// Four channels a step: g's 9 rows into V0-V8 (each pointer moved on), rows
// 1 and 2 of G g into V9-V14, each row of (G g) Gᵀ stored down 16 rows of u
// (R2 apart), then back up and on by four channels.
TEXT ·winoKernelNEON(SB), NOSPLIT, $0-24
	MOVD us+8(FP), R2
	LSL  $2, R2, R2
	LSL  $4, R2, R23
	SUB  $16, R23, R23
	MOVD u+0(FP), R0
	MOVD gk+16(FP), R1
	MOVD 0(R1), R4
	MOVD 24(R1), R5
	MOVD 48(R1), R6
	MOVD 72(R1), R7
	MOVD 96(R1), R8
	MOVD 120(R1), R9
	MOVD 144(R1), R10
	MOVD 168(R1), R11
	MOVD 192(R1), R12
	MOVW $0x3f000000, R3
	VDUP R3, V31.S4
	MOVD $16, R24

kstep:
	LD9
	GMIDN(0)
	GMIDN(1)
	GMIDN(2)
	KROWN(V0, V2, 0, 1, 2)
	KROWN(V9, V11, 9, 10, 11)
	KROWN(V12, V14, 12, 13, 14)
	KROWN(V6, V8, 6, 7, 8)
	SUB  R23, R0, R0
	SUBS $1, R24, R24
	BNE  kstep
	RET

// func axpyNEON(dst *float32, a float32, x *float32, n int)
//
// dst += a*x for n floats, n a multiple of 16.
TEXT ·axpyNEON(SB), NOSPLIT, $0-32
	MOVD  dst+0(FP), R0
	FMOVS a+8(FP), F16
	VDUP  V16.S[0], V16.S4
	MOVD  x+16(FP), R1
	MOVD  n+24(FP), R2
	LSR   $4, R2, R2
	CBZ   R2, axpydone

axpy:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1   (R0), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V16.S4, V0.S4, V4.S4
	VFMLA  V16.S4, V1.S4, V5.S4
	VFMLA  V16.S4, V2.S4, V6.S4
	VFMLA  V16.S4, V3.S4, V7.S4
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)
	SUBS   $1, R2, R2
	BNE    axpy

axpydone:
	RET

// func maxRowsNEON(dst, a, b, c, d *float32, n int)
//
// maxRows for n floats, n a multiple of 16.
TEXT ·maxRowsNEON(SB), NOSPLIT, $0-48
	MOVD dst+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R2
	MOVD c+24(FP), R3
	MOVD d+32(FP), R4
	MOVD n+40(FP), R5
	LSR  $4, R5, R5
	CBZ  R5, maxdone

max:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R3), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P 64(R4), [V12.S4, V13.S4, V14.S4, V15.S4]
	FMAXV(0, 0, 4)
	FMAXV(1, 1, 5)
	FMAXV(2, 2, 6)
	FMAXV(3, 3, 7)
	FMAXV(8, 8, 12)
	FMAXV(9, 9, 13)
	FMAXV(10, 10, 14)
	FMAXV(11, 11, 15)
	FMAXV(0, 0, 8)
	FMAXV(1, 1, 9)
	FMAXV(2, 2, 10)
	FMAXV(3, 3, 11)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R5, R5
	BNE    max

maxdone:
	RET
