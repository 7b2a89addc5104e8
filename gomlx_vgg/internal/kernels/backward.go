package kernels

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/vggnb/vggnb/internal/parallel"
)

// The backward pass of VGG's layers, for training on the pure-Go path: the
// gradients of a 3x3 "same" convolution's kernel and bias (Conv3x3Grads), of
// its input (ApplyLinear with FlipKernel's kernel), of the ReLU (ReluGrad)
// and of 2x2 max pooling (MaxPool2x2Grad). All NHWC float32, as the forward
// kernels.

// FlipKernel writes into dst the kernel of a 3x3 "same" convolution's input
// gradient: for k (3, 3, c, o) HWIO, dst (3, 3, o, c) with
// dst[ky][kx][j][i] = k[2-ky][2-kx][i][j] (flipped in space, its channel axes
// swapped). The input gradient is then NewConv3x3(dst, zeros, o, c).ApplyLinear
// on the output gradient.
func FlipKernel(dst, k []float32, c, o int) error {
	if len(k) != 9*c*o || len(dst) != 9*c*o {
		return fmt.Errorf("kernels: flipping a 3x3 kernel %d->%d: kernel has %d values, dst %d (want %d)", c, o, len(k), len(dst), 9*c*o)
	}
	transpose := Kernels{}.or().vec.transpose
	// By tap and band of input channels, at least two a core.
	bands := max(1, min(c/16, (4*runtime.GOMAXPROCS(0)+8)/9))
	ForEach(9*bands, func(i int) {
		t, band := i/bands, i%bands
		i0, i1 := band*c/bands, (band+1)*c/bands
		src := k[(8-t)*c*o : (9-t)*c*o]
		out := dst[t*c*o : (t+1)*c*o]
		transpose(out[i0:], c, src[i0*o:], o, i1-i0, o)
	})
	return nil
}

// transposeGo sets dst[j*ldd+i] = src[i*lds+j] for i < rows, j < cols
// (vectorOps.transpose), in 16 x 16 blocks.
func transposeGo(dst []float32, ldd int, src []float32, lds, rows, cols int) {
	const b = 16
	for i0 := 0; i0 < rows; i0 += b {
		for j0 := 0; j0 < cols; j0 += b {
			for i := i0; i < min(rows, i0+b); i++ {
				for j := j0; j < min(cols, j0+b); j++ {
					dst[j*ldd+i] = src[i*lds+j]
				}
			}
		}
	}
}

// ReluGrad sets dy to zero wherever the ReLU's output y is not positive: dy,
// the gradient with respect to relu(z), becomes the gradient with respect to
// z. It runs on Best's kernels.
func ReluGrad(dy, y []float32) error { return Kernels{}.ReluGrad(dy, y) }

// ReluGrad is the package's ReluGrad on k.
func (k Kernels) ReluGrad(dy, y []float32) error {
	if len(dy) != len(y) {
		return fmt.Errorf("kernels: ReLU gradient of %d values for %d outputs", len(dy), len(y))
	}
	f := k.or().vec.reluGrad
	parallel.Ranges(len(dy), 1<<16, func(from, to int) { f(dy[from:to], y[from:to]) })
	return nil
}

// reluGradGo is vectorOps.reluGrad in portable Go: dy[i] = 0 where y[i] > 0
// does not hold (NaNs included).
func reluGradGo(dy, y []float32) {
	y = y[:len(dy)]
	for j, yv := range y {
		if !(yv > 0) {
			dy[j] = 0
		}
	}
}

// MaxPool2x2Grad is MaxPool2x2's input gradient: dx (n, h, w, c) is zero but
// where a window's first maximum in row-major order is (TensorFlow's and
// PyTorch's choice when values tie, as after a ReLU), which gets the window's
// output gradient from dy (n, h/2, w/2, c); x is the pooling's input. An odd
// last row or column (dropped by the pooling) gets zeros. It runs on Best's
// kernels.
func MaxPool2x2Grad(dx, dy, x []float32, n, h, w, c int) error {
	return Kernels{}.MaxPool2x2Grad(dx, dy, x, n, h, w, c)
}

