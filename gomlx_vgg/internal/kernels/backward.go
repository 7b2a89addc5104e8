package kernels

import (
	"fmt"
	"runtime"
	"sync"
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
	ForEach(9, func(t int) {
		src := k[(8-t)*c*o : (9-t)*c*o]
		out := dst[t*c*o : (t+1)*c*o]
		const b = 16 // transposed in b x b blocks
		for i0 := 0; i0 < c; i0 += b {
			for j0 := 0; j0 < o; j0 += b {
				for i := i0; i < min(c, i0+b); i++ {
					for j := j0; j < min(o, j0+b); j++ {
						out[j*c+i] = src[i*o+j]
					}
				}
			}
		}
	})
	return nil
}

// ReluGrad sets dy to zero wherever the ReLU's output y is not positive: dy,
// the gradient with respect to relu(z), becomes the gradient with respect to
// z.
func ReluGrad(dy, y []float32) error {
	if len(dy) != len(y) {
		return fmt.Errorf("kernels: ReLU gradient of %d values for %d outputs", len(dy), len(y))
	}
	const chunk = 1 << 16
	ForEach((len(dy)+chunk-1)/chunk, func(i int) {
		d := dy[i*chunk : min(len(dy), (i+1)*chunk)]
		v := y[i*chunk : i*chunk+len(d)]
		for j, yv := range v {
			if !(yv > 0) {
				d[j] = 0
			}
		}
	})
	return nil
}

// MaxPool2x2Grad is MaxPool2x2's input gradient: dx (n, h, w, c) is zero but
// where a window's first maximum in row-major order is (TensorFlow's and
// PyTorch's choice when values tie, as after a ReLU), which gets the window's
// output gradient from dy (n, h/2, w/2, c); x is the pooling's input. An odd
// last row or column (dropped by the pooling) gets zeros.
func MaxPool2x2Grad(dx, dy, x []float32, n, h, w, c int) error {
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
	ForEach(n*ho, func(r int) {
		img, y := r/ho, r%ho
		top, bottom := ((img*h+2*y)*w)*c, ((img*h+2*y+1)*w)*c
		g := dy[r*wo*c : (r+1)*wo*c]
		for xo := range wo {
			a, b := top+2*xo*c, bottom+2*xo*c // top-left, bottom-left
			for ch := range c {
				v00, v01, v10, v11 := x[a+ch], x[a+c+ch], x[b+ch], x[b+c+ch]
				m := max(v00, v01, v10, v11)
				gv := g[xo*c+ch]
				var d00, d01, d10, d11 float32
				switch m {
				case v00:
					d00 = gv
				case v01:
					d01 = gv
				case v10:
					d10 = gv
				case v11:
					d11 = gv
				}
				dx[a+ch], dx[a+c+ch], dx[b+ch], dx[b+c+ch] = d00, d01, d10, d11
			}
		}
	})
	return nil
}

// gradK is the number of pixels Conv3x3Grads sums over in one micro-kernel
// call: the output gradient's gradK x 64 panel stays in L2 while every row of
// the kernel gradient is computed over it.
const gradK = 512

// gradWork holds Conv3x3Grads' buffers, kept from call to call.
type gradWork struct {
	xt, dz, one []float32
	acc         [][]float64 // per worker
}

var gradPool = sync.Pool{New: func() any { return new(gradWork) }}

// Conv3x3Grads computes the gradients of a 3x3 "same" convolution's kernel,
// dk (3, 3, c, o) HWIO, and bias, db (o), from its input x (n, h, w, c) and
// the gradient dz (n, h, w, o) with respect to its output before the ReLU
// (ReluGrad).
//
// dk[ky][kx][i][j] = Σ x[n][y+ky-1][x+kx-1][i] dz[n][y][x][j] is a matrix
// product of 9c rows by o columns over every pixel, computed on the forward
// pass's micro-kernel: x is transposed to channel-major rows over the padded
// image (so that each tap's row is the channel's row shifted by a constant),
// dz padded alike with zeros, and each core sums its share of the pixels in
// float64 (each micro-kernel call's float32 sum over gradK pixels added)
// before the shares are added. db is one more row of the product, a row of
// ones.
//
// It runs on Best's kernels.
func Conv3x3Grads(dk, db, x, dz []float32, n, h, w, c, o int) error {
	return Kernels{}.Conv3x3Grads(dk, db, x, dz, n, h, w, c, o)
}

