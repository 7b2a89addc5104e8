package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestSlower checks what Slower says for the best kernels, slower ones
// chosen and a purego build.
func TestSlower(t *testing.T) {
	best := Best()
	if purego {
		if want := CPUSIMD(); want != "none" && !strings.Contains(best.Slower(), "purego") {
			t.Errorf("purego build on a %s CPU: Slower() = %q", want, best.Slower())
		}
		return
	}
	if best.SIMD() != CPUSIMD() {
		t.Errorf("this CPU has %s, but the build's best kernels are %s", CPUSIMD(), best.SIMD())
	}
	if f := best.Slower(); f != "" {
		t.Errorf("the best kernels: Slower() = %q", f)
	}
	if best.SIMD() != "none" {
		none, err := Lookup("none", "")
		if err != nil {
			t.Fatal(err)
		}
		if f := none.Slower(); !strings.Contains(f, "SIMD none chosen") || !strings.Contains(f, best.SIMD()) {
			t.Errorf("portable kernels chosen: Slower() = %q", f)
		}
	}
}

// TestWinogradTransformsExact checks each instruction set's Winograd
// transforms against the portable Go to the bit (they do the same operations
// in the same order), channel counts with and without a tail past the last
// full vector.
func TestWinogradTransformsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for name, ks := range registered {
		w := ks.wino
		for _, c := range []int{16, 20, 37, 64, 256} {
			t.Run(fmt.Sprintf("%s/input/c%d", name, c), func(t *testing.T) {
				var d [16][]float32
				for i := range d {
					d[i] = randSlice(r, c)
				}
				want, got := make([]float32, 16*c), make([]float32, 16*c)
				winoInputGo(want, &d, c, 0)
				w.input(got, &d, c, 0)
				exact(t, got, want)
				// from > 0: the channels before it are left alone.
				clear(got)
				w.input(got, &d, c, 5)
				for xi := range 16 {
					for k := range c {
						if v := got[xi*c+k]; k < 5 && v != 0 || k >= 5 && v != want[xi*c+k] {
							t.Fatalf("from 5: value (%d, %d) = %g, want %g", xi, k, v, map[bool]float32{true: 0, false: want[xi*c+k]}[k < 5])
						}
					}
				}
			})
		}
		for _, floor := range []float32{0, float32(math.Inf(-1))} {
			t.Run(fmt.Sprintf("%s/output/floor%g", name, floor), func(t *testing.T) {
				m, bias := randSlice(r, 16*nr), randSlice(r, nr)
				var want, got [4][]float32
				for i := range 4 {
					want[i], got[i] = make([]float32, nr), make([]float32, nr)
				}
				winoOutputGo(&want, m, bias, floor)
				w.output(&got, m, bias, floor)
				for i := range 4 {
					exact(t, got[i], want[i])
				}
			})
		}
		t.Run(name+"/kernel", func(t *testing.T) {
			var g [9][]float32
			for i := range g {
				g[i] = randSlice(r, nr)
			}
			us := 3 * nr
			want, got := make([]float32, 16*us), make([]float32, 16*us)
			winoKernelGo(want, us, &g)
			w.kernel(got, us, &g)
			exact(t, got, want)
		})
	}
}