// MaxPool2x2Grad is the package's MaxPool2x2Grad on k.
func (k Kernels) MaxPool2x2Grad(dx, dy, x []float32, n, h, w, c int) error {
	ho, wo := h/2, w/2
	if len(x) != n*h*w*c || len(dx) != len(x) || len(dy) != n*ho*wo*c {
		return fmt.Errorf("kernels: 2x2 max pool gradient on (%d, %d, %d, %d): x has %d values (want %d), dx %d, dy %d (want %d)",
			n, h, w, c, len(x), n*h*w*c, len(dx), len(dy), n*ho*wo*c)
	}
	ForEach(n*h, func(r int) { // an odd last row or column: zeros
		img, y := r/h, r%h
		row := dx[((img*h+y)*w)*c : ((img*h+y)*w+w)*c]
		if y >= 2*ho {
			clear(row)
		} else if w > 2*wo {
			clear(row[2*wo*c:])
		}
	})
	maxGrad := k.or().vec.maxGrad
	ForEach(n*ho, func(r int) {
		img, y := r/ho, r%ho
		top, bottom := ((img*h+2*y)*w)*c, ((img*h+2*y+1)*w)*c
		g := dy[r*wo*c : (r+1)*wo*c]
		for xo := range wo {
			a, b := top+2*xo*c, bottom+2*xo*c // top-left, bottom-left
			maxGrad(dx[a:a+c], dx[a+c:a+2*c], dx[b:b+c], dx[b+c:b+2*c], x[a:a+c], x[a+c:a+2*c], x[b:b+c], x[b+c:b+2*c], g[xo*c:(xo+1)*c])
		}
	})
	return nil
}

// maxGradGo is vectorOps.maxGrad in portable Go: for each channel i of a 2x2
// window whose inputs are v00[i], v01[i] (the top row), v10[i], v11[i], it
// sets the d of the first input equal to the window's maximum to g[i] and the
// others to zero. The maximum is taken as the assembly's VMAXPS takes it:
// vmax(vmax(v00, v01), vmax(v10, v11)), so that NaNs give the same results.
func maxGradGo(d00, d01, d10, d11, v00, v01, v10, v11, g []float32) {
	l := len(g)
	d00, d01, d10, d11 = d00[:l], d01[:l], d10[:l], d11[:l]
	v00, v01, v10, v11 = v00[:l], v01[:l], v10[:l], v11[:l]
	for i, gv := range g {
		m := vmax(vmax(v00[i], v01[i]), vmax(v10[i], v11[i]))
		var e00, e01, e10, e11 float32
		switch m {
		case v00[i]:
			e00 = gv
		case v01[i]:
			e01 = gv
		case v10[i]:
			e10 = gv
		case v11[i]:
			e11 = gv
		}
		d00[i], d01[i], d10[i], d11[i] = e00, e01, e10, e11
	}
}

// vmax is x86's MAXPS on one value: a if a > b, else b (b when either is a
// NaN, or both are zeros).
func vmax(a, b float32) float32 {
	if a > b {
		return a
	}
	return b
}

// gradK is the number of pixels Conv3x3Grads sums in float32 in one
// micro-kernel call before adding the sums to float64 ones.
const gradK = 512

// gradBand is the most padded positions a band of Conv3x3Grads holds: a
// panel of its output gradient (gradBand x 64 floats, 512 KB) stays in L2
// while the rows of the kernel gradient are computed over it.
const gradBand = 2048

// gradShared is the size of the float64 sums (9c+1 rows of o) from which
// Conv3x3Grads' cores share the bands rather than each summing its own
// bands into its own copy of the sums.
const gradShared = 8 << 20

// gradWork holds Conv3x3Grads' and Gram's buffers, kept from call to call.
type gradWork struct {
	xt, dz, one []float32
	acc         [][]float64 // per worker
	bands       [][]float32 // per worker, its bands' xt and dz
	sum         []float64   // the sums the cores share
	workers     []*gradWorker
}

// gradWorker is one core's micro-kernel rows and output rows.
type gradWorker struct {
	a   [mr * 9][]float32
	out [mr][]float32
}

var gradPool = sync.Pool{New: func() any { return new(gradWork) }}

// Conv3x3Grads computes the gradients of a 3x3 "same" convolution's kernel,
// dk (3, 3, c, o) HWIO, and bias, db (o), from its input x (n, h, w, c) and
// the gradient dz (n, h, w, o) with respect to its output before the ReLU
// (ReluGrad).
//
// dk[ky][kx][i][j] = Σ x[n][y+ky-1][x+kx-1][i] dz[n][y][x][j] is a matrix
// product of 9c rows by o columns over every pixel, computed on the forward
// pass's micro-kernel. The zero-padded images are cut into bands of rows;
// a band's x is transposed to channel-major rows (so that each tap's row is
// the channel's row shifted by a constant) and its dz to panels of 64
// channels, both small enough to stay in cache while the rows of dk are
// computed over them (6 at a time, one panel). Each core sums its own bands
// into its own copy of the sums, added at the end; where those copies would
// be large (512 channels), the cores share each band instead, each
// computing its own rows. Each micro-kernel call sums up to gradK pixels in
// float32; the sums are added in float64. db is one more row of the
// product, a row of ones.
//
// It runs on Best's kernels.
func Conv3x3Grads(dk, db, x, dz []float32, n, h, w, c, o int) error {
	return Kernels{}.Conv3x3Grads(dk, db, x, dz, n, h, w, c, o)
}