// Conv3x3Grads is the package's Conv3x3Grads on ks.
func (ks Kernels) Conv3x3Grads(dk, db, x, dz []float32, n, h, w, c, o int) error {
	microKernel, addWiden := ks.or().micro, ks.or().vec.addWiden
	if c <= 0 || o <= 0 || len(x) != n*h*w*c || len(dz) != n*h*w*o || len(dk) != 9*c*o || len(db) != o {
		return fmt.Errorf("kernels: 3x3 conv %d->%d gradients on (%d, %d, %d): x has %d values (want %d), dz %d (want %d), dk %d (want %d), db %d (want %d)",
			c, o, n, h, w, len(x), n*h*w*c, len(dz), n*h*w*o, len(dk), 9*c*o, len(db), o)
	}
	hp, wp := h+2, w+2
	q := n * hp * wp // padded positions: the sum runs over them, dz is 0 on the padding
	margin := wp + 1 // a tap reads up to wp+1 positions before or after
	chunks := (q + gradK - 1) / gradK
	stride := margin + chunks*gradK + margin // of a channel's row in xt
	opad := (o + nr - 1) / nr * nr
	gw := gradPool.Get().(*gradWork)
	defer gradPool.Put(gw)
	gw.xt = grow(gw.xt, c*stride)
	gw.dz = grow(gw.dz, chunks*gradK*opad)
	xt, dzp := gw.xt, gw.dz
	// xt[i][margin+p] is channel i at padded position p; dzp[p][j] is dz.
	// Only what the copies leave unwritten is cleared: each row's margins and
	// tail, and the images' padding rows and columns.
	ForEach(c, func(i int) {
		row := xt[i*stride : (i+1)*stride]
		clear(row[:margin])
		clear(row[margin+q:])
		for img := range n {
			im := row[margin+img*hp*wp : margin+(img+1)*hp*wp]
			clear(im[:wp])
			clear(im[(hp-1)*wp:])
			for y := 1; y < hp-1; y++ {
				im[y*wp], im[y*wp+wp-1] = 0, 0
			}
		}
	})
	clear(dzp[q*opad:])
	ForEach(n, func(img int) {
		for y := range hp {
			for px := range wp {
				if y == 0 || y == hp-1 || px == 0 || px == wp-1 {
					clear(dzp[((img*hp+y)*wp+px)*opad:][:opad])
				}
			}
		}
	})
	ForEach(n*h, func(r int) {
		img, y := r/h, r%h
		p0 := (img*hp+y+1)*wp + 1
		src := x[r*w*c : (r+1)*w*c]
		const b = 16 // pixels a block: their channels' lines are read from cache
		for px0 := 0; px0 < w; px0 += b {
			px1 := min(w, px0+b)
			for i := range c {
				row := xt[i*stride+margin+p0+px0 : i*stride+margin+p0+px1]
				for j := range row {
					row[j] = src[(px0+j)*c+i]
				}
			}
		}
		for px := range w {
			d := dzp[(p0+px)*opad : (p0+px+1)*opad]
			copy(d, dz[(r*w+px)*o:(r*w+px+1)*o])
			clear(d[o:])
		}
	})
	// The rows of dk in the order the micro-kernel takes them: the 9 taps of
	// a channel together, so that the channel's row is read from cache; then
	// a row of ones, whose products are db.
	rows := 9*c + 1
	ones := gw.ones(gradK)
	workers := min(runtime.GOMAXPROCS(0), chunks)
	total := gw.partialSums(workers, rows*opad, func(wk int, acc []float64, a *[mr * 9][]float32, out *[mr][]float32) {
		for k := wk * chunks / workers; k < (wk+1)*chunks/workers; k++ {
			k0 := k * gradK
			for p := range opad / nr {
				b := dzp[k0*opad+p*nr:]
				for r0 := 0; r0 < rows; r0 += mr {
					valid := min(mr, rows-r0)
					for i := range mr {
						r := r0 + min(i, valid-1)
						if r == rows-1 {
							a[i*9] = ones
							continue
						}
						ch, t := r/9, r%9
						off := ch*stride + margin + k0 + (t/3-1)*wp + (t%3 - 1)
						a[i*9] = xt[off : off+gradK]
					}
					microKernel(a, 1, gradK, b, opad, nil, out)
					for i := range valid {
						r := r0 + i
						row := rows - 1 // db's
						if r < rows-1 {
							row = r%9*c + r/9
						}
						addWiden(acc[row*opad+p*nr:][:nr], out[i])
					}
				}
			}
		}
	})
	ForEach(rows, func(r int) {
		dst := db
		if r < rows-1 {
			dst = dk[r*o : (r+1)*o]
		}
		for j := range o {
			dst[j] = float32(total(r*opad + j))
		}
	})
	return nil
}

// partialSums runs work(wk, acc, a, out) for wk < workers on all cores,
// acc being worker wk's float64 sums (size values, zeros at first) and a and
// out its micro-kernel's rows and output rows; total(i) then adds the
// workers' sums of value i.
func (gw *gradWork) partialSums(workers, size int, work func(wk int, acc []float64, a *[mr * 9][]float32, out *[mr][]float32)) (total func(i int) float64) {
	for len(gw.acc) < workers {
		gw.acc = append(gw.acc, nil)
	}
	ForEach(workers, func(wk int) {
		acc := gw.acc[wk]
		if cap(acc) < size {
			acc = make([]float64, size)
		}
		acc = acc[:size]
		clear(acc)
		gw.acc[wk] = acc
		var a [mr * 9][]float32
		var out [mr][]float32
		scratch := make([]float32, mr*nr)
		for i := range mr {
			out[i] = scratch[i*nr : (i+1)*nr]
		}
		work(wk, acc, &a, &out)
	})
	return func(i int) float64 {
		var s float64
		for _, acc := range gw.acc[:workers] {
			s += acc[i]
		}
		return s
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
	total := gw.partialSums(workers, c*cpad, func(wk int, acc []float64, a *[mr * 9][]float32, out *[mr][]float32) {
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
	ForEach(c, func(r int) {
		for j := range c {
			dst[r*c+j] = float32(total(r*cpad + j))
		}
	})
	return nil
}
