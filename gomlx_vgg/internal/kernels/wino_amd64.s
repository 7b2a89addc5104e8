//go:build !purego

#include "textflag.h"

// LDSUB sets t = d[a][k:] - d[b][k:] (a and b as header offsets).
#define LDSUB(a, b, t) \
	MOVQ    a(DI), R8;        \
	MOVQ    b(DI), R9;        \
	VMOVUPS (R8)(DX*1), t;    \
	VSUBPS  (R9)(DX*1), t, t

// LDPAIR sets t1 = d[a][k:] + d[b][k:] and t2 = d[b][k:] - d[a][k:].
#define LDPAIR(a, b, x, y, t1, t2) \
	MOVQ    a(DI), R8;     \
	MOVQ    b(DI), R9;     \
	VMOVUPS (R8)(DX*1), x; \
	VMOVUPS (R9)(DX*1), y; \
	VADDPS  y, x, t1;      \
	VSUBPS  x, y, t2

// WROW writes row i of (Bᵀ d) B from row i of Bᵀ d (t0-t3) to v's rows
// 4i..4i+3 (BX: row 4i at the channel; R10 a row's bytes, R11 three rows').
#define WROW(t0, t1, t2, t3, x) \
	VSUBPS  t2, t0, x;         \
	VMOVUPS x, (BX);           \
	VADDPS  t2, t1, x;         \
	VMOVUPS x, (BX)(R10*1);    \
	VSUBPS  t1, t2, x;         \
	VMOVUPS x, (BX)(R10*2);    \
	VSUBPS  t3, t1, x;         \
	VMOVUPS x, (BX)(R11*1)

// WINO_INPUT is one step of the input transform: rows 0 and 3 of Bᵀ d are
// differences of two input rows, rows 1 and 2 a sum and a difference of the
// same two.
#define WINO_INPUT(T0, T1, T2, T3, U0, U1, U2, U3, X, Y) \
	LEAQ (SI)(DX*1), BX;                                \
	LDSUB(0, 192, T0);                                  \
	LDSUB(24, 216, T1);                                 \
	LDSUB(48, 240, T2);                                 \
	LDSUB(72, 264, T3);                                 \
	WROW(T0, T1, T2, T3, X);                            \
	ADDQ R12, BX;                                       \
	LDPAIR(96, 192, X, Y, T0, U0);                      \
	LDPAIR(120, 216, X, Y, T1, U1);                     \
	LDPAIR(144, 240, X, Y, T2, U2);                     \
	LDPAIR(168, 264, X, Y, T3, U3);                     \
	WROW(T0, T1, T2, T3, X);                            \
	ADDQ R12, BX;                                       \
	WROW(U0, U1, U2, U3, X);                            \
	ADDQ R12, BX;                                       \
	LDSUB(96, 288, T0);                                 \
	LDSUB(120, 312, T1);                                \
	LDSUB(144, 336, T2);                                \
	LDSUB(168, 360, T3);                                \
	WROW(T0, T1, T2, T3, X)

// INPUT_SETUP loads winoInput*'s arguments: SI v, DI d, R10 c*4 (a row of
// v), R11 3*c*4, R12 4*c*4, DX from*4, CX to*4.
#define INPUT_SETUP \
	MOVQ v+0(FP), SI;          \
	MOVQ d+8(FP), DI;          \
	MOVQ c+16(FP), R10;        \
	SHLQ $2, R10;              \
	LEAQ (R10)(R10*2), R11;    \
	MOVQ R10, R12;             \
	SHLQ $2, R12;              \
	MOVQ from+24(FP), DX;      \
	SHLQ $2, DX;               \
	MOVQ to+32(FP), CX;        \
	SHLQ $2, CX

// MCOL sets s0 = m[a]+m[b]+m[c] and s1 = m[b]-m[c]-m[d] at channel DX (m's
// rows at byte offsets a-d from SI).
#define MCOL(a, b, c, d, x, s0, s1) \
	VMOVUPS b(SI)(DX*1), x;     \
	VADDPS  a(SI)(DX*1), x, s0; \
	VADDPS  c(SI)(DX*1), s0, s0; \
	VSUBPS  c(SI)(DX*1), x, s1; \
	VSUBPS  d(SI)(DX*1), s1, s1