// gradBands is one Conv3x3Grads call's geometry and operands.
type gradBands struct {
	ks            Kernels
	x, dz         []float32
	n, h, w, c, o int
	hp, wp        int
	panels, opad  int
	rows, groups  int // dk's rows (9c+1) and their groups of mr
	ones          []float32
}

// band is the padded rows [r0, r1) and its buffers: xt[i][j] is channel i at
// padded position r0*wp - wp - 1 + j (a tap reads up to wp+1 positions
// before or after the band), dzb[p][s] the 64 channels of panel p at the
// band's position s.
type band struct {
	r0, r1, length, stride int
	xt, dzb                []float32
}

// band returns the band of rows [r0, r1) in buf (grown as needed).
func (gb *gradBands) band(r0, r1 int, buf *[]float32) band {
	b := band{r0: r0, r1: r1, length: (r1 - r0) * gb.wp}
	b.stride = b.length + 2*gb.wp + 2
	*buf = grow(*buf, gb.c*b.stride+gb.panels*b.length*nr)
	b.xt, b.dzb = (*buf)[:gb.c*b.stride], (*buf)[gb.c*b.stride:]
	return b
}

// fill writes the band's row k (0 to r1-r0+1: the rows beside the band
// included) into xt and, for the band's own rows, dzb.
func (gb *gradBands) fill(b band, k int) {
	c, h, w, wp, xt, stride := gb.c, gb.h, gb.w, gb.wp, b.xt, b.stride
	rr := b.r0 - 1 + k
	at := k*wp + 1 // row rr's first position in xt
	if k == 0 {
		for i := range c {
			xt[i*stride] = 0
		}
	}
	if k == b.r1-b.r0+1 {
		for i := range c {
			xt[i*stride+stride-1] = 0
		}
	}
	img, y := rr/gb.hp, rr%gb.hp-1
	inside := k > 0 && k <= b.r1-b.r0 // its dz is summed
	if y < 0 || y >= h {              // a padding row
		for i := range c {
			clear(xt[i*stride+at : i*stride+at+wp])
		}
		if inside {
			for p := range gb.panels {
				clear(b.dzb[(p*b.length+(k-1)*wp)*nr : (p*b.length+k*wp)*nr])
			}
		}
		return
	}
	src := gb.x[(img*h+y)*w*c : (img*h+y+1)*w*c]
	for i := range c {
		xt[i*stride+at], xt[i*stride+at+wp-1] = 0, 0
	}
	gb.ks.vec.transpose(xt[at+1:], stride, src, c, w, c) // xt[i*stride+at+1+px] = src[px*c+i]
	if !inside {
		return
	}
	o := gb.o
	for col := range wp {
		s := (k-1)*wp + col
		for p := range gb.panels {
			d := b.dzb[(p*b.length+s)*nr : (p*b.length+s+1)*nr]
			if col == 0 || col == wp-1 {
				clear(d)
				continue
			}
			pix := ((img*h+y)*w + col - 1) * o
			m := copy(d, gb.dz[pix+p*nr:pix+o])
			clear(d[m:])
		}
	}
}

// block adds to sum (rows x opad) block blk's products over the band: the
// rows g to g+mr of dk (or db's) by panel p.
func (gb *gradBands) block(gr *gradWorker, sum []float64, b band, blk int) {
	microKernel, addWiden := gb.ks.micro, gb.ks.vec.addWiden
	rows, c, wp := gb.rows, gb.c, gb.wp
	p, g := blk/gb.groups, blk%gb.groups*mr
	panel := b.dzb[p*b.length*nr : (p+1)*b.length*nr]
	valid := min(mr, rows-g)
	var off [mr]int // each row's start in xt; -1: the ones
	for i := range mr {
		r := g + min(i, valid-1)
		off[i] = -1
		if r < rows-1 {
			ch, t := r/9, r%9
			off[i] = ch*b.stride + wp + 1 + (t/3-1)*wp + (t%3 - 1)
		}
	}
	for k0 := 0; k0 < b.length; k0 += gradK {
		k := min(gradK, b.length-k0)
		for i := range mr {
			if off[i] < 0 {
				gr.a[i*9] = gb.ones[:k]
			} else {
				gr.a[i*9] = b.xt[off[i]+k0 : off[i]+k0+k]
			}
		}
		microKernel(&gr.a, 1, k, panel[k0*nr:], nr, nil, &gr.out)
		for i := range valid {
			r := g + i
			row := rows - 1 // db's
			if r < rows-1 {
				row = r%9*c + r/9
			}
			addWiden(sum[row*gb.opad+p*nr:][:nr], gr.out[i])
		}
	}
}