// TestWinograd4TransformsExact checks each instruction set's F(4x4, 3x3)
// transforms (where it has them: AVX-512) against the portable Go to the
// bit, as TestWinogradTransformsExact does F(2x2)'s; and the transforms
// themselves against their definition, Bᵀ d B and Aᵀ M A in float64.
func TestWinograd4TransformsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	have := 0
	for name, ks := range registered {
		w := ks.wino4
		if w.input == nil {
			continue
		}
		have++
		for _, c := range []int{16, 20, 37, 64, 512} {
			t.Run(fmt.Sprintf("%s/input/c%d", name, c), func(t *testing.T) {
				var d [36][]float32
				for i := range d {
					d[i] = randSlice(r, c)
				}
				want, got := make([]float32, 36*c), make([]float32, 36*c)
				wino4InputGo(want, &d, c, 0)
				w.input(got, &d, c, 0)
				exact(t, got, want)
				clear(got)
				w.input(got, &d, c, 5)
				for xi := range 36 {
					for k := range c {
						if v := got[xi*c+k]; k < 5 && v != 0 || k >= 5 && v != want[xi*c+k] {
							t.Fatalf("from 5: value (%d, %d) = %g", xi, k, v)
						}
					}
				}
			})
		}
		for _, floor := range []float32{0, float32(math.Inf(-1))} {
			t.Run(fmt.Sprintf("%s/output/floor%g", name, floor), func(t *testing.T) {
				m, bias := randSlice(r, 36*nr), randSlice(r, nr)
				var want, got [16][]float32
				for i := range 16 {
					want[i], got[i] = make([]float32, nr), make([]float32, nr)
				}
				wino4OutputGo(&want, m, bias, floor)
				w.output(&got, m, bias, floor)
				for i := range 16 {
					exact(t, got[i], want[i])
				}
			})
		}
		t.Run(name+"/kernel", func(t *testing.T) {
			var g [9][]float32
			for i := range g {
				g[i] = randSlice(r, nr)
			}
			us := 3 * nr
			want, got := make([]float32, 36*us), make([]float32, 36*us)
			wino4KernelGo(want, us, &g)
			w.kernel(got, us, &g)
			exact(t, got, want)
		})
	}
	if have == 0 && CPUSIMD() == "AVX-512" && !purego {
		t.Error("the AVX-512 kernels have no F(4x4) transforms")
	}
	// The portable transforms against the matrices in float64.
	var d [36][]float32
	for i := range d {
		d[i] = randSlice(r, 1)
	}
	v := make([]float32, 36)
	wino4InputGo(v, &d, 1, 0)
	for i := range 6 {
		for j := range 6 {
			var want float64 // (Bᵀ d B)[i][j]
			for k := range 6 {
				for l := range 6 {
					want += float64(wBT[i][k]) * float64(d[k*6+l][0]) * float64(wBT[j][l])
				}
			}
			if math.Abs(float64(v[i*6+j])-want) > 1e-5*(1+math.Abs(want)) {
				t.Errorf("input transform (%d, %d) = %g, want %g", i, j, v[i*6+j], want)
			}
		}
	}
	var g [9][]float32
	for i := range g {
		g[i] = randSlice(r, nr)
	}
	u := make([]float32, 36*nr)
	wino4KernelGo(u, nr, &g)
	for i := range 6 {
		for j := range 6 {
			var want float64 // (G g Gᵀ)[i][j]
			for k := range 3 {
				for l := range 3 {
					want += float64(wG[i][k]) * float64(g[k*3+l][0]) * float64(wG[j][l])
				}
			}
			if got := u[(i*6+j)*nr]; math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
				t.Errorf("kernel transform (%d, %d) = %g, want %g", i, j, got, want)
			}
		}
	}
	m, bias := randSlice(r, 36*nr), make([]float32, nr)
	var y [16][]float32
	for i := range y {
		y[i] = make([]float32, nr)
	}
	wino4OutputGo(&y, m, bias, float32(math.Inf(-1)))
	for i := range 4 {
		for j := range 4 {
			var want float64
			for k := range 6 {
				for l := range 6 {
					want += float64(wAT[i][k]) * float64(m[(k*6+l)*nr]) * float64(wAT[j][l])
				}
			}
			if got := y[i*4+j][0]; math.Abs(float64(got)-want) > 1e-5*(1+math.Abs(want)) {
				t.Errorf("output transform (%d, %d) = %g, want %g", i, j, got, want)
			}
		}
	}
}

