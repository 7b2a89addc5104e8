// Package kernels holds vggnb's own CPU kernels for VGG on the pure-Go path: a
// 3x3 "same" convolution with its bias and ReLU fused, 2x2 max pooling and
// dense layers, on NHWC float32 data, and the backward pass of the
// convolution, ReLU and pooling for training (backward.go).
//
// The convolution is an indirect GEMM (as in XNNPACK): each output pixel has
// nine pointers to its input pixels (or to a row of zeros at the border), and a
// register-blocked micro-kernel multiplies them with the kernel, 64 output
// channels at a time (read in place, or packed once into 64-column panels when
// O is not a multiple of 64). No im2col matrix is written (except a few rows at a
// time for the 3-channel first layer), the bias and ReLU are applied to the
// sums before they leave the micro-kernel, and the work is split over all
// cores. The micro-kernel is Go assembly chosen at run time from the CPU's
// features (golang.org/x/sys/cpu), in any amd64 or arm64 build: with AVX-512
// it computes 6 pixels x 64 channels in 24 of the 32 vector registers
// (micro_amd64.s); with AVX2+FMA, and with NEON on arm64 (kernels_arm64.s),
// the same tile in 16-channel quarters; elsewhere, or with the purego build
// tag, a portable Go micro-kernel does the same arithmetic, slower. Winograd's
// transforms, pooling and the dense layers have assembly in the same
// instruction sets (wino_amd64.s, kernels_arm64.s).
//
// Layers with at least 16 input channels and a multiple of 64 output channels
// (all of VGG's but the first) use Winograd F(2x2, 3x3) instead by default
// (conv_winograd.go): 2.25x fewer multiplies, on the same micro-kernel.
package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// nr is the number of output channels one micro-kernel call computes (a panel).
const nr = 64

// Conv3x3 is a Conv2D(3x3, padding="same", stride 1) with bias and ReLU, its
// kernel ready for the micro-kernel.
type Conv3x3 struct {
	// C and O are the input and output channels.
	C, O int
	// b holds the kernel as rows of ldb floats, 9*C of them per panel of nr
	// output channels, the panels pstride floats apart: either the caller's
	// HWIO kernel itself (ldb O, pstride nr) or ceil(O/nr) packed panels of
	// [9*C][nr], zero past O (ldb nr, pstride 9*C*nr).
	b            []float32
	ldb, pstride int
	// bias is padded with zeros to a multiple of nr.
	bias []float32
	zero []float32
	// k are the kernels it runs on.
	k Kernels
}

// NewConv3x3 prepares a Keras HWIO kernel (3, 3, c, o), flattened, and its
// bias. When o is a multiple of 64 (all of VGG's layers) the kernel is not
// copied: the Conv3x3 reads it in place, so the caller must keep it unchanged
// while using the Conv3x3. Other kernels are packed into a copy. It runs on
// Best's kernels.
func NewConv3x3(kernel, bias []float32, c, o int) (*Conv3x3, error) {
	return Kernels{}.NewConv3x3(kernel, bias, c, o)
}

// NewConv3x3 is the package's NewConv3x3 on k.
func (k Kernels) NewConv3x3(kernel, bias []float32, c, o int) (*Conv3x3, error) {
	if c <= 0 || o <= 0 || len(kernel) != 9*c*o || len(bias) != o {
		return nil, fmt.Errorf("kernels: 3x3 conv %d->%d: kernel has %d values (want %d), bias %d (want %d)",
			c, o, len(kernel), 9*c*o, len(bias), o)
	}
	panels := (o + nr - 1) / nr
	cv := &Conv3x3{C: c, O: o, bias: make([]float32, panels*nr), zero: make([]float32, c+16), k: k.or()}
	k9 := 9 * c
	copy(cv.bias, bias)
	if o%nr == 0 {
		cv.b, cv.ldb, cv.pstride = kernel, o, nr
		return cv, nil
	}
	cv.b, cv.ldb, cv.pstride = make([]float32, panels*k9*nr), nr, k9*nr
	for p := range panels {
		for j := range k9 {
			dst := cv.b[(p*k9+j)*nr : (p*k9+j+1)*nr]
			src := kernel[j*o+p*nr : j*o+min(o, p*nr+nr)]
			copy(dst, src)
		}
	}
	return cv, nil
}