// Conv3x3Grads is the package's Conv3x3Grads on ks.
func (ks Kernels) Conv3x3Grads(dk, db, x, dz []float32, n, h, w, c, o int) error {
	if c <= 0 || o <= 0 || len(x) != n*h*w*c || len(dz) != n*h*w*o || len(dk) != 9*c*o || len(db) != o {
		return fmt.Errorf("kernels: 3x3 conv %d->%d gradients on (%d, %d, %d): x has %d values (want %d), dz %d (want %d), dk %d (want %d), db %d (want %d)",
			c, o, n, h, w, len(x), n*h*w*c, len(dz), n*h*w*o, len(dk), 9*c*o, len(db), o)
	}
	gb := &gradBands{ks: ks.or(), x: x, dz: dz, n: n, h: h, w: w, c: c, o: o, hp: h + 2, wp: w + 2,
		panels: (o + nr - 1) / nr, rows: 9*c + 1}
	gb.opad = gb.panels * nr
	gb.groups = (gb.rows + mr - 1) / mr
	blocks := gb.panels * gb.groups
	gw := gradPool.Get().(*gradWork)
	defer gradPool.Put(gw)
	gb.ones = gw.ones(gradK)
	// The sums run over the padded rows but the first and the last (dz is
	// zero on the padding), a band of whole rows at a time.
	first, last := 1, n*gb.hp-1
	bandRows := max(1, gradBand/gb.wp)
	size := gb.rows * gb.opad
	var sums [][]float64 // added up in order
	if size*8 < gradShared {
		// Each worker's band buffer, made before the workers run (they
		// index it; growing it there would race).
		for len(gw.bands) < runtime.GOMAXPROCS(0) {
			gw.bands = append(gw.bands, nil)
		}
		sums = gw.split(last-first, bandRows, size, func(wk int, acc []float64, from, to int, gr *gradWorker) {
			for r0 := first + from; r0 < first+to; r0 += bandRows {
				b := gb.band(r0, min(first+to, r0+bandRows), &gw.bands[wk])
				for k := range b.r1 - b.r0 + 2 {
					gb.fill(b, k)
				}
				for blk := range blocks {
					gb.block(gr, acc, b, blk)
				}
			}
		})
	} else {
		if cap(gw.sum) < size {
			gw.sum = makeLarge[float64](size)
		}
		sum := gw.sum[:size]
		clear(sum)
		gw.ensureWorkers(runtime.GOMAXPROCS(0))
		for r0 := first; r0 < last; r0 += bandRows {
			b := gb.band(r0, min(last, r0+bandRows), &gw.xt)
			ForEach(b.r1-b.r0+2, func(k int) { gb.fill(b, k) })
			var next atomic.Int64
			ForEach(len(gw.workers), func(wk int) {
				for blk := int(next.Add(1) - 1); blk < blocks; blk = int(next.Add(1) - 1) {
					gb.block(gw.workers[wk], sum, b, blk)
				}
			})
		}
		sums = [][]float64{sum}
	}
	ForEach(gb.rows, func(r int) {
		dst := db
		if r < gb.rows-1 {
			dst = dk[r*o : (r+1)*o]
		}
		narrowSums(dst[:o], sums, r*gb.opad)
	})
	return nil
}

// ensureWorkers makes gw.workers at least n long.
func (gw *gradWork) ensureWorkers(n int) {
	for len(gw.workers) < n {
		gr := new(gradWorker)
		scratch := make([]float32, mr*nr)
		for i := range mr {
			gr.out[i] = scratch[i*nr : (i+1)*nr]
		}
		gw.workers = append(gw.workers, gr)
	}
}

// split runs work on all cores, each with its own float64 sums (size values,
// zeros at first) and its share [from, to) of items in whole units, and
// returns the cores' sums (narrowSums adds them up).
func (gw *gradWork) split(items, unit, size int, work func(wk int, acc []float64, from, to int, gr *gradWorker)) (sums [][]float64) {
	units := (items + unit - 1) / unit
	workers := min(runtime.GOMAXPROCS(0), units)
	return gw.partialSums(workers, size, func(wk int, acc []float64, gr *gradWorker) {
		work(wk, acc, min(items, wk*units/workers*unit), min(items, (wk+1)*units/workers*unit), gr)
	})
}

