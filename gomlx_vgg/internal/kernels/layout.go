package kernels

import (
	"math"
	"slices"
)

// NCHWToNHWC copies src (n, c, h, w) into dst (n, h, w, c).
func NCHWToNHWC(dst, src []float32, n, c, h, w int) {
	for i := range n {
		for ch := range c {
			for p := range h * w {
				dst[(i*h*w+p)*c+ch] = src[(i*c+ch)*h*w+p]
			}
		}
	}
}

// NHWCToNCHW copies src (n, h, w, c) into dst (n, c, h, w).
func NHWCToNCHW(dst, src []float32, n, h, w, c int) {
	for i := range n {
		for p := range h * w {
			for ch := range c {
				dst[(i*c+ch)*h*w+p] = src[(i*h*w+p)*c+ch]
			}
		}
	}
}

// SoftmaxRows applies softmax to each row of width values, in float64.
func SoftmaxRows(v []float32, width int) {
	for r := 0; r+width <= len(v); r += width {
		row := v[r : r+width]
		hi := float64(slices.Max(row))
		var sum float64
		for _, x := range row {
			sum += math.Exp(float64(x) - hi)
		}
		for j, x := range row {
			row[j] = float32(math.Exp(float64(x)-hi) / sum)
		}
	}
}

// GlobalPool averages (or takes the max of) the pixels of each image and
// channel of src (n, pixels, c) into dst (n, c), summing in float64: Keras'
// GlobalAveragePooling2D and GlobalMaxPooling2D.
func GlobalPool(dst, src []float32, n, pixels, c int, isMax bool) {
	for i := range n {
		for ch := range c {
			var sum float64
			hi := float32(math.Inf(-1))
			for p := range pixels {
				v := src[(i*pixels+p)*c+ch]
				sum += float64(v)
				hi = max(hi, v)
			}
			if isMax {
				dst[i*c+ch] = hi
			} else {
				dst[i*c+ch] = float32(sum / float64(pixels))
			}
		}
	}
}
