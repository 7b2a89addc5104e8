package kernels

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/cpu"
)

// SIMD names the vector instructions the micro-kernel uses on this CPU
// ("AVX-512", "AVX2", "NEON"), or is "none" for the portable Go micro-kernel.
// The assembly kernels are chosen at run time from the CPU's features
// (golang.org/x/sys/cpu), in any build for amd64 or arm64: no GOEXPERIMENT
// and no build tag is needed, and the purego tag leaves them out.
var SIMD = "none"

// Best is the fastest instruction set this build has for this CPU: SIMD,
// unless Use chose a slower one.
var Best = "none"

// CPUSIMD names the fastest instruction set the kernels have assembly for
// that this CPU supports ("AVX-512", "AVX2", "NEON", "none"), whatever the
// build: it differs from Best in a purego build.
func CPUSIMD() string {
	switch {
	case runtime.GOARCH == "amd64" && cpu.X86.HasAVX512F:
		return "AVX-512"
	case runtime.GOARCH == "amd64" && cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return "AVX2"
	case runtime.GOARCH == "arm64" && cpu.ARM64.HasASIMD:
		return "NEON"
	}
	return "none"
}

// Fix says how to get faster kernels than the ones in use, or is "" where
// they are the fastest the kernels have for this CPU.
func Fix() string {
	switch {
	case SIMD != Best:
		return "$VGGNB_SIMD=" + SIMD + " chose slower kernels than this CPU's " + Best + ": unset it"
	case Best != CPUSIMD():
		return "built with the purego tag: build without it for the " + CPUSIMD() + " kernels"
	}
	return ""
}

// vectorOps are the dense layers' and pooling's inner loops in one
// instruction set.
type vectorOps struct {
	axpy    func(dst []float32, a float32, x []float32)
	maxRows func(dst, a, b, c, d []float32)
}

// vectorByName are all the vectorOps this build and CPU can run, by name.
var vectorByName = map[string]vectorOps{"none": {axpyGo, maxRowsGo}}

// use adds a micro-kernel, its Winograd transforms and the vector loops
// under name, and makes them the ones in use.
func use(name string, k microKernelFunc, w winoTransforms, v vectorOps) {
	microKernels[name], winoByName[name], vectorByName[name] = k, w, v
	microKernel, wino, SIMD = k, w, name
	axpy, maxRows = v.axpy, v.maxRows
}

// Use makes the kernels registered under name the ones in use, to compare a
// slower instruction set with the best: "AVX-512", "AVX2", "NEON" or "none"
// (the portable Go), where this build and CPU have them.
func Use(name string) error {
	k, ok := microKernels[name]
	if !ok {
		return fmt.Errorf("kernels: no %q kernels on this CPU and build (have %s)", name, strings.Join(slices.Sorted(maps.Keys(microKernels)), ", "))
	}
	use(name, k, winoByName[name], vectorByName[name])
	return nil
}

// init registers this architecture's kernels, the fastest in use.
func init() {
	registerArch()
	Best = SIMD
}
