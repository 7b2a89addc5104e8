//go:build amd64 && goexperiment.simd

package kernels

import "simd/archsimd"

// Winograd's transforms with AVX2, 8 channels at a time (on CPUs without
// AVX-512; conv_winograd_avx512.go has those). The two files are the same code
// but for the vector width: archsimd has no width-generic vector type, and Go
// generics over its types would call each Add through a dictionary. The
// transforms are unrolled by hand so that their values stay in registers.
func init() {
	if archsimd.X86.AVX2() {
		winoByName["AVX2"] = winoTransforms{winoInputAVX2, winoOutputAVX2, winoKernelAVX2}
		if !archsimd.X86.AVX512() {
			wino = winoByName["AVX2"]
		}
	}
}

// ld8 and st8 load and store 8 floats at s[i:].
func ld8(s []float32, i int) archsimd.Float32x8 {
	return archsimd.LoadFloat32x8((*[8]float32)(s[i : i+8]))
}

func st8(x archsimd.Float32x8, s []float32, i int) { x.Store((*[8]float32)(s[i : i+8])) }

// winoInputAVX2 is winoTransforms.input, 8 channels at a time (unrolled).
func winoInputAVX2(v []float32, d *[16][]float32, c, from int) {
	v = v[:16*c]
	d0, d1, d2, d3, d4, d5, d6, d7 := d[0][:c], d[1][:c], d[2][:c], d[3][:c], d[4][:c], d[5][:c], d[6][:c], d[7][:c]
	d8, d9, d10, d11, d12, d13, d14, d15 := d[8][:c], d[9][:c], d[10][:c], d[11][:c], d[12][:c], d[13][:c], d[14][:c], d[15][:c]
	k := from
	for ; k+8 <= c; k += 8 {
		// Bᵀ d: column j of rows (d0-d2, d1+d2, d2-d1, d1-d3).
		a0, a1, a2, a3 := ld8(d0, k), ld8(d4, k), ld8(d8, k), ld8(d12, k)
		t00, t10, t20, t30 := a0.Sub(a2), a1.Add(a2), a2.Sub(a1), a1.Sub(a3)
		a0, a1, a2, a3 = ld8(d1, k), ld8(d5, k), ld8(d9, k), ld8(d13, k)
		t01, t11, t21, t31 := a0.Sub(a2), a1.Add(a2), a2.Sub(a1), a1.Sub(a3)
		a0, a1, a2, a3 = ld8(d2, k), ld8(d6, k), ld8(d10, k), ld8(d14, k)
		t02, t12, t22, t32 := a0.Sub(a2), a1.Add(a2), a2.Sub(a1), a1.Sub(a3)
		a0, a1, a2, a3 = ld8(d3, k), ld8(d7, k), ld8(d11, k), ld8(d15, k)
		t03, t13, t23, t33 := a0.Sub(a2), a1.Add(a2), a2.Sub(a1), a1.Sub(a3)
		// (Bᵀ d) B: row i the same across columns.
		st8(t00.Sub(t02), v, 0*c+k)
		st8(t01.Add(t02), v, 1*c+k)
		st8(t02.Sub(t01), v, 2*c+k)
		st8(t01.Sub(t03), v, 3*c+k)
		st8(t10.Sub(t12), v, 4*c+k)
		st8(t11.Add(t12), v, 5*c+k)
		st8(t12.Sub(t11), v, 6*c+k)
		st8(t11.Sub(t13), v, 7*c+k)
		st8(t20.Sub(t22), v, 8*c+k)
		st8(t21.Add(t22), v, 9*c+k)
		st8(t22.Sub(t21), v, 10*c+k)
		st8(t21.Sub(t23), v, 11*c+k)
		st8(t30.Sub(t32), v, 12*c+k)
		st8(t31.Add(t32), v, 13*c+k)
		st8(t32.Sub(t31), v, 14*c+k)
		st8(t31.Sub(t33), v, 15*c+k)
	}
	winoInputGo(v, d, c, k)
}

