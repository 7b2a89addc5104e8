package kernels

// mr is the number of output pixels one micro-kernel call computes.
const mr = 6

// microKernelFunc is the type of the micro-kernels (Kernels hold one per
// instruction set): they compute out[i][j] = relu(bias[j] + sum over taps
// t < taps and channels k < c of rows[i*9+t][k] * b[(t*c+k)*ldb+j]) for a tile
// of mr pixels and one panel of nr output channels; with a nil bias,
// out[i][j] = the sum (no bias, no ReLU: Winograd's products).
type microKernelFunc = func(rows *[mr * 9][]float32, taps, c int, b []float32, ldb int, bias []float32, out *[mr][]float32)

// microKernelGo is the portable micro-kernel.
func microKernelGo(rows *[mr * 9][]float32, taps, c int, b []float32, ldb int, bias []float32, out *[mr][]float32) {
	var sum [mr][nr]float32
	for t := range taps {
		// Each tap's c products are summed apart, then added to the totals:
		// float32 error grows with c, not 9c.
		var acc [mr][nr]float32
		for i := range mr {
			a := rows[i*9+t][:c]
			ai := &acc[i]
			for k, av := range a {
				bk := (*[nr]float32)(b[(t*c+k)*ldb : (t*c+k)*ldb+nr])
				for j := range nr {
					ai[j] += av * bk[j]
				}
			}
		}
		for i := range mr {
			for j := range nr {
				sum[i][j] += acc[i][j]
			}
		}
	}
	for i := range mr {
		o := (*[nr]float32)(out[i][:nr])
		if bias == nil {
			*o = sum[i]
			continue
		}
		for j := range nr {
			o[j] = max(0, sum[i][j]+bias[j])
		}
	}
}