// partialSums runs work(wk, acc, gr) for wk < workers on all cores, acc
// being worker wk's float64 sums (size values, zeros at first) and gr its
// micro-kernel's rows and output rows, and returns the workers' sums
// (narrowSums adds them up).
func (gw *gradWork) partialSums(workers, size int, work func(wk int, acc []float64, gr *gradWorker)) (sums [][]float64) {
	for len(gw.acc) < workers {
		gw.acc = append(gw.acc, nil)
	}
	gw.ensureWorkers(workers)
	ForEach(workers, func(wk int) {
		acc := gw.acc[wk]
		if cap(acc) < size {
			acc = makeLarge[float64](size)
		}
		acc = acc[:size]
		clear(acc)
		gw.acc[wk] = acc
		work(wk, acc, gw.workers[wk])
	})
	return gw.acc[:workers]
}

// narrowSums sets dst[j] to float32 of the sum of s[from+j] over the sums s,
// added in order from zero.
func narrowSums(dst []float32, sums [][]float64, from int) {
	for j := range dst {
		var t float64
		for _, s := range sums {
			t += s[from+j]
		}
		dst[j] = float32(t)
	}
}

// ones returns gradK ones, kept in gw.
func (gw *gradWork) ones(n int) []float32 {
	if len(gw.one) != n {
		gw.one = make([]float32, n)
		for i := range gw.one {
			gw.one[i] = 1
		}
	}
	return gw.one
}

// Gram computes dst (c, c) = fᵀf for f (n, c) row-major: the Gram matrix of
// n positions' c features, as style transfer uses it. Like Conv3x3Grads it
// runs on the micro-kernel, each call a float32 sum over gradK positions, the
// calls' sums added in float64 per core and then across cores.
//
// It runs on Best's kernels.
func Gram(dst, f []float32, n, c int) error { return Kernels{}.Gram(dst, f, n, c) }

// Gram is the package's Gram on ks.
func (ks Kernels) Gram(dst, f []float32, n, c int) error {
	if n <= 0 || c <= 0 || len(f) != n*c || len(dst) != c*c {
		return fmt.Errorf("kernels: Gram matrix of (%d, %d): f has %d values (want %d), dst %d (want %d)", n, c, len(f), n*c, len(dst), c*c)
	}
	microKernel, addWiden := ks.or().micro, ks.or().vec.addWiden
	cpad := (c + nr - 1) / nr * nr
	gw := gradPool.Get().(*gradWork)
	defer gradPool.Put(gw)
	// xt (c, n) is f transposed: the micro-kernel's rows; b is f with its
	// rows padded to cpad values (f itself where c is a multiple of nr).
	gw.xt = grow(gw.xt, c*n)
	ft, b := gw.xt, f
	ForEach((n+255)/256, func(k int) {
		for p := k * 256; p < min(n, (k+1)*256); p++ {
			for i, v := range f[p*c : (p+1)*c] {
				ft[i*n+p] = v
			}
		}
	})
	if cpad != c {
		gw.dz = grow(gw.dz, n*cpad)
		b = gw.dz
		ForEach((n+255)/256, func(k int) {
			for p := k * 256; p < min(n, (k+1)*256); p++ {
				row := b[p*cpad : (p+1)*cpad]
				copy(row, f[p*c:(p+1)*c])
				clear(row[c:])
			}
		})
	}
	chunks := (n + gradK - 1) / gradK
	workers := min(runtime.GOMAXPROCS(0), chunks)
	sums := gw.partialSums(workers, c*cpad, func(wk int, acc []float64, gr *gradWorker) {
		a, out := &gr.a, &gr.out
		for k := wk * chunks / workers; k < (wk+1)*chunks/workers; k++ {
			k0, length := k*gradK, min(gradK, n-k*gradK)
			for p := range cpad / nr {
				for r0 := 0; r0 < c; r0 += mr {
					valid := min(mr, c-r0)
					for i := range mr {
						r := r0 + min(i, valid-1)
						a[i*9] = ft[r*n+k0 : r*n+k0+length]
					}
					microKernel(a, 1, length, b[k0*cpad+p*nr:], cpad, nil, out)
					for i := range valid {
						addWiden(acc[(r0+i)*cpad+p*nr:][:nr], out[i])
					}
				}
			}
		}
	})
	ForEach(c, func(r int) { narrowSums(dst[r*c:(r+1)*c], sums, r*cpad) })
	return nil
}
