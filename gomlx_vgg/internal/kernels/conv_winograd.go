package kernels

import (
	"math"
	"runtime"
	"sync"
)

// Winograd F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2016): each 2x2 block of output pixels (a tile) is computed
// from the 4x4 input pixels around it as
//
//	Y = Aᵀ [ Σ_c (G g_c Gᵀ) ⊙ (Bᵀ d_c B) ] A
//
// with g_c the 3x3 kernel of input channel c and d_c the 4x4 input. The sum
// over channels is 16 independent GEMMs (one per position ξ of the 4x4
// transformed tile) of 16 multiply-adds per tile and channel pair, where the
// direct convolution does 4 x 9 = 36: 2.25x fewer. The GEMMs run on the same
// micro-kernel as the direct convolution (one tap, K = C), the transforms are
// additions (and halvings, for the kernel), vectorised across channels.
//
// Nothing is kept between calls: the transformed kernel (16/9 the size of the
// kernel) is made per call, one 64-channel panel at a time, so the memory
// stays that of the direct convolution. Its cost is small against the GEMM's
// (it is done once per panel and call, the GEMM once per tile).
//
// The float32 rounding is close to the direct convolution's: each ξ's sum
// over channels is one dot product (as is each tap's in the direct
// convolution), and the transforms add at most 4 (input), 9 (kernel, halved)
// and 9 (output) values.

// winogradTarget is the number of transformed-input floats (tiles x C) one
// block aims at, per ξ: the block's 16 x that stay in L2 while its GEMMs run.
const winogradTarget = 12288

// winogradOK reports whether the Winograd path suits this convolution.
func (cv *Conv3x3) winogradOK() bool { return cv.C >= smallC && cv.O%nr == 0 }

// winoTransforms are Winograd's three transforms, in one instruction set.
type winoTransforms struct {
	// isa names the instructions they use, as SIMD does.
	isa string
	// input writes Bᵀ d B for channels [from, c) of one tile: d[i*4+j] is the
	// input pixel at row i, column j of the 4x4 tile (C values), and v[ξ*c+k]
	// the transformed value ξ of channel k.
	input func(v []float32, d *[16][]float32, c, from int)
	// output writes max(floor, Aᵀ M A + bias) for one tile and panel (floor
	// 0: the ReLU; -Inf: none): m[ξ*nr+j] is the GEMM's sum ξ for output
	// channel j, y[i*2+j] the output pixel at row i, column j of the 2x2 tile
	// (nr values).
	output func(y *[4][]float32, m []float32, bias []float32, floor float32)
	// kernel writes G g Gᵀ for one input channel and panel: g[t] is the
	// kernel's row for tap t (nr output channels), u[ξ*us+j] the transformed
	// value ξ for output channel j.
	kernel func(u []float32, us int, g *[9][]float32)
}

// winoGo are the transforms in portable Go.
var winoGo = winoTransforms{"none", winoInputGo, winoOutputGo, winoKernelGo}

// winoInputGo is winoTransforms.input in portable Go.
func winoInputGo(v []float32, d *[16][]float32, c, from int) {
	v = v[:16*c]
	for k := from; k < c; k++ {
		var t [16]float32
		for j := range 4 { // Bᵀ d, column j
			d0, d1, d2, d3 := d[j][k], d[4+j][k], d[8+j][k], d[12+j][k]
			t[j], t[4+j], t[8+j], t[12+j] = d0-d2, d1+d2, d2-d1, d1-d3
		}
		for i := range 4 { // (Bᵀ d) B, row i
			t0, t1, t2, t3 := t[i*4], t[i*4+1], t[i*4+2], t[i*4+3]
			v[(i*4)*c+k], v[(i*4+1)*c+k], v[(i*4+2)*c+k], v[(i*4+3)*c+k] = t0-t2, t1+t2, t2-t1, t1-t3
		}
	}
}

// winoOutputGo is winoTransforms.output in portable Go.
func winoOutputGo(y *[4][]float32, m []float32, bias []float32, floor float32) {
	m, bias = m[:16*nr], bias[:nr]
	y0, y1, y2, y3 := y[0][:nr], y[1][:nr], y[2][:nr], y[3][:nr]
	for k := range nr {
		var s [8]float32 // Aᵀ M: two rows of four
		for j := range 4 {
			m0, m1, m2, m3 := m[j*nr+k], m[(4+j)*nr+k], m[(8+j)*nr+k], m[(12+j)*nr+k]
			s[j], s[4+j] = m0+m1+m2, m1-m2-m3
		}
		b := bias[k]
		y0[k] = max(floor, s[0]+s[1]+s[2]+b)
		y1[k] = max(floor, s[1]-s[2]-s[3]+b)
		y2[k] = max(floor, s[4]+s[5]+s[6]+b)
		y3[k] = max(floor, s[5]-s[6]-s[7]+b)
	}
}

