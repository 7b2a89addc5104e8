package kernels

import "fmt"

// MaxPool2x2 is Keras' MaxPooling2D(2) (stride 2, "valid": an odd last row or
// column is dropped) from src (n, h, w, c) to dst (n, h/2, w/2, c), NHWC.
// It runs on Best's kernels.
func MaxPool2x2(dst, src []float32, n, h, w, c int) error {
	return Kernels{}.MaxPool2x2(dst, src, n, h, w, c)
}

// MaxPool2x2 is the package's MaxPool2x2 on k.
func (k Kernels) MaxPool2x2(dst, src []float32, n, h, w, c int) error {
	ho, wo := h/2, w/2
	if len(src) != n*h*w*c || len(dst) != n*ho*wo*c {
		return fmt.Errorf("kernels: 2x2 max pool on (%d, %d, %d, %d): src has %d values (want %d), dst %d (want %d)",
			n, h, w, c, len(src), n*h*w*c, len(dst), n*ho*wo*c)
	}
	maxRows := k.or().vec.maxRows
	ForEach(n*ho, func(r int) {
		img, y := r/ho, r%ho
		top := src[((img*h+2*y)*w)*c:]
		bottom := src[((img*h+2*y+1)*w)*c:]
		out := dst[r*wo*c : (r+1)*wo*c]
		for x := range wo {
			a, b := top[2*x*c:(2*x+2)*c], bottom[2*x*c:(2*x+2)*c]
			maxRows(out[x*c:(x+1)*c], a[:c], a[c:], b[:c], b[c:])
		}
	})
	return nil
}

// maxRowsGo sets dst[i] to the largest of a[i], b[i], c[i], d[i] (vectorOps.maxRows).
func maxRowsGo(dst, a, b, c, d []float32) {
	a, b, c, d = a[:len(dst)], b[:len(dst)], c[:len(dst)], d[:len(dst)]
	for i := range dst {
		dst[i] = max(a[i], b[i], c[i], d[i])
	}
}