// Packed reports whether the Conv3x3 holds its own copy of the kernel (O is
// not a multiple of 64) rather than reading the caller's in place.
func (cv *Conv3x3) Packed() bool { return cv.pstride != nr }

// FLOPs is the number of floating point operations (2 per multiply-add) of
// the convolution on n images of h x w.
func (cv *Conv3x3) FLOPs(n, h, w int) int64 {
	return 2 * 9 * int64(cv.C) * int64(cv.O) * int64(n*h*w)
}

// Apply computes dst = relu(conv(src) + bias) for src (n, h, w, C) and dst
// (n, h, w, O), both NHWC and flattened.
func (cv *Conv3x3) Apply(dst, src []float32, n, h, w int) error {
	return cv.apply(dst, src, n, h, w, true)
}

// ApplyLinear computes dst = conv(src), without the bias and the ReLU: the
// input gradient of a convolution, with the kernel FlipKernel makes.
func (cv *Conv3x3) ApplyLinear(dst, src []float32, n, h, w int) error {
	return cv.apply(dst, src, n, h, w, false)
}

// apply is Apply (relu) or ApplyLinear.
func (cv *Conv3x3) apply(dst, src []float32, n, h, w int, relu bool) error {
	if len(src) != n*h*w*cv.C || len(dst) != n*h*w*cv.O {
		return fmt.Errorf("kernels: 3x3 conv %d->%d on (%d, %d, %d): src has %d values (want %d), dst %d (want %d)",
			cv.C, cv.O, n, h, w, len(src), n*h*w*cv.C, len(dst), n*h*w*cv.O)
	}
	if !cv.k.direct && cv.winogradOK() {
		cv.applyWinograd(dst, src, n, h, w, relu)
		return nil
	}
	pixels := n * h * w
	tiles := (pixels + mr - 1) / mr
	// Tiles are handed out in chunks whose input rows stay in cache while
	// every output panel is computed over them.
	chunk := max(1, min(tiles, 16384/max(cv.C, 1)/mr))
	chunks := (tiles + chunk - 1) / chunk
	// One tile per worker, reused for all the chunks it takes: 10-20% faster
	// than a tile per chunk.
	var next atomic.Int64
	ForEach(min(chunks, runtime.GOMAXPROCS(0)), func(int) {
		t := tilePool.Get().(*tile)
		t.reset(cv, src, dst, h, w)
		t.linear = !relu
		for ci := int(next.Add(1) - 1); ci < chunks; ci = int(next.Add(1) - 1) {
			t.run(ci*chunk*mr, min(pixels, (ci+1)*chunk*mr))
		}
		t.reset(nil, nil, nil, 0, 0) // keep no activations alive from the pool
		tilePool.Put(t)
	})
	return nil
}

// ForEach calls fn(0), ..., fn(n-1) on all cores (the caller's goroutine
// included), each index once, and returns when they all have.
func ForEach(n int, fn func(i int)) {
	var next atomic.Int64
	work := func() {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			fn(i)
		}
	}
	var wg sync.WaitGroup
	for range min(n, runtime.GOMAXPROCS(0)) - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// tile is one worker's state: the row pointers of a tile of mr pixels.
type tile struct {
	cv       *Conv3x3
	src, dst []float32
	h, w     int
	rows     [mr * 9][]float32 // input rows (C values) for pixel i, tap t at i*9+t
	out      [mr][]float32     // output rows (nr values) of the current panel
	scratch  []float32         // where rows past the end, or a partial last panel, are written
	// im2col is set when C is small: one long dot product per pixel beats
	// nine of a few channels. col then holds the chunk's im2col rows (9*C
	// values per pixel).
	im2col bool
	col    []float32
	// linear leaves out the bias and the ReLU (ApplyLinear).
	linear bool
}

