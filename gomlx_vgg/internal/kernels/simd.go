package kernels

import (
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"

	"golang.org/x/sys/cpu"
)

// Kernels are the kernels of one instruction set (the micro-kernel,
// Winograd's transforms, the dense layers' and pooling's vector loops) and
// the 3x3 convolutions' algorithm: what one model's native engine runs.
// The zero value is Best's. A Kernels is a value: copies share nothing that
// changes.
type Kernels struct {
	simd   string
	direct bool // the direct convolution everywhere instead of Winograd
	micro  microKernelFunc
	wino   winoTransforms
	wino4  wino4Transforms // zero where F(4x4)'s transforms have no assembly, or for F(2x2) only
	vec    vectorOps
}

// registered are the kernels this build and CPU can run, by instruction set;
// best is the fastest of them. registerArch adds the assembly ones.
var (
	registered = map[string]Kernels{"none": {simd: "none", micro: microKernelGo, wino: winoGo, vec: vectorOps{axpyGo, maxRowsGo, addWidenGo, maxGradGo, rmspropGo, reluGradGo, transposeGo}}}
	best       = registered["none"]
)

// register adds the kernels of an instruction set, faster than those added before.
func register(name string, k microKernelFunc, w winoTransforms, w4 wino4Transforms, v vectorOps) {
	registered[name] = Kernels{simd: name, micro: k, wino: w, wino4: w4, vec: v}
	best = registered[name]
}

// init registers this architecture's kernels.
func init() { registerArch() }

// Best returns the fastest kernels this build has for this CPU, with
// Winograd: the default.
func Best() Kernels { return best }

// Lookup returns the kernels of the instruction set simd ("AVX-512", "AVX2",
// "NEON", "none" for the portable Go; "" for Best's), where this build and
// CPU have them, with the convolution algorithm conv ("winograd", the
// default: F(4x4, 3x3) where the kernels have its transforms and the layer
// suits it, else F(2x2, 3x3); "winograd2": F(2x2, 3x3) only; or "direct"):
// slower kernels, to compare with the best.
func Lookup(simd, conv string) (Kernels, error) {
	k := best
	if simd != "" {
		var ok bool
		if k, ok = registered[simd]; !ok {
			return Kernels{}, fmt.Errorf("kernels: no %q kernels on this CPU and build (have %s)", simd, strings.Join(slices.Sorted(maps.Keys(registered)), ", "))
		}
	}
	switch conv {
	case "", "winograd":
	case "winograd2":
		k.wino4 = wino4Transforms{} // without its transforms, F(2x2) everywhere
	case "direct":
		k.direct = true
	default:
		return Kernels{}, fmt.Errorf("kernels: convolution %q: want winograd, winograd2 or direct", conv)
	}
	return k, nil
}

// or returns k, or Best for the zero value.
func (k Kernels) or() Kernels {
	if k.micro == nil {
		return best
	}
	return k
}

// SIMD names the vector instructions k uses ("AVX-512", "AVX2", "NEON"), or
// is "none" for the portable Go.
func (k Kernels) SIMD() string { return k.or().simd }

// Winograd reports whether k's 3x3 convolutions use Winograd for the layers
// it suits (at least 16 input channels, output channels a multiple of 64:
// all of VGG's but the first): F(4x4, 3x3) on images of at least 16x16
// where k has its transforms (AVX-512), else F(2x2, 3x3). F(2x2) is faster
// than the direct convolution with every micro-kernel (VGG19 1.8x with
// AVX-512, 2.8x with AVX2, 2.1x in portable Go), F(4x4) than F(2x2) (see
// docs/speed.md); the direct convolution everywhere compares.
func (k Kernels) Winograd() bool { return !k.or().direct }

// Conv names the 3x3 convolutions' algorithm: "Winograd F(4x4,3x3)" (with
// F(2x2,3x3) on layers under 16x16), "Winograd F(2x2,3x3)" or "direct".
func (k Kernels) Conv() string {
	k = k.or()
	switch {
	case k.direct:
		return "direct"
	case k.wino4.input != nil:
		return "Winograd F(4x4,3x3)"
	}
	return "Winograd F(2x2,3x3)"
}

// String describes k: "SIMD AVX-512, Winograd F(4x4,3x3)".
func (k Kernels) String() string { return "SIMD " + k.SIMD() + ", " + k.Conv() }

// Slower says why k is slower than the fastest kernels the CPU could run,
// or is "" where it is not: a slower instruction set chosen than this
// build's best, or a build (purego tag) without the CPU's assembly.
func (k Kernels) Slower() string {
	switch {
	case k.SIMD() != best.simd:
		return "SIMD " + k.SIMD() + " chosen, slower than this CPU's " + best.simd
	case best.simd != CPUSIMD():
		return "built with the purego tag: build without it for the " + CPUSIMD() + " kernels"
	}
	return ""
}

// CPUSIMD names the fastest instruction set the kernels have assembly for
// that this CPU supports ("AVX-512", "AVX2", "NEON", "none"), whatever the
// build: it differs from Best's in a purego build.
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

// vectorOps are the dense layers' and pooling's inner loops in one
// instruction set.
type vectorOps struct {
	axpy    func(dst []float32, a float32, x []float32)
	maxRows func(dst, a, b, c, d []float32)
	// addWiden adds float32 values to float64 sums (the gradients' partial
	// sums).
	addWiden func(dst []float64, src []float32)
	// maxGrad is max pooling's gradient for the channels of one 2x2 window
	// (maxGradGo).
	maxGrad func(d00, d01, d10, d11, v00, v01, v10, v11, g []float32)
	// rmsprop is RMSprop's step on a chunk of a variable (rmspropGo).
	rmsprop func(nv, m2, old, g []float32, s *[5]float32)
	// reluGrad is the ReLU's gradient (reluGradGo).
	reluGrad func(dy, y []float32)
	// transpose is a rows x cols block's transpose (transposeGo).
	transpose func(dst []float32, ldd int, src []float32, lds, rows, cols int)
}

// addWidenGo is dst[i] += float64(src[i]) (vectorOps.addWiden).
func addWidenGo(dst []float64, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += float64(v)
	}
}