// YOUT writes max(lo, s + bias) to output pixel y at channel DX.
#define YOUT(s, b, lo, y) \
	VADDPS  b, s, s;    \
	VMAXPS  lo, s, s;   \
	VMOVUPS s, (y)(DX*1)

// WINO_OUTPUT is one step of the output transform.
#define WINO_OUTPUT(S00, S01, S02, S03, S10, S11, S12, S13, X, B, LO) \
	MCOL(0, 1024, 2048, 3072, X, S00, S10);     \
	MCOL(256, 1280, 2304, 3328, X, S01, S11);   \
	MCOL(512, 1536, 2560, 3584, X, S02, S12);   \
	MCOL(768, 1792, 2816, 3840, X, S03, S13);   \
	VMOVUPS (BX)(DX*1), B;                      \
	VADDPS  S01, S00, X;                        \
	VADDPS  S02, X, X;                          \
	YOUT(X, B, LO, R8);                         \
	VSUBPS  S02, S01, X;                        \
	VSUBPS  S03, X, X;                          \
	YOUT(X, B, LO, R9);                         \
	VADDPS  S11, S10, X;                        \
	VADDPS  S12, X, X;                          \
	YOUT(X, B, LO, R10);                        \
	VSUBPS  S12, S11, X;                        \
	VSUBPS  S13, X, X;                          \
	YOUT(X, B, LO, R11)

// OUTPUT_SETUP loads winoOutput*'s arguments: R8-R11 the output pixels, SI
// m, BX bias, DX 0.
#define OUTPUT_SETUP \
	MOVQ y+0(FP), DI;    \
	MOVQ 0(DI), R8;      \
	MOVQ 24(DI), R9;     \
	MOVQ 48(DI), R10;    \
	MOVQ 72(DI), R11;    \
	MOVQ m+8(FP), SI;    \
	MOVQ bias+16(FP), BX; \
	XORQ DX, DX

// LDG loads g[t] at channel DX.
#define LDG(t, x) \
	MOVQ    ((t)*24)(DI), R8; \
	VMOVUPS (R8)(DX*1), x

// KROW writes row i of (G g) Gᵀ from row i of G g (a0-a2) to u's rows
// 4i..4i+3 (BX: row 4i at the channel; R10 a row's bytes, R11 three rows').
#define KROW(a0, a1, a2, x, h) \
	VMOVUPS a0, (BX);        \
	VADDPS  a1, a0, x;       \
	VADDPS  a2, x, x;        \
	VMULPS  h, x, x;         \
	VMOVUPS x, (BX)(R10*1);  \
	VSUBPS  a1, a0, x;       \
	VADDPS  a2, x, x;        \
	VMULPS  h, x, x;         \
	VMOVUPS x, (BX)(R10*2);  \
	VMOVUPS a2, (BX)(R11*1)

// GMID sets rows 1 and 2 of G g, column j: (g0+g1+g2)/2 and (g0-g1+g2)/2.
#define GMID(j, b0, b1, b2, x, h, a1, a2) \
	LDG(j, b0);          \
	LDG(3+j, b1);        \
	LDG(6+j, b2);        \
	VADDPS b1, b0, x;    \
	VADDPS b2, x, x;     \
	VMULPS h, x, a1;     \
	VSUBPS b1, b0, x;    \
	VADDPS b2, x, x;     \
	VMULPS h, x, a2

// WINO_KERNEL is one step of the kernel transform: rows 0 and 3 of G g are
// rows of g, rows 1 and 2 halved sums.
#define WINO_KERNEL(A0, A1, A2, M10, M11, M12, M20, M21, M22, B0, B1, B2, X, H) \
	LEAQ (SI)(DX*1), BX;                       \
	LDG(0, A0);                                \
	LDG(1, A1);                                \
	LDG(2, A2);                                \
	KROW(A0, A1, A2, X, H);                    \
	ADDQ R12, BX;                              \
	GMID(0, B0, B1, B2, X, H, M10, M20);       \
	GMID(1, B0, B1, B2, X, H, M11, M21);       \
	GMID(2, B0, B1, B2, X, H, M12, M22);       \
	KROW(M10, M11, M12, X, H);                 \
	ADDQ R12, BX;                              \
	KROW(M20, M21, M22, X, H);                 \
	ADDQ R12, BX;                              \
	LDG(6, A0);                                \
	LDG(7, A1);                                \
	LDG(8, A2);                                \
	KROW(A0, A1, A2, X, H)

