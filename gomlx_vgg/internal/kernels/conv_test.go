package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"testing"
	"time"
)

// refConv3x3 is the textbook definition, in float64.
func refConv3x3(src, kernel, bias []float32, n, h, w, c, o int) []float64 {
	out := make([]float64, n*h*w*o)
	for img := range n {
		for y := range h {
			for x := range w {
				for oc := range o {
					s := float64(bias[oc])
					for dy := range 3 {
						for dx := range 3 {
							yy, xx := y+dy-1, x+dx-1
							if yy < 0 || yy >= h || xx < 0 || xx >= w {
								continue
							}
							for ic := range c {
								s += float64(src[((img*h+yy)*w+xx)*c+ic]) * float64(kernel[((dy*3+dx)*c+ic)*o+oc])
							}
						}
					}
					out[((img*h+y)*w+x)*o+oc] = max(0, s)
				}
			}
		}
	}
	return out
}

func randSlice(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

// TestConv3x3 checks every micro-kernel this build and CPU have (the portable
// one always), direct and with Winograd (with the transforms of the same
// instruction set), against the textbook convolution.
func TestConv3x3(t *testing.T) {
	for name := range registered {
		for _, conv := range []string{"direct", "winograd"} {
			ks, err := Lookup(name, conv)
			if err != nil {
				t.Fatal(err)
			}
			if ks.SIMD() != name || ks.Winograd() != (conv == "winograd") {
				t.Fatalf("Lookup(%q, %q) = %v", name, conv, ks)
			}
			t.Run(name+"/"+conv, func(t *testing.T) { testConv3x3(t, ks) })
		}
	}
	if len(registered) < 2 && runtime.GOARCH == "amd64" {
		t.Logf("only the portable micro-kernel is built (GOEXPERIMENT=%q)", os.Getenv("GOEXPERIMENT"))
	}
}

func testConv3x3(t *testing.T, ks Kernels) {
	cases := []struct{ n, h, w, c, o int }{
		{1, 5, 7, 3, 64},   // VGG's first layer shape, pixels not a multiple of the tile
		{2, 6, 4, 16, 32},  // batch: neighbourhoods must not cross images
		{1, 3, 3, 5, 40},   // a partial last panel
		{1, 1, 1, 8, 32},   // all taps but the centre are padding
		{3, 9, 11, 33, 70}, // odd sizes everywhere
		{2, 5, 6, 7, 128},  // two panels read in place from the kernel
		// Winograd's: odd sizes (tiles past the image), channels not a
		// multiple of 16, several panels, and a batch whose tiles fill
		// several blocks.
		{2, 7, 9, 37, 128},
		{1, 4, 4, 16, 64},
		{1, 1, 3, 20, 192},
		{3, 30, 31, 48, 64},
		{2, 28, 28, 256, 64}, // blocks of the target size, more than 4 per core
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%dx%dx%dx%d->%d", tc.n, tc.h, tc.w, tc.c, tc.o), func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, uint64(tc.c)))
			src := randSlice(r, tc.n*tc.h*tc.w*tc.c)
			kernel := randSlice(r, 9*tc.c*tc.o)
			bias := randSlice(r, tc.o)
			cv, err := ks.NewConv3x3(kernel, bias, tc.c, tc.o)
			if err != nil {
				t.Fatal(err)
			}
			if cv.Packed() != (tc.o%nr != 0) {
				t.Fatalf("Packed() = %v for %d output channels", cv.Packed(), tc.o)
			}
			dst := make([]float32, tc.n*tc.h*tc.w*tc.o)
			for i := range dst {
				dst[i] = float32(math.NaN()) // every value must be written
			}
			if err := cv.Apply(dst, src, tc.n, tc.h, tc.w); err != nil {
				t.Fatal(err)
			}
			want := refConv3x3(src, kernel, bias, tc.n, tc.h, tc.w, tc.c, tc.o)
			for i, v := range dst {
				if d := math.Abs(float64(v) - want[i]); !(d <= 1e-4*(1+math.Abs(want[i]))) {
					t.Fatalf("value %d: got %g, want %g (%v)", i, v, want[i], ks)
				}
			}
		})
	}
}

func TestConv3x3Errors(t *testing.T) {
	if _, err := NewConv3x3(make([]float32, 10), make([]float32, 2), 3, 2); err == nil {
		t.Error("NewConv3x3 accepted a kernel of the wrong size")
	}
	cv, err := NewConv3x3(make([]float32, 9*2*3), make([]float32, 3), 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := cv.Apply(make([]float32, 4), make([]float32, 2), 1, 1, 1); err == nil {
		t.Error("Apply accepted a destination of the wrong size")
	}
}

// BenchmarkConv3x3 runs VGG19's convolution shapes at 224x224 with the
// micro-kernel this CPU gets; BenchmarkConv3x3Kernels with each of them.
func BenchmarkConv3x3(b *testing.B) { benchConv3x3(b, Best()) }

func BenchmarkConv3x3Kernels(b *testing.B) {
	for name, ks := range registered {
		b.Run(name, func(b *testing.B) { benchConv3x3(b, ks) })
	}
}

func benchConv3x3(b *testing.B, ks Kernels) {
	for _, s := range []struct{ hw, c, o int }{{224, 3, 64}, {224, 64, 64}, {112, 128, 128}, {56, 256, 256}, {28, 512, 512}, {14, 512, 512}} {
		b.Run(fmt.Sprintf("%dx%d_%d-%d", s.hw, s.hw, s.c, s.o), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			cv, _ := ks.NewConv3x3(randSlice(r, 9*s.c*s.o), randSlice(r, s.o), s.c, s.o)
			src := randSlice(r, s.hw*s.hw*s.c)
			dst := make([]float32, s.hw*s.hw*s.o)
			b.ResetTimer()
			for b.Loop() {
				_ = cv.Apply(dst, src, 1, s.hw, s.hw)
			}
			b.ReportMetric(float64(cv.FLOPs(1, s.hw, s.hw))*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestFMAPeak checks the peak is measured where the AVX-512 micro-kernel is
// used, and only there.
func TestFMAPeak(t *testing.T) {
	peak := FMAPeak(1, 50*time.Millisecond)
	if Best().SIMD() != "AVX-512" {
		if peak != 0 {
			t.Fatalf("FMAPeak = %g without the AVX-512 micro-kernel, want 0", peak)
		}
		return
	}
	if peak <= 0 {
		t.Fatalf("FMAPeak = %g", peak)
	}
	t.Logf("one core: %.1f GFLOP/s", peak)
}
