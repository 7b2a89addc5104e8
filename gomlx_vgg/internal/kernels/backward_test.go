package kernels

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// refConv3x3Grads is the textbook kernel, bias and input gradients of a 3x3
// "same" convolution for the output gradient dz (before the ReLU), in float64.
func refConv3x3Grads(x, kernel, dz []float32, n, h, w, c, o int) (dk, db, dx []float64) {
	dk, db, dx = make([]float64, 9*c*o), make([]float64, o), make([]float64, n*h*w*c)
	for img := range n {
		for y := range h {
			for xx := range w {
				g := dz[((img*h+y)*w+xx)*o:][:o]
				for j := range o {
					db[j] += float64(g[j])
				}
				for t := range 9 {
					yy, xi := y+t/3-1, xx+t%3-1
					if yy < 0 || yy >= h || xi < 0 || xi >= w {
						continue
					}
					in := ((img*h+yy)*w + xi) * c
					for i := range c {
						for j := range o {
							dk[(t*c+i)*o+j] += float64(x[in+i]) * float64(g[j])
							dx[in+i] += float64(kernel[(t*c+i)*o+j]) * float64(g[j])
						}
					}
				}
			}
		}
	}
	return dk, db, dx
}

// maxRelErr is max |got-want| / max |want|.
func maxRelErr(got []float32, want []float64) float64 {
	var diff, scale float64
	for i, w := range want {
		diff = max(diff, math.Abs(float64(got[i])-w))
		scale = max(scale, math.Abs(w))
	}
	return diff / scale
}

// TestConv3x3Backward checks the kernel and bias gradients (Conv3x3Grads)
// and the input gradient (ApplyLinear with FlipKernel's kernel, direct and
// Winograd) with every micro-kernel against the textbook gradients.
func TestConv3x3Backward(t *testing.T) {
	cases := []struct{ n, h, w, c, o int }{
		{1, 5, 7, 3, 64},     // VGG's first layer: 27 kernel rows, not a multiple of 6
		{2, 6, 4, 16, 32},    // a partial panel; taps must not cross images
		{1, 1, 1, 8, 64},     // all taps but the centre are padding
		{3, 9, 11, 33, 70},   // odd sizes everywhere
		{2, 12, 10, 64, 128}, // the input gradient on Winograd (o >= 16, c = 64)
		{4, 20, 21, 24, 64},  // more padded positions than one chunk per core
		{3, 61, 70, 5, 64},   // several bands a core, cut inside images
	}
	for name := range registered {
		for _, conv := range []string{"direct", "winograd"} {
			ks, err := Lookup(name, conv)
			if err != nil {
				t.Fatal(err)
			}
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/%s/%v", name, conv, tc), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(tc.c), uint64(tc.o)))
					x := randSlice(r, tc.n*tc.h*tc.w*tc.c)
					kernel := randSlice(r, 9*tc.c*tc.o)
					dz := randSlice(r, tc.n*tc.h*tc.w*tc.o)
					wantK, wantB, wantX := refConv3x3Grads(x, kernel, dz, tc.n, tc.h, tc.w, tc.c, tc.o)
					dk, db := make([]float32, 9*tc.c*tc.o), make([]float32, tc.o)
					// Garbage in the outputs and a pooled buffer used before
					// by another shape must not leak into the sums.
					for i := range dk {
						dk[i] = float32(math.NaN())
					}
					if err := ks.Conv3x3Grads(dk, db, x, dz, tc.n, tc.h, tc.w, tc.c, tc.o); err != nil {
						t.Fatal(err)
					}
					flipped := make([]float32, len(kernel))
					if err := FlipKernel(flipped, kernel, tc.c, tc.o); err != nil {
						t.Fatal(err)
					}
					back, err := ks.NewConv3x3(flipped, make([]float32, tc.c), tc.o, tc.c)
					if err != nil {
						t.Fatal(err)
					}
					dx := make([]float32, len(x))
					if err := back.ApplyLinear(dx, dz, tc.n, tc.h, tc.w); err != nil {
						t.Fatal(err)
					}
					for _, e := range []struct {
						what string
						got  []float32
						want []float64
					}{{"kernel", dk, wantK}, {"bias", db, wantB}, {"input", dx, wantX}} {
						if rel := maxRelErr(e.got, e.want); !(rel < 2e-6) {
							t.Errorf("%s gradient: max error %.3g of the largest value, want < 2e-6", e.what, rel)
						}
					}
				})
			}
		}
	}
}

// TestMaxPool2x2Grad checks MaxPool2x2Grad on every instruction set against
// the first maximum of each window, with ties (as after a ReLU), odd sizes and
// channels past the vector widths.
func TestMaxPool2x2Grad(t *testing.T) {
	for name, ks := range registered {
		for _, tc := range []struct{ n, h, w, c int }{{1, 4, 4, 3}, {2, 5, 7, 17}, {1, 2, 2, 64}, {1, 6, 4, 80}} {
			r := rand.New(rand.NewPCG(uint64(tc.h), uint64(tc.c)))
			x := randSlice(r, tc.n*tc.h*tc.w*tc.c)
			// Ties, as after a ReLU: the first in row-major order gets the gradient.
			for i := range x {
				if x[i] < 0 {
					x[i] = 0
				}
			}
			ho, wo := tc.h/2, tc.w/2
			dy := randSlice(r, tc.n*ho*wo*tc.c)
			dx := randSlice(r, len(x)) // garbage: every value must be written
			if err := ks.MaxPool2x2Grad(dx, dy, x, tc.n, tc.h, tc.w, tc.c); err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(x))
			for img := range tc.n {
				for y := range ho {
					for xo := range wo {
						for ch := range tc.c {
							best := -1
							for k := range 4 {
								i := ((img*tc.h+2*y+k/2)*tc.w+2*xo+k%2)*tc.c + ch
								if best < 0 || x[i] > x[best] {
									best = i
								}
							}
							want[best] = dy[((img*ho+y)*wo+xo)*tc.c+ch]
						}
					}
				}
			}
			for i := range want {
				if dx[i] != want[i] {
					t.Fatalf("%s %v: dx[%d] = %g, want %g", name, tc, i, dx[i], want[i])
				}
			}
		}
	}
	if err := MaxPool2x2Grad(make([]float32, 16), make([]float32, 3), make([]float32, 16), 1, 4, 4, 1); err == nil {
		t.Error("a dy of the wrong size is accepted")
	}
}