// KERNEL_SETUP loads winoKernel*'s arguments: SI u, DI gk, R10 us*4, R11
// 3*us*4, R12 4*us*4, DX 0; CX holds 0.5 for the broadcast.
#define KERNEL_SETUP \
	MOVQ u+0(FP), SI;       \
	MOVQ us+8(FP), R10;     \
	SHLQ $2, R10;           \
	LEAQ (R10)(R10*2), R11; \
	MOVQ R10, R12;          \
	SHLQ $2, R12;           \
	MOVQ gk+16(FP), DI;      \
	XORQ DX, DX;            \
	MOVL $0x3f000000, CX;   \
	MOVQ CX, X15

// AXPY_SETUP loads axpy*'s arguments: DI dst, SI x, CX n*4, DX 0.
#define AXPY_SETUP \
	MOVQ dst+0(FP), DI; \
	MOVQ x+16(FP), SI;  \
	MOVQ n+24(FP), CX;  \
	SHLQ $2, CX;        \
	XORQ DX, DX

// AXPY_LOOP adds a (in av) times x to dst, w bytes a step, up to CX.
#define AXPY_LOOP(w, x0, av, loop, done) \
	TESTQ       CX, CX;              \
	JZ          done;                \
loop:                                \
	VMOVUPS     (SI)(DX*1), x0;      \
	VFMADD213PS (DI)(DX*1), av, x0;  \
	VMOVUPS     x0, (DI)(DX*1);      \
	ADDQ        $w, DX;              \
	CMPQ        DX, CX;              \
	JLT         loop;                \
done:

// WIDEN_LOOP adds float64(src) to dst, lanes values (x0 wide) a step, for n
// values (addWiden*'s arguments, in DI dst, SI src, CX n).
#define WIDEN_LOOP(lanes, x0, loop, done) \
	MOVQ      dst+0(FP), DI;   \
	MOVQ      src+8(FP), SI;   \
	MOVQ      n+16(FP), CX;    \
	TESTQ     CX, CX;          \
	JZ        done;            \
loop:                          \
	VCVTPS2PD (SI), x0;        \
	VADDPD    (DI), x0, x0;    \
	VMOVUPD   x0, (DI);        \
	ADDQ      $(4*lanes), SI;  \
	ADDQ      $(8*lanes), DI;  \
	SUBQ      $lanes, CX;      \
	JNZ       loop;            \
done:

// MAX_LOOP sets dst to the largest of a, b, c, d, w bytes a step, up to CX.
#define MAX_LOOP(w, x0, x1, loop, done) \
	TESTQ CX, CX;  \
	JZ    done;    \
loop:              \
	MAX4(x0, x1);  \
	ADDQ  $w, DX;  \
	CMPQ  DX, CX;  \
	JLT   loop;    \
done:

// MAX4 sets dst to the largest of a, b, c, d at channel DX.
#define MAX4(x0, x1) \
	VMOVUPS (R8)(DX*1), x0;     \
	VMAXPS  (R9)(DX*1), x0, x0; \
	VMOVUPS (R10)(DX*1), x1;    \
	VMAXPS  (R11)(DX*1), x1, x1; \
	VMAXPS  x1, x0, x0;         \
	VMOVUPS x0, (DI)(DX*1)

// MAX_SETUP loads maxRows*'s arguments: DI dst, R8-R11 a-d, CX n*4, DX 0.
#define MAX_SETUP \
	MOVQ dst+0(FP), DI; \
	MOVQ a+8(FP), R8;   \
	MOVQ b+16(FP), R9;  \
	MOVQ c+24(FP), R10; \
	MOVQ d+32(FP), R11; \
	MOVQ n+40(FP), CX;  \
	SHLQ $2, CX;        \
	XORQ DX, DX

// MAXGRAD_SETUP loads maxGrad*'s arguments: DI, SI, R8, R9 d00-d11, R10-R13
// v00-v11, AX dy, CX n*4, DX 0.
#define MAXGRAD_SETUP \
	MOVQ d00+0(FP), DI;  \
	MOVQ d01+8(FP), SI;  \
	MOVQ d10+16(FP), R8; \
	MOVQ d11+24(FP), R9; \
	MOVQ v00+32(FP), R10; \
	MOVQ v01+40(FP), R11; \
	MOVQ v10+48(FP), R12; \
	MOVQ v11+56(FP), R13; \
	MOVQ dy+64(FP), AX;  \
	MOVQ n+72(FP), CX;   \
	SHLQ $2, CX;         \
	XORQ DX, DX

