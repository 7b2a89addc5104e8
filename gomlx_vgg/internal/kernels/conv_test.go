package kernels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
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
		for _, conv := range []string{"direct", "winograd", "winograd2", "winograd4go"} {
			ks, err := Lookup(name, strings.TrimSuffix(conv, "4go"))
			if err != nil {
				t.Fatal(err)
			}
			if ks.SIMD() != name || ks.Winograd() != (conv != "direct") {
				t.Fatalf("Lookup(%q, %q) = %v", name, conv, ks)
			}
			if conv == "winograd4go" { // F(4x4)'s portable transforms on this micro-kernel
				ks.wino4 = wino4Go
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
		// F(4x4)'s: images of at least 16x16, tiles past the image, several
		// panels, channels not a multiple of 16, blocks of several images.
		{1, 17, 18, 40, 192},
		{2, 16, 16, 16, 64},
		{3, 17, 19, 300, 128},
		{1, 16, 17, 264, 256}, // a kernel over 256x256: blocks one after another
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
			// Within 1e-6 of the largest output (the fidelity tests allow
			// 1e-5 over a whole network): float32 sums of 9C products.
			// F(4x4)'s larger transforms: 3e-6 (measured: 1.4e-6).
			tol := 1e-6
			if strings.Contains(ks.Conv(), "F(4x4") {
				tol = 3e-6
			}
			var top float64
			for _, v := range want {
				top = max(top, math.Abs(v))
			}
			var worst float64
			for i, v := range dst {
				d := math.Abs(float64(v) - want[i])
				if !(d <= tol*top) {
					t.Fatalf("value %d: got %g, want %g: off by %.3g of the largest output (%v)", i, v, want[i], d/top, ks)
				}
				worst = max(worst, d/top)
			}
			t.Logf("%v: max error %.3g of the largest output", ks, worst)
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

// BenchmarkConv3x3Algorithms runs the best kernels with each algorithm.
func BenchmarkConv3x3Algorithms(b *testing.B) {
	for _, conv := range []string{"winograd", "winograd2", "direct"} {
		ks, err := Lookup("", conv)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(conv, func(b *testing.B) { benchConv3x3(b, ks) })
	}
}

func benchConv3x3(b *testing.B, ks Kernels) {
	for _, s := range []struct{ hw, c, o int }{{224, 3, 64}, {224, 64, 64}, {112, 128, 128}, {56, 256, 256}, {28, 512, 512}, {14, 512, 512}} {
		b.Run(fmt.Sprintf("%dx%d_%d-%d", s.hw, s.hw, s.c, s.o), func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			cv, _ := ks.NewConv3x3(randSlice(r, 9*s.c*s.o), randSlice(r, s.o), s.c, s.o)
			src := randSlice(r, s.hw*s.hw*s.c)
			dst := make([]float32, s.hw*s.hw*s.o)
			for range 2 { // F(4x4)'s transformed kernel, kept from the second call
				_ = cv.Apply(dst, src, 1, s.hw, s.hw)
			}
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

// TestTransientConv3x3: a transient convolution runs F(2x2) where its pixels
// would not repay F(4x4)'s kernel transform, and F(4x4) where they would:
// its outputs are those of the algorithm, to the bit.
func TestTransientConv3x3(t *testing.T) {
	if Best().wino4.input == nil {
		t.Skipf("the %s kernels have no F(4x4) transforms", Best().SIMD())
	}
	r := rand.New(rand.NewPCG(3, 4))
	const c, o, h, w = 32, 64, 28, 28
	kernel, bias := randSlice(r, 9*c*o), randSlice(r, o)
	f2, _ := Lookup("", "winograd2")
	for _, tc := range []struct {
		n    int
		want Kernels
	}{{1, f2}, {6, Best()}} {
		src := randSlice(r, tc.n*h*w*c)
		ref, _ := tc.want.NewConv3x3(kernel, bias, c, o)
		cv, err := Best().NewTransientConv3x3(kernel, bias, c, o)
		if err != nil {
			t.Fatal(err)
		}
		want, got := make([]float32, tc.n*h*w*o), make([]float32, tc.n*h*w*o)
		if err := errors.Join(ref.Apply(want, src, tc.n, h, w), cv.Apply(got, src, tc.n, h, w)); err != nil {
			t.Fatal(err)
		}
		exact(t, got, want)
		if uses := cv.wino4Uses.Load(); (uses == 1) != (tc.n == 6) || cv.u4 != nil {
			t.Errorf("batch %d: %d F(4x4) calls, own transformed kernel %v", tc.n, uses, cv.u4 != nil)
		}
	}
}

// TestWino4Concurrent: convolutions of several sizes called at once from
// several goroutines, first uses (the shared buffer, growing), second uses
// (each making its own kernel) and transient ones mixed, give the outputs
// of the same convolutions called one at a time. make test-race runs it
// with the race detector.
func TestWino4Concurrent(t *testing.T) {
	if Best().wino4.input == nil {
		t.Skipf("the %s kernels have no F(4x4) transforms", Best().SIMD())
	}
	const n, h, w = 1, 64, 64 // 4096 pixels: transient convolutions take F(4x4) too
	type conv struct {
		c, o         int
		kernel, bias []float32
		src, want    []float32
	}
	r := rand.New(rand.NewPCG(7, 8))
	var convs []conv
	for _, co := range [][2]int{{16, 64}, {32, 64}, {64, 128}, {48, 64}} {
		cv := conv{c: co[0], o: co[1], kernel: randSlice(r, 9*co[0]*co[1]), bias: randSlice(r, co[1]), src: randSlice(r, n*h*w*co[0])}
		ref, err := NewConv3x3(cv.kernel, cv.bias, cv.c, cv.o)
		if err != nil {
			t.Fatal(err)
		}
		cv.want = make([]float32, n*h*w*cv.o)
		if err := ref.Apply(cv.want, cv.src, n, h, w); err != nil {
			t.Fatal(err)
		}
		convs = append(convs, cv)
	}
	for round := range 3 {
		shared := make([]*Conv3x3, len(convs))
		for i, cv := range convs {
			var err error
			if round == 2 {
				shared[i], err = Best().NewTransientConv3x3(cv.kernel, cv.bias, cv.c, cv.o)
			} else {
				shared[i], err = NewConv3x3(cv.kernel, cv.bias, cv.c, cv.o)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 3*len(convs)*3)
		for range 3 {
			for i, cv := range convs {
				wg.Go(func() {
					for call := range 3 {
						got := make([]float32, n*h*w*cv.o)
						if err := shared[i].Apply(got, cv.src, n, h, w); err != nil {
							errs <- err
							return
						}
						for j := range got {
							if math.Float32bits(got[j]) != math.Float32bits(cv.want[j]) {
								errs <- fmt.Errorf("round %d, conv %d->%d, call %d: value %d is %g, want %g", round, cv.c, cv.o, call, j, got[j], cv.want[j])
								return
							}
						}
					}
				})
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
}

// TestWino4KernelKept: a convolution's first F(4x4) call transforms its
// kernel into the shared buffer, the second makes its own and keeps it, and
// all calls give the same outputs, to the bit, also when another
// convolution's kernel has been in the shared buffer in between.
func TestWino4KernelKept(t *testing.T) {
	if Best().wino4.input == nil {
		t.Skipf("the %s kernels have no F(4x4) transforms", Best().SIMD())
	}
	r := rand.New(rand.NewPCG(5, 6))
	const n, c, o, h, w = 1, 32, 64, 20, 24
	cv, err := NewConv3x3(randSlice(r, 9*c*o), randSlice(r, o), c, o)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewConv3x3(randSlice(r, 9*c*o), randSlice(r, o), c, o)
	if err != nil {
		t.Fatal(err)
	}
	src := randSlice(r, n*h*w*c)
	var first []float32
	for call := range 3 {
		got := make([]float32, n*h*w*o)
		if err := cv.Apply(got, src, n, h, w); err != nil {
			t.Fatal(err)
		}
		if own := cv.u4 != nil; own != (call > 0) {
			t.Errorf("call %d: own transformed kernel %v", call+1, own)
		}
		if call == 0 {
			first = got
			scratch := make([]float32, n*h*w*o)
			if err := other.Apply(scratch, src, n, h, w); err != nil {
				t.Fatal(err)
			}
			continue
		}
		exact(t, got, first)
	}
	if uses := cv.wino4Uses.Load(); uses != 3 {
		t.Errorf("%d F(4x4) calls, want 3", uses)
	}
}
