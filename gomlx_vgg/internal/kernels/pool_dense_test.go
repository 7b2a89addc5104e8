package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"
)

func TestMaxPool2x2(t *testing.T) {
	for _, tc := range []struct{ n, h, w, c int }{{1, 4, 4, 16}, {2, 5, 7, 3}, {1, 2, 2, 35}} {
		t.Run(fmt.Sprintf("%dx%dx%dx%d", tc.n, tc.h, tc.w, tc.c), func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			src := randSlice(r, tc.n*tc.h*tc.w*tc.c)
			ho, wo := tc.h/2, tc.w/2
			dst := make([]float32, tc.n*ho*wo*tc.c)
			if err := MaxPool2x2(dst, src, tc.n, tc.h, tc.w, tc.c); err != nil {
				t.Fatal(err)
			}
			at := func(i, y, x, ch int) float32 { return src[((i*tc.h+y)*tc.w+x)*tc.c+ch] }
			for i := range tc.n {
				for y := range ho {
					for x := range wo {
						for ch := range tc.c {
							want := max(at(i, 2*y, 2*x, ch), at(i, 2*y, 2*x+1, ch), at(i, 2*y+1, 2*x, ch), at(i, 2*y+1, 2*x+1, ch))
							if got := dst[((i*ho+y)*wo+x)*tc.c+ch]; got != want {
								t.Fatalf("(%d, %d, %d, %d): got %g, want %g", i, y, x, ch, got, want)
							}
						}
					}
				}
			}
		})
	}
	if err := MaxPool2x2(make([]float32, 3), make([]float32, 16), 1, 4, 4, 1); err == nil {
		t.Error("MaxPool2x2 accepted a destination of the wrong size")
	}
}

func TestDense(t *testing.T) {
	for _, tc := range []struct {
		n, k, o int
		relu    bool
	}{{1, 1000, 70, true}, {3, 512, 200, false}, {2, 17, 5, true}} {
		t.Run(fmt.Sprintf("%dx%d->%d", tc.n, tc.k, tc.o), func(t *testing.T) {
			r := rand.New(rand.NewPCG(5, 6))
			x, kernel, bias := randSlice(r, tc.n*tc.k), randSlice(r, tc.k*tc.o), randSlice(r, tc.o)
			for i := range x {
				if i%3 == 0 {
					x[i] = 0 // zeros are skipped; the result must not change
				}
			}
			dst := make([]float32, tc.n*tc.o)
			if err := Dense(dst, x, kernel, bias, tc.n, tc.k, tc.o, tc.relu); err != nil {
				t.Fatal(err)
			}
			for i := range tc.n {
				for j := range tc.o {
					s := float64(bias[j])
					for l := range tc.k {
						s += float64(x[i*tc.k+l]) * float64(kernel[l*tc.o+j])
					}
					if tc.relu {
						s = max(0, s)
					}
					if got := float64(dst[i*tc.o+j]); math.Abs(got-s) > 1e-4*(1+math.Abs(s)) {
						t.Fatalf("(%d, %d): got %g, want %g", i, j, got, s)
					}
				}
			}
		})
	}
	if err := Dense(make([]float32, 1), make([]float32, 4), make([]float32, 8), make([]float32, 2), 1, 4, 2, false); err == nil {
		t.Error("Dense accepted a destination of the wrong size")
	}
}

// TestSIMDEverywhere checks that each instruction set's kernels run
// Winograd's transforms, the dense layers and pooling in the same
// instructions, and that an amd64 or arm64 build (no build tag, no
// GOEXPERIMENT) has its assembly as the best.
func TestSIMDEverywhere(t *testing.T) {
	same := func(a, b any) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }
	for name, ks := range registered {
		if ks.simd != name || ks.wino.isa != name {
			t.Errorf("kernels %q: micro-kernel %q, Winograd's transforms %q", name, ks.simd, ks.wino.isa)
		}
		if name != "none" && (same(ks.vec.axpy, axpyGo) || same(ks.vec.maxRows, maxRowsGo)) {
			t.Errorf("kernels %q: the dense layers or pooling run portable Go", name)
		}
	}
	if want := CPUSIMD(); !purego && Best().SIMD() != want {
		t.Errorf("this %s CPU has %s, but the best kernels are %q", runtime.GOARCH, want, Best().SIMD())
	}
	var zero Kernels
	if zero.SIMD() != Best().SIMD() || !zero.Winograd() {
		t.Errorf("the zero Kernels are %v, want Best's %v", zero, Best())
	}
}

// TestDenseGrads checks DenseGrads' three gradients against float64 sums, on
// every instruction set this build and CPU have, for shapes with partial
// micro-kernel row groups and panels.
func TestDenseGrads(t *testing.T) {
	for name, ks := range registered {
		for _, tc := range []struct{ n, k, o int }{{3, 100, 70}, {32, 130, 256}, {1, 7, 10}, {65, 64, 64}} {
			t.Run(fmt.Sprintf("%s/%dx%d->%d", name, tc.n, tc.k, tc.o), func(t *testing.T) {
				r := rand.New(rand.NewPCG(7, 8))
				x, kernel, dy := randSlice(r, tc.n*tc.k), randSlice(r, tc.k*tc.o), randSlice(r, tc.n*tc.o)
				dx, dk, db := make([]float32, tc.n*tc.k), make([]float32, tc.k*tc.o), make([]float32, tc.o)
				if err := ks.DenseGrads(dx, dk, db, x, kernel, dy, tc.n, tc.k, tc.o); err != nil {
					t.Fatal(err)
				}
				near := func(what string, got float32, want float64) {
					t.Helper()
					if math.Abs(float64(got)-want) > 1e-4*(1+math.Abs(want)) {
						t.Fatalf("%s: got %g, want %g", what, got, want)
					}
				}
				for j := range tc.o {
					var s float64
					for i := range tc.n {
						s += float64(dy[i*tc.o+j])
					}
					near(fmt.Sprintf("db[%d]", j), db[j], s)
					for l := range tc.k {
						var s float64
						for i := range tc.n {
							s += float64(x[i*tc.k+l]) * float64(dy[i*tc.o+j])
						}
						near(fmt.Sprintf("dk[%d][%d]", l, j), dk[l*tc.o+j], s)
					}
				}
				for i := range tc.n {
					for l := range tc.k {
						var s float64
						for j := range tc.o {
							s += float64(dy[i*tc.o+j]) * float64(kernel[l*tc.o+j])
						}
						near(fmt.Sprintf("dx[%d][%d]", i, l), dx[i*tc.k+l], s)
					}
				}
				// Without dx, dk is the same.
				dk2 := make([]float32, len(dk))
				if err := ks.DenseGrads(nil, dk2, db, x, kernel, dy, tc.n, tc.k, tc.o); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(dk, dk2) {
					t.Error("dk differs when dx is not asked for")
				}
				// Without dk and db, dx is the same.
				dx2 := make([]float32, len(dx))
				if err := ks.DenseGrads(dx2, nil, nil, x, kernel, dy, tc.n, tc.k, tc.o); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(dx, dx2) {
					t.Error("dx differs when dk and db are not asked for")
				}
			})
		}
	}
	if err := DenseGrads(make([]float32, 3), make([]float32, 8), make([]float32, 2), make([]float32, 4), make([]float32, 8), make([]float32, 2), 1, 4, 2); err == nil {
		t.Error("DenseGrads accepted a dx of the wrong size")
	}
}