// smallC is the channel count below which a tile gathers its neighbourhoods
// into im2col rows (VGG's first layer, on 3 colour channels).
const smallC = 16

// tilePool keeps workers' tiles, and their im2col buffers, from call to call.
var tilePool = sync.Pool{New: func() any { return &tile{scratch: make([]float32, mr*nr)} }}

// reset points a pooled tile at a new convolution.
func (t *tile) reset(cv *Conv3x3, src, dst []float32, h, w int) {
	t.cv, t.src, t.dst, t.h, t.w = cv, src, dst, h, w
	t.rows, t.out = [mr * 9][]float32{}, [mr][]float32{}
	t.im2col = cv != nil && cv.C < smallC
	t.linear = false
}

// run computes output pixels [from, to) for every panel.
func (t *tile) run(from, to int) {
	cv := t.cv
	c, o := cv.C, cv.O
	k := 9 * c
	taps := 9
	if t.im2col {
		t.gather(from, to)
		taps, c = 1, k
	}
	panels := (o + nr - 1) / nr
	for p := range panels {
		b := cv.b[p*cv.pstride:]
		bias := cv.bias[p*nr : (p+1)*nr]
		if t.linear {
			bias = nil // raw sums
		}
		full := (p+1)*nr <= o
		for px := from; px < to; px += mr {
			valid := min(mr, to-px)
			if t.im2col {
				for i := range mr {
					p := px - from + min(i, valid-1)
					t.rows[i*9] = t.col[p*k : (p+1)*k]
				}
			} else {
				t.setRows(px, valid)
			}
			for i := range mr {
				if i < valid && full {
					d := (px+i)*o + p*nr
					t.out[i] = t.dst[d : d+nr]
				} else {
					t.out[i] = t.scratch[i*nr : (i+1)*nr]
				}
			}
			t.cv.k.micro(&t.rows, taps, c, b, cv.ldb, bias, &t.out)
			if !full {
				for i := range valid {
					d := (px+i)*o + p*nr
					copy(t.dst[d:d+o-p*nr], t.scratch[i*nr:])
				}
			}
		}
	}
}

// setRows points rows at the 3x3 neighbourhoods of pixels px..px+valid-1
// (flat NHW index); rows of missing pixels repeat the last valid one.
func (t *tile) setRows(px, valid int) {
	hw := t.h * t.w
	for i := range mr {
		p := px + min(i, valid-1)
		img, r := p/hw, p%hw
		y, x := r/t.w, r%t.w
		for dy := range 3 {
			for dx := range 3 {
				t.rows[i*9+dy*3+dx] = t.cv.inputRow(t.src, t.h, t.w, img, y+dy-1, x+dx-1)
			}
		}
	}
}

// inputRow returns the C input values of pixel (y, x) of image img in src
// (n, h, w, C), or a row of zeros where (y, x) is outside the image (the
// "same" padding).
func (cv *Conv3x3) inputRow(src []float32, h, w, img, y, x int) []float32 {
	if y < 0 || y >= h || x < 0 || x >= w {
		return cv.zero[:cv.C]
	}
	s := ((img*h+y)*w + x) * cv.C
	return src[s : s+cv.C]
}

// gather writes the im2col rows of pixels [from, to) into t.col.
func (t *tile) gather(from, to int) {
	c := t.cv.C
	t.col = grow(t.col, (to-from)*9*c)
	for px := from; px < to; px += mr {
		valid := min(mr, to-px)
		t.setRows(px, valid)
		for i := range valid {
			col := t.col[(px-from+i)*9*c : (px-from+i+1)*9*c]
			for tap := range 9 {
				copy(col[tap*c:(tap+1)*c], t.rows[i*9+tap])
			}
		}
	}
}