// RMSPROP_SETUP loads rmsprop*'s arguments: DI nv, SI m2, R8 old, R9 grad, CX
// n*4, DX 0, and broadcasts the scalars ρ, 1-ρ, Debias, LR, Epsilon into
// r0-r4.
#define RMSPROP_SETUP(r0, r1, r2, r3, r4) \
	MOVQ         nv+0(FP), DI;  \
	MOVQ         m2+8(FP), SI;  \
	MOVQ         old+16(FP), R8; \
	MOVQ         grad+24(FP), R9; \
	MOVQ         n+32(FP), CX;  \
	SHLQ         $2, CX;        \
	MOVQ         s+40(FP), AX;  \
	VBROADCASTSS 0(AX), r0;     \
	VBROADCASTSS 4(AX), r1;     \
	VBROADCASTSS 8(AX), r2;     \
	VBROADCASTSS 12(AX), r3;    \
	VBROADCASTSS 16(AX), r4;    \
	XORQ         DX, DX

// RMSPROP_LOOP is rmspropGo's loop, width bytes a step: the same operations
// in the same order, each rounded (no FMA), so the same results to the bit.
#define RMSPROP_LOOP(width, x0, x1, x2, x3, x4, x5, rho, omr, debias, lr, eps, loop, done) \
	CMPQ    DX, CX;            \
	JGE     done;              \
loop:                              \
	VMOVUPS (R9)(DX*1), x0;    \
	VMOVUPS (SI)(DX*1), x1;    \
	VMULPS  x1, rho, x1;       \
	VMULPS  x0, x0, x2;        \
	VMULPS  x2, omr, x2;       \
	VADDPS  x2, x1, x1;        \
	VMOVUPS x1, (SI)(DX*1);    \
	VMULPS  debias, x1, x3;    \
	VSQRTPS x3, x3;            \
	VADDPS  eps, x3, x3;       \
	VMULPS  x0, lr, x4;        \
	VDIVPS  x3, x4, x4;        \
	VMOVUPS (R8)(DX*1), x5;    \
	VSUBPS  x4, x5, x5;        \
	VMOVUPS x5, (DI)(DX*1);    \
	ADDQ    $width, DX;        \
	CMPQ    DX, CX;            \
	JLT     loop;              \
done:

// Winograd F(2x2, 3x3)'s transforms (conv_winograd.go), the dense layers'
// axpy and pooling's maxRows with AVX-512 (Z registers, 16 channels a step)
// and AVX2 (Y registers, 8): one macro body per transform, its registers and
// width the arguments. Each does the same operations in the same order as the
// portable Go, so the results are the same to the bit.

// d[i]'s data pointer is at i*24(DI) (a slice header); DX is the byte offset
// of the channel.

// func winoInputAVX512(v *float32, d *[16][]float32, c, from, to int)
TEXT ·winoInputAVX512(SB), NOSPLIT, $0-40
	INPUT_SETUP
	CMPQ DX, CX
	JGE  in512done

in512:
	WINO_INPUT(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9)
	ADDQ $64, DX
	CMPQ DX, CX
	JLT  in512

in512done:
	VZEROUPPER
	RET

// func winoInputAVX2(v *float32, d *[16][]float32, c, from, to int)
TEXT ·winoInputAVX2(SB), NOSPLIT, $0-40
	INPUT_SETUP
	CMPQ DX, CX
	JGE  in2done

in2:
	WINO_INPUT(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9)
	ADDQ $32, DX
	CMPQ DX, CX
	JLT  in2

in2done:
	VZEROUPPER
	RET

// func winoOutputAVX512(y *[4][]float32, m, bias *float32, floor float32)
TEXT ·winoOutputAVX512(SB), NOSPLIT, $0-28
	OUTPUT_SETUP
	VBROADCASTSS floor+24(FP), Z11

out512:
	WINO_OUTPUT(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z11)
	ADDQ $64, DX
	CMPQ DX, $256
	JLT  out512
	VZEROUPPER
	RET

