//go:build amd64 && goexperiment.simd

package kernels

import "simd/archsimd"

// Winograd's transforms with AVX-512, 16 channels at a time.
func init() {
	if archsimd.X86.AVX512() {
		winoByName["AVX-512"] = winoTransforms{winoInputAVX512, winoOutputAVX512, winoKernelAVX512}
		wino = winoByName["AVX-512"]
	}
}

// ld and st load and store 16 floats at s[i:].
func ld(s []float32, i int) archsimd.Float32x16 {
	return archsimd.LoadFloat32x16((*[16]float32)(s[i : i+16]))
}

func st(x archsimd.Float32x16, s []float32, i int) { x.Store((*[16]float32)(s[i : i+16])) }

// winoInputAVX512 is winoTransforms.input, 16 channels at a time (unrolled: the 16
// values and 16 sums stay in registers).
func winoInputAVX512(v []float32, d *[16][]float32, c, from int) {
	v = v[:16*c]
	d0, d1, d2, d3, d4, d5, d6, d7 := d[0][:c], d[1][:c], d[2][:c], d[3][:c], d[4][:c], d[5][:c], d[6][:c], d[7][:c]
	d8, d9, d10, d11, d12, d13, d14, d15 := d[8][:c], d[9][:c], d[10][:c], d[11][:c], d[12][:c], d[13][:c], d[14][:c], d[15][:c]
	k := from
	for ; k+16 <= c; k += 16 {
		// Bᵀ d: column j of rows (d0-d2, d1+d2, d2-d1, d1-d3).
		a0, a1, a2, a3 := ld(d0, k), ld(d4, k), ld(d8, k), ld(d12, k)
		t00, t10, t20, t30 := a0.Sub(a2), a1.Add(a2), a2.Sub(a1), a1.Sub(a3)
		a0, a1, a2, a3 = ld(d1, k), ld(d5, k), ld(d9, k), ld(d13, k)
		t01, t11, t21, t31 := a0.Sub(a2), a1.Add(a2), a2.Sub(a1), a1.Sub(a3)
		a0, a1, a2, a3 = ld(d2, k), ld(d6, k), ld(d10, k), ld(d14, k)
		t02, t12, t22, t32 := a0.Sub(a2), a1.Add(a2), a2.Sub(a1), a1.Sub(a3)
		a0, a1, a2, a3 = ld(d3, k), ld(d7, k), ld(d11, k), ld(d15, k)
		t03, t13, t23, t33 := a0.Sub(a2), a1.Add(a2), a2.Sub(a1), a1.Sub(a3)
		// (Bᵀ d) B: row i the same across columns.
		st(t00.Sub(t02), v, 0*c+k)
		st(t01.Add(t02), v, 1*c+k)
		st(t02.Sub(t01), v, 2*c+k)
		st(t01.Sub(t03), v, 3*c+k)
		st(t10.Sub(t12), v, 4*c+k)
		st(t11.Add(t12), v, 5*c+k)
		st(t12.Sub(t11), v, 6*c+k)
		st(t11.Sub(t13), v, 7*c+k)
		st(t20.Sub(t22), v, 8*c+k)
		st(t21.Add(t22), v, 9*c+k)
		st(t22.Sub(t21), v, 10*c+k)
		st(t21.Sub(t23), v, 11*c+k)
		st(t30.Sub(t32), v, 12*c+k)
		st(t31.Add(t32), v, 13*c+k)
		st(t32.Sub(t31), v, 14*c+k)
		st(t31.Sub(t33), v, 15*c+k)
	}
	winoInputGo(v, d, c, k)
}