// winoKernelGo is winoTransforms.kernel in portable Go.
func winoKernelGo(u []float32, us int, g *[9][]float32) {
	_ = u[15*us+nr-1]
	for k := range nr {
		var a [12]float32 // G g: four rows of three
		for j := range 3 {
			g0, g1, g2 := g[j][k], g[3+j][k], g[6+j][k]
			a[j], a[3+j], a[6+j], a[9+j] = g0, (g0+g1+g2)*0.5, (g0-g1+g2)*0.5, g2
		}
		for i := range 4 { // (G g) Gᵀ, row i
			a0, a1, a2 := a[i*3], a[i*3+1], a[i*3+2]
			u[(i*4)*us+k], u[(i*4+1)*us+k], u[(i*4+2)*us+k], u[(i*4+3)*us+k] = a0, (a0+a1+a2)*0.5, (a0-a1+a2)*0.5, a2
		}
	}
}

// winoWork is one worker's buffers for Winograd.
type winoWork struct {
	v, m, u []float32 // transformed inputs [T][16][C], GEMM sums [T][16][nr], kernel [16][C][nr]
	scratch []float32 // where rows past the tiles, or pixels past the image, go
	rows    [mr * 9][]float32
	out     [mr][]float32
	d       [16][]float32
	y       [4][]float32
}

var winoPool = sync.Pool{New: func() any { return &winoWork{scratch: make([]float32, mr*nr)} }}

// grow returns s with length n, reallocated if it is shorter.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return MakeLarge(n)
	}
	return s[:n]
}

// winoConv is one call's geometry.
type winoConv struct {
	cv           *Conv3x3
	floor        float32 // 0: the ReLU; -Inf: a linear convolution
	dst, src     []float32
	h, w, th, tw int
	tiles, block int // tiles in all; per block, a multiple of mr
}

// applyWinograd is Apply with Winograd F(2x2, 3x3) (winogradOK must hold).
// When the panels split evenly over the cores (a multiple of them, or many)
// each worker takes whole panels, transforming its own kernel panel; else the
// panels run one after another, their kernel transformed by all workers, then
// their tiles split.
func (cv *Conv3x3) applyWinograd(dst, src []float32, n, h, w int, relu bool) {
	th, tw := (h+1)/2, (w+1)/2
	wc := &winoConv{cv: cv, dst: dst, src: src, h: h, w: w, th: th, tw: tw, tiles: n * th * tw}
	if !relu {
		wc.floor = float32(math.Inf(-1))
	}
	wc.block = max(mr, winogradTarget/cv.C/mr*mr)
	blocks := (wc.tiles + wc.block - 1) / wc.block
	panels := cv.O / nr
	workers := runtime.GOMAXPROCS(0)
	if panels >= workers && (panels%workers == 0 || panels >= 4*workers) {
		ForEach(panels, func(p int) {
			ww := winoPool.Get().(*winoWork)
			ww.u = grow(ww.u, 16*cv.C*nr)
			wc.kernel(ww.u, p, 0, cv.C)
			for b := range blocks {
				wc.run(ww, ww.u, p, b)
			}
			winoPool.Put(ww)
		})
		return
	}
	if blocks < 4*workers { // few tiles: smaller blocks, so that all cores get some
		wc.block = max(mr, (wc.tiles+workers*mr-1)/(workers*mr)*mr)
		blocks = (wc.tiles + wc.block - 1) / wc.block
	}
	shared := winoPool.Get().(*winoWork)
	u := grow(shared.u, 16*cv.C*nr)
	const step = 32 // input channels per kernel transform job
	for p := range panels {
		ForEach((cv.C+step-1)/step, func(i int) { wc.kernel(u, p, i*step, min(cv.C, (i+1)*step)) })
		ForEach(blocks, func(b int) {
			ww := winoPool.Get().(*winoWork)
			wc.run(ww, u, p, b)
			winoPool.Put(ww)
		})
	}
	shared.u = u
	winoPool.Put(shared)
}

// kernel transforms input channels [from, to) of panel p into u ([16][C][nr]).
func (wc *winoConv) kernel(u []float32, p, from, to int) {
	cv := wc.cv
	us := cv.C * nr
	var g [9][]float32
	for c := from; c < to; c++ {
		cv.kernelTaps(&g, p, c)
		cv.k.wino.kernel(u[c*nr:], us, &g)
	}
}