// func winoOutputAVX2(y *[4][]float32, m, bias *float32, floor float32)
TEXT ·winoOutputAVX2(SB), NOSPLIT, $0-28
	OUTPUT_SETUP
	VBROADCASTSS floor+24(FP), Y11

out2:
	WINO_OUTPUT(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y11)
	ADDQ $32, DX
	CMPQ DX, $256
	JLT  out2
	VZEROUPPER
	RET

// func winoKernelAVX512(u *float32, us int, gk *[9][]float32)
TEXT ·winoKernelAVX512(SB), NOSPLIT, $0-24
	KERNEL_SETUP
	VBROADCASTSS X15, Z15

k512:
	WINO_KERNEL(Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z15)
	ADDQ $64, DX
	CMPQ DX, $256
	JLT  k512
	VZEROUPPER
	RET

// func winoKernelAVX2(u *float32, us int, gk *[9][]float32)
TEXT ·winoKernelAVX2(SB), NOSPLIT, $0-24
	KERNEL_SETUP
	VBROADCASTSS X15, Y15

k2:
	WINO_KERNEL(Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y15)
	ADDQ $32, DX
	CMPQ DX, $256
	JLT  k2
	VZEROUPPER
	RET

// func axpyAVX512(dst *float32, a float32, x *float32, n int)
//
// dst += a*x for n floats, n a multiple of 16.
TEXT ·axpyAVX512(SB), NOSPLIT, $0-32
	AXPY_SETUP
	VBROADCASTSS a+8(FP), Z1
	AXPY_LOOP(64, Z0, Z1, axpy512, axpy512done)
	VZEROUPPER
	RET

// func axpyAVX2(dst *float32, a float32, x *float32, n int)
//
// dst += a*x for n floats, n a multiple of 8.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	AXPY_SETUP
	VBROADCASTSS a+8(FP), Y1
	AXPY_LOOP(32, Y0, Y1, axpy2, axpy2done)
	VZEROUPPER
	RET

// func maxRowsAVX512(dst, a, b, c, d *float32, n int)
//
// maxRows for n floats, n a multiple of 16.
TEXT ·maxRowsAVX512(SB), NOSPLIT, $0-48
	MAX_SETUP
	MAX_LOOP(64, Z0, Z1, max512, max512done)
	VZEROUPPER
	RET

// func maxRowsAVX2(dst, a, b, c, d *float32, n int)
//
// maxRows for n floats, n a multiple of 8.
TEXT ·maxRowsAVX2(SB), NOSPLIT, $0-48
	MAX_SETUP
	MAX_LOOP(32, Y0, Y1, max2, max2done)
	VZEROUPPER
	RET

// func addWidenAVX512(dst *float64, src *float32, n int)
//
// dst[i] += float64(src[i]) for n values, n a multiple of 8.
TEXT ·addWidenAVX512(SB), NOSPLIT, $0-24
	WIDEN_LOOP(8, Z0, widen512, widen512done)
	VZEROUPPER
	RET

// func addWidenAVX2(dst *float64, src *float32, n int)
//
// dst[i] += float64(src[i]) for n values, n a multiple of 4.
TEXT ·addWidenAVX2(SB), NOSPLIT, $0-24
	WIDEN_LOOP(4, Y0, widen2, widen2done)
	VZEROUPPER
	RET

// func maxGradAVX512(d00, d01, d10, d11, v00, v01, v10, v11, dy *float32, n int)
//
// maxGrad for n channels, n a multiple of 16: the maximum as maxGradGo takes
// it, each input's mask of being equal to it (K1-K4) cleared where an earlier
// one was (K5: the union so far), g stored under each mask, zeros elsewhere.
TEXT ·maxGradAVX512(SB), NOSPLIT, $0-80
	MAXGRAD_SETUP
	CMPQ DX, CX
	JGE  mg512done