// winoOutputAVX512 is winoTransforms.output, 16 channels at a time (unrolled).
func winoOutputAVX512(y *[4][]float32, m []float32, bias []float32, floor float32) {
	m, bias = m[:16*nr], bias[:nr]
	y0, y1, y2, y3 := y[0][:nr], y[1][:nr], y[2][:nr], y[3][:nr]
	lo := archsimd.BroadcastFloat32x16(floor)
	for k := 0; k < nr; k += 16 {
		// Aᵀ M: column j of rows (m0+m1+m2, m1-m2-m3).
		m0, m1, m2, m3 := ld(m, 0*nr+k), ld(m, 4*nr+k), ld(m, 8*nr+k), ld(m, 12*nr+k)
		s00, s10 := m0.Add(m1).Add(m2), m1.Sub(m2).Sub(m3)
		m0, m1, m2, m3 = ld(m, 1*nr+k), ld(m, 5*nr+k), ld(m, 9*nr+k), ld(m, 13*nr+k)
		s01, s11 := m0.Add(m1).Add(m2), m1.Sub(m2).Sub(m3)
		m0, m1, m2, m3 = ld(m, 2*nr+k), ld(m, 6*nr+k), ld(m, 10*nr+k), ld(m, 14*nr+k)
		s02, s12 := m0.Add(m1).Add(m2), m1.Sub(m2).Sub(m3)
		m0, m1, m2, m3 = ld(m, 3*nr+k), ld(m, 7*nr+k), ld(m, 11*nr+k), ld(m, 15*nr+k)
		s03, s13 := m0.Add(m1).Add(m2), m1.Sub(m2).Sub(m3)
		// (Aᵀ M) A, plus the bias, no lower than floor (0: the ReLU).
		b := ld(bias, k)
		st(s00.Add(s01).Add(s02).Add(b).Max(lo), y0, k)
		st(s01.Sub(s02).Sub(s03).Add(b).Max(lo), y1, k)
		st(s10.Add(s11).Add(s12).Add(b).Max(lo), y2, k)
		st(s11.Sub(s12).Sub(s13).Add(b).Max(lo), y3, k)
	}
}

// winoKernelAVX512 is winoTransforms.kernel, 16 channels at a time (unrolled).
func winoKernelAVX512(u []float32, us int, g *[9][]float32) {
	_ = u[15*us+nr-1]
	g0, g1, g2, g3, g4, g5, g6, g7, g8 := g[0][:nr], g[1][:nr], g[2][:nr], g[3][:nr], g[4][:nr], g[5][:nr], g[6][:nr], g[7][:nr], g[8][:nr]
	half := archsimd.BroadcastFloat32x16(0.5)
	for k := 0; k < nr; k += 16 {
		// G g: column j of rows (g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2).
		b0, b1, b2 := ld(g0, k), ld(g3, k), ld(g6, k)
		a00, a10, a20, a30 := b0, b0.Add(b1).Add(b2).Mul(half), b0.Sub(b1).Add(b2).Mul(half), b2
		b0, b1, b2 = ld(g1, k), ld(g4, k), ld(g7, k)
		a01, a11, a21, a31 := b0, b0.Add(b1).Add(b2).Mul(half), b0.Sub(b1).Add(b2).Mul(half), b2
		b0, b1, b2 = ld(g2, k), ld(g5, k), ld(g8, k)
		a02, a12, a22, a32 := b0, b0.Add(b1).Add(b2).Mul(half), b0.Sub(b1).Add(b2).Mul(half), b2
		// (G g) Gᵀ: row i the same across columns.
		st(a00, u, 0*us+k)
		st(a00.Add(a01).Add(a02).Mul(half), u, 1*us+k)
		st(a00.Sub(a01).Add(a02).Mul(half), u, 2*us+k)
		st(a02, u, 3*us+k)
		st(a10, u, 4*us+k)
		st(a10.Add(a11).Add(a12).Mul(half), u, 5*us+k)
		st(a10.Sub(a11).Add(a12).Mul(half), u, 6*us+k)
		st(a12, u, 7*us+k)
		st(a20, u, 8*us+k)
		st(a20.Add(a21).Add(a22).Mul(half), u, 9*us+k)
		st(a20.Sub(a21).Add(a22).Mul(half), u, 10*us+k)
		st(a22, u, 11*us+k)
		st(a30, u, 12*us+k)
		st(a30.Add(a31).Add(a32).Mul(half), u, 13*us+k)
		st(a30.Sub(a31).Add(a32).Mul(half), u, 14*us+k)
		st(a32, u, 15*us+k)
	}
}