// TestVectorOps checks each instruction set's dense and pooling loops
// against the portable Go on lengths around the vector widths.
func TestVectorOps(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for name, ks := range registered {
		v := ks.vec
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 33, 64, 100} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				a, b, c, d := randSlice(r, n), randSlice(r, n), randSlice(r, n), randSlice(r, n)
				want, got := make([]float32, n), make([]float32, n)
				maxRowsGo(want, a, b, c, d)
				v.maxRows(got, a, b, c, d)
				exact(t, got, want)
				// maxGrad on windows with ties, zeros of both signs and NaNs.
				var win [4][]float32
				for i := range win {
					win[i] = make([]float32, n)
					for j := range win[i] {
						win[i][j] = []float32{1, 2, 2, 0, float32(math.Copysign(0, -1)), float32(math.NaN()), -3}[r.IntN(7)]
					}
				}
				var wd, gd [4][]float32
				for i := range wd {
					wd[i], gd[i] = make([]float32, n), randSlice(r, n) // gd: junk to overwrite
				}
				maxGradGo(wd[0], wd[1], wd[2], wd[3], win[0], win[1], win[2], win[3], a)
				v.maxGrad(gd[0], gd[1], gd[2], gd[3], win[0], win[1], win[2], win[3], a)
				for i := range wd {
					exact(t, gd[i], wd[i])
				}
				want, got = slices.Clone(a), slices.Clone(a)
				axpyGo(want, 1.5, b)
				v.axpy(got, 1.5, b)
				for i := range want { // FMA or not: one rounding apart
					if math.Abs(float64(got[i]-want[i])) > 1e-6*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("axpy value %d: got %g, want %g", i, got[i], want[i])
					}
				}
			})
		}
	}
}

// exact fails t unless got and want are equal to the bit.
func exact(t *testing.T, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("value %d: got %g, want %g (not the same to the bit)", i, got[i], want[i])
		}
	}
}

// TestLookup: Lookup returns a registered instruction set's kernels with the
// algorithm asked for, Best's for "", and names the ones there are when
// asked for one this CPU or build lacks; the best kernels are unchanged.
func TestLookup(t *testing.T) {
	for _, c := range []struct {
		simd, conv, want string
		winograd         bool
	}{
		{"none", "", "none", true},
		{"none", "direct", "none", false},
		{"", "winograd", Best().SIMD(), true},
		{"", "direct", Best().SIMD(), false},
		{"", "winograd2", Best().SIMD(), true},
	} {
		ks, err := Lookup(c.simd, c.conv)
		if err != nil || ks.SIMD() != c.want || ks.Winograd() != c.winograd {
			t.Errorf("Lookup(%q, %q) = %v, %v; want SIMD %s, Winograd %v", c.simd, c.conv, ks, err, c.want, c.winograd)
		}
	}
	if _, err := Lookup("AVX-999", ""); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("Lookup(AVX-999): %v, want an error listing the kernels", err)
	}
	if _, err := Lookup("", "fft"); err == nil || !strings.Contains(err.Error(), "winograd, winograd2 or direct") {
		t.Errorf("Lookup(fft): %v, want an error naming the algorithms", err)
	}
	if !Best().Winograd() || Best().SIMD() != CPUSIMD() && !purego {
		t.Errorf("Best() = %v after the lookups", Best())
	}
}

// TestTranspose checks each instruction set's transpose against the
// definition, on blocks around the 16 x 16 squares, with strides past the
// block and values around it that must stay as they were.
func TestTranspose(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for name, ks := range registered {
		for _, rows := range []int{0, 1, 15, 16, 17, 33, 48} {
			for _, cols := range []int{1, 7, 16, 31, 64} {
				lds, ldd := cols+3, rows+5
				src := randSlice(r, rows*lds)
				dst := randSlice(r, cols*ldd+2)
				want := slices.Clone(dst)
				for i := range rows {
					for j := range cols {
						want[j*ldd+i] = src[i*lds+j]
					}
				}
				ks.vec.transpose(dst, ldd, src, lds, rows, cols)
				for k := range want {
					if math.Float32bits(dst[k]) != math.Float32bits(want[k]) {
						t.Fatalf("%s, %d x %d: dst[%d] = %g, want %g", name, rows, cols, k, dst[k], want[k])
					}
				}
			}
		}
	}
}