mg512:
	VMOVUPS   (R10)(DX*1), Z0
	VMOVUPS   (R11)(DX*1), Z1
	VMOVUPS   (R12)(DX*1), Z2
	VMOVUPS   (R13)(DX*1), Z3
	VMAXPS    Z1, Z0, Z4 // vmax(v00, v01)
	VMAXPS    Z3, Z2, Z5 // vmax(v10, v11)
	VMAXPS    Z5, Z4, Z4
	VMOVUPS   (AX)(DX*1), Z6
	VCMPPS    $0, Z4, Z0, K1 // v00 == m (ordered: false for NaNs)
	VCMPPS    $0, Z4, Z1, K2
	VCMPPS    $0, Z4, Z2, K3
	VCMPPS    $0, Z4, Z3, K4
	KANDNW    K2, K1, K2 // K2 &^= K1
	KORW      K1, K2, K5
	KANDNW    K3, K5, K3
	KORW      K5, K3, K5
	KANDNW    K4, K5, K4
	VMOVUPS.Z Z6, K1, Z7
	VMOVUPS   Z7, (DI)(DX*1)
	VMOVUPS.Z Z6, K2, Z7
	VMOVUPS   Z7, (SI)(DX*1)
	VMOVUPS.Z Z6, K3, Z7
	VMOVUPS   Z7, (R8)(DX*1)
	VMOVUPS.Z Z6, K4, Z7
	VMOVUPS   Z7, (R9)(DX*1)
	ADDQ      $64, DX
	CMPQ      DX, CX
	JLT       mg512

mg512done:
	VZEROUPPER
	RET

// func maxGradAVX2(d00, d01, d10, d11, v00, v01, v10, v11, dy *float32, n int)
//
// maxGrad for n channels, n a multiple of 8: maxGradAVX512 with the masks in
// Y registers (all ones where true), g kept by AND.
TEXT ·maxGradAVX2(SB), NOSPLIT, $0-80
	MAXGRAD_SETUP
	CMPQ DX, CX
	JGE  mg2done

mg2:
	VMOVUPS (R10)(DX*1), Y0
	VMOVUPS (R11)(DX*1), Y1
	VMOVUPS (R12)(DX*1), Y2
	VMOVUPS (R13)(DX*1), Y3
	VMAXPS  Y1, Y0, Y4
	VMAXPS  Y3, Y2, Y5
	VMAXPS  Y5, Y4, Y4
	VMOVUPS (AX)(DX*1), Y6
	VCMPPS  $0, Y4, Y0, Y8
	VCMPPS  $0, Y4, Y1, Y9
	VCMPPS  $0, Y4, Y2, Y10
	VCMPPS  $0, Y4, Y3, Y11
	VANDNPS Y9, Y8, Y9 // Y9 &^= Y8
	VORPS   Y8, Y9, Y12
	VANDNPS Y10, Y12, Y10
	VORPS   Y12, Y10, Y12
	VANDNPS Y11, Y12, Y11
	VANDPS  Y6, Y8, Y8
	VMOVUPS Y8, (DI)(DX*1)
	VANDPS  Y6, Y9, Y9
	VMOVUPS Y9, (SI)(DX*1)
	VANDPS  Y6, Y10, Y10
	VMOVUPS Y10, (R8)(DX*1)
	VANDPS  Y6, Y11, Y11
	VMOVUPS Y11, (R9)(DX*1)
	ADDQ    $32, DX
	CMPQ    DX, CX
	JLT     mg2

mg2done:
	VZEROUPPER
	RET

// func rmspropAVX512(nv, m2, old, grad *float32, n int, s *[5]float32)
//
// rmsprop for n values, n a multiple of 16.
TEXT ·rmspropAVX512(SB), NOSPLIT, $0-48
	RMSPROP_SETUP(Z10, Z11, Z12, Z13, Z14)
	RMSPROP_LOOP(64, Z0, Z1, Z2, Z3, Z4, Z5, Z10, Z11, Z12, Z13, Z14, rms512, rms512done)
	VZEROUPPER
	RET

// func rmspropAVX2(nv, m2, old, grad *float32, n int, s *[5]float32)
//
// rmsprop for n values, n a multiple of 8.
TEXT ·rmspropAVX2(SB), NOSPLIT, $0-48
	RMSPROP_SETUP(Y10, Y11, Y12, Y13, Y14)
	RMSPROP_LOOP(32, Y0, Y1, Y2, Y3, Y4, Y5, Y10, Y11, Y12, Y13, Y14, rms2, rms2done)
	VZEROUPPER
	RET