// BenchmarkMaxPool2x2Grad is block1_pool's gradient on a fine-tuning batch
// (8 images of 160x160x64) on each instruction set; GB/s of x, dy and dx.
func BenchmarkMaxPool2x2Grad(b *testing.B) {
	const n, h, w, c = 8, 160, 160, 64
	r := rand.New(rand.NewPCG(1, 2))
	x, dy, dx := randSlice(r, n*h*w*c), randSlice(r, n*h*w*c/4), make([]float32, n*h*w*c)
	for _, name := range slices.Sorted(maps.Keys(registered)) {
		b.Run(name, func(b *testing.B) {
			ks := registered[name]
			b.SetBytes(int64(4 * (len(x) + len(dy) + len(dx))))
			for b.Loop() {
				if err := ks.MaxPool2x2Grad(dx, dy, x, n, h, w, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestReluGrad checks ReluGrad on every instruction set: dy kept where y is
// positive, zero where y is zero (of either sign), negative or a NaN, on
// lengths around the vector widths.
func TestReluGrad(t *testing.T) {
	y := []float32{1, 0, -2, float32(math.NaN()), 3}
	dy := []float32{5, 6, 7, 8, 9}
	if err := ReluGrad(dy, y); err != nil {
		t.Fatal(err)
	}
	if want := []float32{5, 0, 0, 0, 9}; fmt.Sprint(dy) != fmt.Sprint(want) {
		t.Errorf("ReluGrad = %v, want %v", dy, want)
	}
	for name, ks := range registered {
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 100, 1<<16 + 5} {
			r := rand.New(rand.NewPCG(uint64(n), 3))
			y, dy := randSlice(r, n), randSlice(r, n)
			for i := range y {
				y[i] = []float32{y[i], 0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1))}[i%5]
			}
			want := slices.Clone(dy)
			for i := range want {
				if !(y[i] > 0) {
					want[i] = 0
				}
			}
			if err := ks.ReluGrad(dy, y); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Float32bits(dy[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%s, %d values: dy[%d] = %g for y %g, want %g", name, n, i, dy[i], y[i], want[i])
				}
			}
		}
	}
}

// BenchmarkConv3x3Grads is the kernel and bias gradients of VGG16's layers on
// a fine-tuning batch (8 images of 160x160); GFLOP/s as the forward pass's.
func BenchmarkConv3x3Grads(b *testing.B) {
	for _, l := range []struct{ h, c, o int }{{160, 3, 64}, {160, 64, 64}, {80, 128, 128}, {40, 256, 256}, {20, 512, 512}, {10, 512, 512}} {
		b.Run(fmt.Sprintf("%dx%d_%d-%d", l.h, l.h, l.c, l.o), func(b *testing.B) {
			const n = 8
			r := rand.New(rand.NewPCG(1, 2))
			x, dz := randSlice(r, n*l.h*l.h*l.c), randSlice(r, n*l.h*l.h*l.o)
			dk, db := make([]float32, 9*l.c*l.o), make([]float32, l.o)
			for b.Loop() {
				if err := Conv3x3Grads(dk, db, x, dz, n, l.h, l.h, l.c, l.o); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(2*9*l.c*l.o*n*l.h*l.h)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestGram checks Gram against float64 sums on every instruction set, with a
// partial last chunk of positions and channels that are not a multiple of 64.
func TestGram(t *testing.T) {
	for name, ks := range registered {
		for _, tc := range []struct{ n, c int }{{1300, 64}, {37, 3}, {600, 70}} {
			t.Run(fmt.Sprintf("%s/%dx%d", name, tc.n, tc.c), func(t *testing.T) {
				r := rand.New(rand.NewPCG(9, 10))
				f := randSlice(r, tc.n*tc.c)
				dst := make([]float32, tc.c*tc.c)
				if err := ks.Gram(dst, f, tc.n, tc.c); err != nil {
					t.Fatal(err)
				}
				for i := range tc.c {
					for j := range tc.c {
						var s, abs float64 // float32 rounding scales with the terms' sizes
						for p := range tc.n {
							v := float64(f[p*tc.c+i]) * float64(f[p*tc.c+j])
							s, abs = s+v, abs+math.Abs(v)
						}
						if got := float64(dst[i*tc.c+j]); math.Abs(got-s) > 1e-6*abs {
							t.Fatalf("(%d, %d): got %g, want %g", i, j, got, s)
						}
					}
				}
			})
		}
	}
	if err := Gram(make([]float32, 3), make([]float32, 8), 4, 2); err == nil {
		t.Error("Gram accepted a dst of the wrong size")
	}
}