// winoOutputAVX2 is winoTransforms.output, 8 channels at a time (unrolled).
func winoOutputAVX2(y *[4][]float32, m []float32, bias []float32, floor float32) {
	m, bias = m[:16*nr], bias[:nr]
	y0, y1, y2, y3 := y[0][:nr], y[1][:nr], y[2][:nr], y[3][:nr]
	lo := archsimd.BroadcastFloat32x8(floor)
	for k := 0; k < nr; k += 8 {
		// Aᵀ M: column j of rows (m0+m1+m2, m1-m2-m3).
		m0, m1, m2, m3 := ld8(m, 0*nr+k), ld8(m, 4*nr+k), ld8(m, 8*nr+k), ld8(m, 12*nr+k)
		s00, s10 := m0.Add(m1).Add(m2), m1.Sub(m2).Sub(m3)
		m0, m1, m2, m3 = ld8(m, 1*nr+k), ld8(m, 5*nr+k), ld8(m, 9*nr+k), ld8(m, 13*nr+k)
		s01, s11 := m0.Add(m1).Add(m2), m1.Sub(m2).Sub(m3)
		m0, m1, m2, m3 = ld8(m, 2*nr+k), ld8(m, 6*nr+k), ld8(m, 10*nr+k), ld8(m, 14*nr+k)
		s02, s12 := m0.Add(m1).Add(m2), m1.Sub(m2).Sub(m3)
		m0, m1, m2, m3 = ld8(m, 3*nr+k), ld8(m, 7*nr+k), ld8(m, 11*nr+k), ld8(m, 15*nr+k)
		s03, s13 := m0.Add(m1).Add(m2), m1.Sub(m2).Sub(m3)
		// (Aᵀ M) A, plus the bias, no lower than floor (0: the ReLU).
		b := ld8(bias, k)
		st8(s00.Add(s01).Add(s02).Add(b).Max(lo), y0, k)
		st8(s01.Sub(s02).Sub(s03).Add(b).Max(lo), y1, k)
		st8(s10.Add(s11).Add(s12).Add(b).Max(lo), y2, k)
		st8(s11.Sub(s12).Sub(s13).Add(b).Max(lo), y3, k)
	}
}

// winoKernelAVX2 is winoTransforms.kernel, 8 channels at a time (unrolled).
func winoKernelAVX2(u []float32, us int, g *[9][]float32) {
	_ = u[15*us+nr-1]
	g0, g1, g2, g3, g4, g5, g6, g7, g8 := g[0][:nr], g[1][:nr], g[2][:nr], g[3][:nr], g[4][:nr], g[5][:nr], g[6][:nr], g[7][:nr], g[8][:nr]
	half := archsimd.BroadcastFloat32x8(0.5)
	for k := 0; k < nr; k += 8 {
		// G g: column j of rows (g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2).
		b0, b1, b2 := ld8(g0, k), ld8(g3, k), ld8(g6, k)
		a00, a10, a20, a30 := b0, b0.Add(b1).Add(b2).Mul(half), b0.Sub(b1).Add(b2).Mul(half), b2
		b0, b1, b2 = ld8(g1, k), ld8(g4, k), ld8(g7, k)
		a01, a11, a21, a31 := b0, b0.Add(b1).Add(b2).Mul(half), b0.Sub(b1).Add(b2).Mul(half), b2
		b0, b1, b2 = ld8(g2, k), ld8(g5, k), ld8(g8, k)
		a02, a12, a22, a32 := b0, b0.Add(b1).Add(b2).Mul(half), b0.Sub(b1).Add(b2).Mul(half), b2
		// (G g) Gᵀ: row i the same across columns.
		st8(a00, u, 0*us+k)
		st8(a00.Add(a01).Add(a02).Mul(half), u, 1*us+k)
		st8(a00.Sub(a01).Add(a02).Mul(half), u, 2*us+k)
		st8(a02, u, 3*us+k)
		st8(a10, u, 4*us+k)
		st8(a10.Add(a11).Add(a12).Mul(half), u, 5*us+k)
		st8(a10.Sub(a11).Add(a12).Mul(half), u, 6*us+k)
		st8(a12, u, 7*us+k)
		st8(a20, u, 8*us+k)
		st8(a20.Add(a21).Add(a22).Mul(half), u, 9*us+k)
		st8(a20.Sub(a21).Add(a22).Mul(half), u, 10*us+k)
		st8(a22, u, 11*us+k)
		st8(a30, u, 12*us+k)
		st8(a30.Add(a31).Add(a32).Mul(half), u, 13*us+k)
		st8(a30.Sub(a31).Add(a32).Mul(half), u, 14*us+k)
		st8(a32, u, 15*us+k)
	}
}