// func reluGradAVX512(dy, y *float32, n int)
//
// reluGrad for n values, n a multiple of 16: dy kept where y > 0 (ordered:
// false for NaNs), zero elsewhere.
TEXT ·reluGradAVX512(SB), NOSPLIT, $0-24
	MOVQ   dy+0(FP), DI
	MOVQ   y+8(FP), SI
	MOVQ   n+16(FP), CX
	SHLQ   $2, CX
	XORQ   DX, DX
	VXORPS Z1, Z1, Z1
	CMPQ   DX, CX
	JGE    rg512done

rg512:
	VCMPPS    $0x11, (SI)(DX*1), Z1, K1 // 0 < y: LT_OQ
	VMOVUPS.Z (DI)(DX*1), K1, Z0
	VMOVUPS   Z0, (DI)(DX*1)
	ADDQ      $64, DX
	CMPQ      DX, CX
	JLT       rg512

rg512done:
	VZEROUPPER
	RET

// func reluGradAVX2(dy, y *float32, n int)
//
// reluGrad for n values, n a multiple of 8.
TEXT ·reluGradAVX2(SB), NOSPLIT, $0-24
	MOVQ   dy+0(FP), DI
	MOVQ   y+8(FP), SI
	MOVQ   n+16(FP), CX
	SHLQ   $2, CX
	XORQ   DX, DX
	VXORPS Y1, Y1, Y1
	CMPQ   DX, CX
	JGE    rg2done

rg2:
	VCMPPS  $0x11, (SI)(DX*1), Y1, Y2 // 0 < y: LT_OQ
	VANDPS  (DI)(DX*1), Y2, Y2
	VMOVUPS Y2, (DI)(DX*1)
	ADDQ    $32, DX
	CMPQ    DX, CX
	JLT     rg2

rg2done:
	VZEROUPPER
	RET