// kernelTaps points g[t] at the kernel's row for tap t, input channel ch and
// panel p (nr output channels): what the kernel transforms read.
func (cv *Conv3x3) kernelTaps(g *[9][]float32, p, ch int) {
	for t := range 9 {
		r := p*cv.pstride + (t*cv.C+ch)*cv.ldb
		g[t] = cv.b[r : r+nr]
	}
}

// tileInputs points d[i*a+j] at the input pixel (y0+i, x0+j) of image img
// (a zero row outside it): the a x a input tile the input transforms read.
func (cv *Conv3x3) tileInputs(d []([]float32), a int, src []float32, h, w, img, y0, x0 int) {
	for i := range a {
		for j := range a {
			d[i*a+j] = cv.inputRow(src, h, w, img, y0+i, x0+j)
		}
	}
}

// tileOutputs points y[i*m+j] at output pixel (y0+i, x0+j) of image img in
// dst, panel p (nr channels), or at scratch past the image: the m x m output
// tile the output transforms write.
func (cv *Conv3x3) tileOutputs(y []([]float32), m int, dst, scratch []float32, h, w, img, y0, x0, p int) {
	for i := range m {
		for j := range m {
			yy, xx := y0+i, x0+j
			if yy >= h || xx >= w {
				y[i*m+j] = scratch[(i*m+j)*nr:][:nr]
				continue
			}
			d := ((img*h+yy)*w+xx)*cv.O + p*nr
			y[i*m+j] = dst[d : d+nr]
		}
	}
}

// run computes block b's tiles for panel p, with u the panel's transformed kernel.
func (wc *winoConv) run(ww *winoWork, u []float32, p, b int) {
	cv := wc.cv
	c := cv.C
	from := b * wc.block
	nt := min(wc.tiles, from+wc.block) - from
	ww.v = grow(ww.v, nt*16*c)
	ww.m = grow(ww.m, nt*16*nr)
	hw := wc.th * wc.tw
	for t := range nt { // Bᵀ d B
		img, r := (from+t)/hw, (from+t)%hw
		cv.tileInputs(ww.d[:], 4, wc.src, wc.h, wc.w, img, 2*(r/wc.tw)-1, 2*(r%wc.tw)-1)
		cv.k.wino.input(ww.v[t*16*c:], &ww.d, c, 0)
	}
	cv.winoGEMMs(&ww.rows, &ww.out, ww.scratch, ww.m, ww.v, u, 16, nt, 1)
	bias := cv.bias[p*nr : (p+1)*nr]
	for t := range nt { // max(floor, Aᵀ M A + bias)
		img, r := (from+t)/hw, (from+t)%hw
		cv.tileOutputs(ww.y[:], 2, wc.dst, ww.scratch, wc.h, wc.w, img, 2*(r/wc.tw), 2*(r%wc.tw), p)
		cv.k.wino.output(&ww.y, ww.m[t*16*nr:], bias, wc.floor)
	}
	ww.d, ww.y = [16][]float32{}, [4][]float32{} // keep no activations alive from the pool
	ww.rows, ww.out = [mr * 9][]float32{}, [mr][]float32{}
}

// winoGEMMs computes M[ξ] = V[ξ] U[ξ] for each of the xis positions ξ of nt
// tiles, mr tiles at a time on the micro-kernel: v holds the tiles'
// transformed inputs ([nt][xis][C]), u a panel's transformed kernel
// ([xis][C][nr]), m gets the sums ([nt][xis][nr]). Each sum over the C
// channels runs in taps parts (C a multiple of taps), added at the end.
func (cv *Conv3x3) winoGEMMs(rows *[mr * 9][]float32, out *[mr][]float32, scratch, m, v, u []float32, xis, nt, taps int) {
	c := cv.C
	cs := c / taps
	for xi := range xis {
		uxi := u[xi*c*nr : (xi+1)*c*nr]
		for t0 := 0; t0 < nt; t0 += mr {
			valid := min(mr, nt-t0)
			for i := range mr {
				if i < valid {
					out[i] = m[((t0+i)*xis+xi)*nr:][:nr]
				} else {
					out[i] = scratch[i*nr : (i+1)*nr]
				}
				t := t0 + min(i, valid-1)
				for k := range taps {
					rows[i*9+k] = v[(t*xis+xi)*c+k*cs:][:cs]
				}
			}
			cv.k.micro(rows, taps, cs, uxi, nr, nil, out)
		}
	}
}
