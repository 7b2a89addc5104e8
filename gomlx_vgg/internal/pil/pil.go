// Package pil ports Pillow's image resizing (Resample.c, ImagingScaleAffine)
// to Go with the same fixed-point arithmetic, so that imagenet.LoadImg gives
// the pixels Keras' load_img gets from PIL, byte for byte.
package pil

import (
	"image"
	"math"
)

// ResizeNearest is PIL's NEAREST resize (ImagingScaleAffine): the source
// coordinate is accumulated in float64 from scale/2 and truncated.
func ResizeNearest(src *image.NRGBA, w, h int) *image.NRGBA {
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	xs := nearestIndex(sw, w)
	ys := nearestIndex(sh, h)
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y, sy := range ys {
		for x, sx := range xs {
			copy(out.Pix[y*out.Stride+4*x:][:4], src.Pix[sy*src.Stride+4*sx:][:4])
		}
	}
	return out
}

func nearestIndex(in, out int) []int {
	scale := float64(in) / float64(out)
	idx := make([]int, out)
	v := scale * 0.5
	for i := range idx {
		idx[i] = min(int(v), in-1)
		v += scale
	}
	return idx
}

// Filter is one of PIL's resampling filters (Resample.c): its support and
// its weight function.
type Filter struct {
	support float64
	fn      func(float64) float64
}

// PIL's filters, by the names Keras' load_img (and PIL) give them.
var (
	Box = Filter{0.5, func(x float64) float64 {
		if x > -0.5 && x <= 0.5 {
			return 1
		}
		return 0
	}}
	Bilinear = Filter{1, func(x float64) float64 {
		x = math.Abs(x)
		if x < 1 {
			return 1 - x
		}
		return 0
	}}
	Hamming = Filter{1, func(x float64) float64 {
		x = math.Abs(x)
		if x == 0 {
			return 1
		}
		if x >= 1 {
			return 0
		}
		x *= math.Pi
		return math.Sin(x) / x * (0.54 + 0.46*math.Cos(x))
	}}
	Bicubic = Filter{2, func(x float64) float64 {
		const a = -0.5
		x = math.Abs(x)
		if x < 1 {
			return ((a+2)*x-(a+3))*x*x + 1
		}
		if x < 2 {
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}}
	Lanczos = Filter{3, func(x float64) float64 {
		if -3 <= x && x < 3 {
			return sinc(x) * sinc(x/3)
		}
		return 0
	}}
)

func sinc(x float64) float64 {
	if x == 0 {
		return 1
	}
	x *= math.Pi
	return math.Sin(x) / x
}

// precisionBits is PIL's fixed-point precision for 8-bit resampling.
const precisionBits = 32 - 8 - 2

// coeffs are PIL's precompute_coeffs + normalize_coeffs_8bpc for one axis.
type coeffs struct {
	ksize  int
	bounds []int // (min, count) per output pixel
	k      []int32
}

func precompute(inSize, outSize int, f Filter) coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := f.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, bounds: make([]int, 2*outSize), k: make([]int32, outSize*ksize)}
	pre := make([]float64, ksize)
	for xx := range outSize {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterscale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		var ww float64
		for x := range xmax {
			w := f.fn((float64(x+xmin) - center + 0.5) * ss)
			pre[x] = w
			ww += w
		}
		for x := range xmax {
			if ww != 0 {
				pre[x] /= ww
			}
			v := pre[x] * (1 << precisionBits)
			if pre[x] < 0 {
				v -= 0.5
			} else {
				v += 0.5
			}
			c.k[xx*ksize+x] = int32(v)
		}
		c.bounds[2*xx], c.bounds[2*xx+1] = xmin, xmax
	}
	return c
}

func clip8(v int32) uint8 {
	if v >= 1<<precisionBits<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> precisionBits)
}

// Resample is PIL's ImagingResample for 8-bit RGB: a horizontal pass, then a
// vertical one, each rounded to 8 bits, skipping an axis whose size is unchanged.
func Resample(src *image.NRGBA, w, h int, f Filter) *image.NRGBA {
	img := src
	if img.Bounds().Dx() != w {
		c := precompute(img.Bounds().Dx(), w, f)
		sh := img.Bounds().Dy()
		out := image.NewNRGBA(image.Rect(0, 0, w, sh))
		for y := range sh {
			row := img.Pix[y*img.Stride:]
			for xx := range w {
				xmin, n := c.bounds[2*xx], c.bounds[2*xx+1]
				k := c.k[xx*c.ksize:]
				for ch := range 3 {
					ss := int32(1 << (precisionBits - 1))
					for x := range n {
						ss += int32(row[(x+xmin)*4+ch]) * k[x]
					}
					out.Pix[y*out.Stride+xx*4+ch] = clip8(ss)
				}
				out.Pix[y*out.Stride+xx*4+3] = 255
			}
		}
		img = out
	}
	if img.Bounds().Dy() != h {
		c := precompute(img.Bounds().Dy(), h, f)
		iw := img.Bounds().Dx()
		out := image.NewNRGBA(image.Rect(0, 0, iw, h))
		for yy := range h {
			ymin, n := c.bounds[2*yy], c.bounds[2*yy+1]
			k := c.k[yy*c.ksize:]
			for x := range iw {
				for ch := range 3 {
					ss := int32(1 << (precisionBits - 1))
					for y := range n {
						ss += int32(img.Pix[(y+ymin)*img.Stride+x*4+ch]) * k[y]
					}
					out.Pix[yy*out.Stride+x*4+ch] = clip8(ss)
				}
				out.Pix[yy*out.Stride+x*4+3] = 255
			}
		}
		img = out
	}
	return img
}