// func transpose16AVX512(dst *float32, ldd int, src *float32, lds int)
//
// dst[j*ldd+i] = src[i*lds+j] for i, j < 16: rows r0-r15 (Z0-Z15)
// interleaved in pairs of floats (Z16-Z31), then of float pairs (Z0-Z15:
// u[4k+m]'s 128-bit lane L holds column 4L+m of rows 4k to 4k+3), then
// their 128-bit lanes gathered across u[m], u[4+m], u[8+m], u[12+m] into the
// columns, stored as dst's rows.
TEXT ·transpose16AVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), DX
	SHLQ $2, DX
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), BX
	SHLQ $2, BX
	VMOVUPS (SI), Z0
	ADDQ    BX, SI
	VMOVUPS (SI), Z1
	ADDQ    BX, SI
	VMOVUPS (SI), Z2
	ADDQ    BX, SI
	VMOVUPS (SI), Z3
	ADDQ    BX, SI
	VMOVUPS (SI), Z4
	ADDQ    BX, SI
	VMOVUPS (SI), Z5
	ADDQ    BX, SI
	VMOVUPS (SI), Z6
	ADDQ    BX, SI
	VMOVUPS (SI), Z7
	ADDQ    BX, SI
	VMOVUPS (SI), Z8
	ADDQ    BX, SI
	VMOVUPS (SI), Z9
	ADDQ    BX, SI
	VMOVUPS (SI), Z10
	ADDQ    BX, SI
	VMOVUPS (SI), Z11
	ADDQ    BX, SI
	VMOVUPS (SI), Z12
	ADDQ    BX, SI
	VMOVUPS (SI), Z13
	ADDQ    BX, SI
	VMOVUPS (SI), Z14
	ADDQ    BX, SI
	VMOVUPS (SI), Z15
	VUNPCKLPS Z1, Z0, Z16
	VUNPCKHPS Z1, Z0, Z17
	VUNPCKLPS Z3, Z2, Z18
	VUNPCKHPS Z3, Z2, Z19
	VUNPCKLPS Z5, Z4, Z20
	VUNPCKHPS Z5, Z4, Z21
	VUNPCKLPS Z7, Z6, Z22
	VUNPCKHPS Z7, Z6, Z23
	VUNPCKLPS Z9, Z8, Z24
	VUNPCKHPS Z9, Z8, Z25
	VUNPCKLPS Z11, Z10, Z26
	VUNPCKHPS Z11, Z10, Z27
	VUNPCKLPS Z13, Z12, Z28
	VUNPCKHPS Z13, Z12, Z29
	VUNPCKLPS Z15, Z14, Z30
	VUNPCKHPS Z15, Z14, Z31
	VUNPCKLPD Z18, Z16, Z0
	VUNPCKHPD Z18, Z16, Z1
	VUNPCKLPD Z19, Z17, Z2
	VUNPCKHPD Z19, Z17, Z3
	VUNPCKLPD Z22, Z20, Z4
	VUNPCKHPD Z22, Z20, Z5
	VUNPCKLPD Z23, Z21, Z6
	VUNPCKHPD Z23, Z21, Z7
	VUNPCKLPD Z26, Z24, Z8
	VUNPCKHPD Z26, Z24, Z9
	VUNPCKLPD Z27, Z25, Z10
	VUNPCKHPD Z27, Z25, Z11
	VUNPCKLPD Z30, Z28, Z12
	VUNPCKHPD Z30, Z28, Z13
	VUNPCKLPD Z31, Z29, Z14
	VUNPCKHPD Z31, Z29, Z15
	VSHUFF32X4 $0x44, Z4, Z0, Z16
	VSHUFF32X4 $0xEE, Z4, Z0, Z17
	VSHUFF32X4 $0x44, Z12, Z8, Z18
	VSHUFF32X4 $0xEE, Z12, Z8, Z19
	VSHUFF32X4 $0x88, Z18, Z16, Z20
	VSHUFF32X4 $0xDD, Z18, Z16, Z21
	VSHUFF32X4 $0x88, Z19, Z17, Z22
	VSHUFF32X4 $0xDD, Z19, Z17, Z23
	VSHUFF32X4 $0x44, Z5, Z1, Z16
	VSHUFF32X4 $0xEE, Z5, Z1, Z17
	VSHUFF32X4 $0x44, Z13, Z9, Z18
	VSHUFF32X4 $0xEE, Z13, Z9, Z19
	VSHUFF32X4 $0x88, Z18, Z16, Z24
	VSHUFF32X4 $0xDD, Z18, Z16, Z25
	VSHUFF32X4 $0x88, Z19, Z17, Z26
	VSHUFF32X4 $0xDD, Z19, Z17, Z27
	VSHUFF32X4 $0x44, Z6, Z2, Z16
	VSHUFF32X4 $0xEE, Z6, Z2, Z17
	VSHUFF32X4 $0x44, Z14, Z10, Z18
	VSHUFF32X4 $0xEE, Z14, Z10, Z19
	VSHUFF32X4 $0x88, Z18, Z16, Z28
	VSHUFF32X4 $0xDD, Z18, Z16, Z29
	VSHUFF32X4 $0x88, Z19, Z17, Z30
	VSHUFF32X4 $0xDD, Z19, Z17, Z31
	VSHUFF32X4 $0x44, Z7, Z3, Z16
	VSHUFF32X4 $0xEE, Z7, Z3, Z17
	VSHUFF32X4 $0x44, Z15, Z11, Z18
	VSHUFF32X4 $0xEE, Z15, Z11, Z19
	VSHUFF32X4 $0x88, Z18, Z16, Z0
	VSHUFF32X4 $0xDD, Z18, Z16, Z4
	VSHUFF32X4 $0x88, Z19, Z17, Z8
	VSHUFF32X4 $0xDD, Z19, Z17, Z12
	VMOVUPS Z20, (DI)
	ADDQ    DX, DI
	VMOVUPS Z24, (DI)
	ADDQ    DX, DI
	VMOVUPS Z28, (DI)
	ADDQ    DX, DI
	VMOVUPS Z0, (DI)
	ADDQ    DX, DI
	VMOVUPS Z21, (DI)
	ADDQ    DX, DI
	VMOVUPS Z25, (DI)
	ADDQ    DX, DI
	VMOVUPS Z29, (DI)
	ADDQ    DX, DI
	VMOVUPS Z4, (DI)
	ADDQ    DX, DI
	VMOVUPS Z22, (DI)
	ADDQ    DX, DI
	VMOVUPS Z26, (DI)
	ADDQ    DX, DI
	VMOVUPS Z30, (DI)
	ADDQ    DX, DI
	VMOVUPS Z8, (DI)
	ADDQ    DX, DI
	VMOVUPS Z23, (DI)
	ADDQ    DX, DI
	VMOVUPS Z27, (DI)
	ADDQ    DX, DI
	VMOVUPS Z31, (DI)
	ADDQ    DX, DI
	VMOVUPS Z12, (DI)
	VZEROUPPER
	RET
