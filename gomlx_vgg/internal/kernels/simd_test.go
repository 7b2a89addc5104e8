package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestFix checks what Fix says for the kernels in use, a $VGGNB_SIMD choice
// and a purego build.
func TestFix(t *testing.T) {
	if purego {
		if want := CPUSIMD(); want != "none" && !strings.Contains(Fix(), "purego") {
			t.Errorf("purego build on a %s CPU: Fix() = %q", want, Fix())
		}
		return
	}
	if Best != CPUSIMD() {
		t.Errorf("this CPU has %s, but the build's best kernels are %s", CPUSIMD(), Best)
	}
	defer func(s string) { use(s, microKernels[s], winoByName[s], vectorByName[s]) }(SIMD)
	use(Best, microKernels[Best], winoByName[Best], vectorByName[Best])
	if f := Fix(); f != "" {
		t.Errorf("the best kernels in use: Fix() = %q", f)
	}
	if Best != "none" {
		use("none", microKernels["none"], winoByName["none"], vectorByName["none"])
		if f := Fix(); !strings.Contains(f, "VGGNB_SIMD") {
			t.Errorf("portable kernels chosen: Fix() = %q", f)
		}
	}
}

// TestWinogradTransformsExact checks each instruction set's Winograd
// transforms against the portable Go to the bit (they do the same operations
// in the same order), channel counts with and without a tail past the last
// full vector.
func TestWinogradTransformsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for name, w := range winoByName {
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

// TestVectorOps checks each instruction set's dense and pooling loops
// against the portable Go on lengths around the vector widths.
func TestVectorOps(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for name, v := range vectorByName {
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 33, 64, 100} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				a, b, c, d := randSlice(r, n), randSlice(r, n), randSlice(r, n), randSlice(r, n)
				want, got := make([]float32, n), make([]float32, n)
				maxRowsGo(want, a, b, c, d)
				v.maxRows(got, a, b, c, d)
				exact(t, got, want)
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

// TestUse: Use switches to another registered instruction set and back, and
// names the ones there are when asked for one this CPU or build lacks.
func TestUse(t *testing.T) {
	defer func(s string) { _ = Use(s) }(SIMD)
	if err := Use("none"); err != nil || SIMD != "none" || wino.isa != "none" {
		t.Fatalf("Use(none): %v, SIMD %q", err, SIMD)
	}
	if err := Use("AVX-999"); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("Use(AVX-999): %v, want an error listing the kernels", err)
	}
	if SIMD != "none" {
		t.Errorf("a failed Use changed the kernels to %q", SIMD)
	}
}
