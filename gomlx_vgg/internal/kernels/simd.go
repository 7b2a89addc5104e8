package kernels

import "os"

// SIMD names the vector instructions the micro-kernel uses in this build on
// this CPU ("AVX-512", "AVX2"), or is "none" for the portable Go micro-kernel.
var SIMD = "none"

// init runs after the conv_*.go and micro_*.go files' (Go runs a package's
// init functions in file name order): $VGGNB_SIMD ("AVX2", "none") picks a
// micro-kernel other than the best one, and $VGGNB_CONV=direct the direct
// convolution rather than Winograd, to compare them on one machine.
func init() {
	if name := os.Getenv("VGGNB_SIMD"); name != "" {
		if k, ok := microKernels[name]; ok {
			microKernel, wino, SIMD = k, winoByName[name], name
		}
	}
	if os.Getenv("VGGNB_CONV") == "direct" {
		Winograd = false
	}
}
