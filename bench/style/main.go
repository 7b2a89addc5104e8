// Command style benchmarks neural style transfer (gomlx_vgg/style, Keras'
// example on VGG19) on the pure-Go backend, on the native kernels and (to
// compare, -graph) through GoMLX's graph, against PyTorch (Debian's
// python3-torch, float32, through torchref's reference script) doing the same
// run on the same weights and photos, in one run, and prints seconds per step,
// the final losses and the ratios Go/PyTorch:
//
//	GOEXPERIMENT=simd go run ./bench/style [-height 224] [-width 224] [-steps 20] [-lr 1e4] [-threads 2] [-graph=true] [-cpuprofile c.prof]
//
// The first step is reported apart (the graph's includes compiling it).
// Keras' example itself runs 400 rows (400x601 for the demo photo, 451x300)
// for 4000 steps: -height 400 -width 601 -steps 10 measures the time per step
// at that size. With -cpuprofile, Go's native steps after the first are
// profiled.
package main

import (
	"flag"
	"fmt"
	"image"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/style"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/internal/environ"
	"github.com/vggnb/vggnb/weights"
)

func main() {
	height := flag.Int("height", 224, "the images' height")
	width := flag.Int("width", 0, "the images' width (0: the height)")
	steps := flag.Int("steps", 20, "SGD steps (at least 2)")
	lr := flag.Float64("lr", 1e4, "initial learning rate (ExponentialDecay(lr, 100, 0.96))")
	threads := flag.Int("threads", runtime.NumCPU(), "PyTorch threads")
	profile := flag.String("cpuprofile", "", "write a CPU profile of Go's native steps after the first to this file")
	graphToo := flag.Bool("graph", true, "also run Go through GoMLX's graph (GraphOnly), to compare")
	flag.Parse()
	if *width == 0 {
		*width = *height
	}
	if *steps < 2 {
		fail(fmt.Errorf("-steps %d: want at least 2", *steps))
	}
	t0 := time.Now()
	path, synthetic, err := weights.ImageNetOrSynthetic("vgg19", false, 1)
	check(err)
	// Slower native kernels, to compare: $VGGNB_SIMD=AVX2|none, $VGGNB_CONV=direct.
	m, err := environ.NativeKernels(gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightSource(path)).Notices(nil)).Done()
	check(err)
	fmt.Printf("neural style transfer, VGG19 to block5_conv2, %dx%d, %d steps, %d CPUs, %s, native kernels %s\n",
		*height, *width, *steps, runtime.NumCPU(), runtime.Version(), m.NativeKernels())

	content, styleImage := photoInput(imagenet.DemoImage, *height, *width), photoInput(imagenet.CoffeeImage, *height, *width)
	setup := time.Since(t0)
	if synthetic {
		fmt.Println("(SYNTHETIC VGG19 weights: the times do not depend on the values; the pictures mean little)")
	}
	native := runGo(m, content, styleImage, *lr, *steps, false, *profile)
	var graph goRun
	if *graphToo {
		graph = runGo(m, content, styleImage, *lr, *steps, true, "")
	}

	photo, err := imagenet.DemoImageFile()
	check(err)
	coffee, err := imagenet.CoffeeImageFile()
	check(err)
	ref, err := torchref.Run(torchref.Options{Weights: path, Model: "vgg19", Image: photo, Height: *height, Width: *width,
		Threads: *threads, Style: &torchref.Style{Image: coffee, Steps: *steps, LearningRate: []float64{*lr, 100, 0.96}}})
	check(err)
	run := ref.StyleRun
	ptStep := run.SecondsPerStep()
	_, rel := consistency.Compare(tensors.MustCopyFlatData[float32](native.image), run.Image)

	fmt.Printf("\n| | first step s | s/step after | loss at step 0 | loss at step %d |\n|---|---|---|---|---|\n", *steps-1)
	row := func(name string, r goRun) {
		fmt.Printf("| %s | %.2f | %.3f | %.6g | %.6g |\n", name, r.first.Seconds(), r.step, r.losses[0].Total, r.losses[1].Total)
	}
	row(fmt.Sprintf("Go, native kernels (set-up %.1f s)", setup.Seconds()+native.setup.Seconds()), native)
	if *graphToo {
		row(fmt.Sprintf("Go, GoMLX graph (GraphOnly; set-up %.1f s)", graph.setup.Seconds()), graph)
	}
	fmt.Printf("| PyTorch %s float32, %d threads | %.2f | %.3f | %.6g | %.6g |\n", ref.Torch, *threads, run.Steps[0].Seconds, ptStep,
		run.Steps[0].Total(), run.Steps[len(run.Steps)-1].Total())
	fmt.Printf("\nGo/PyTorch per step: %.2f on the native kernels", native.step/ptStep)
	if *graphToo {
		fmt.Printf(", %.2f through the graph", graph.step/ptStep)
	}
	fmt.Printf("; final images (native, PyTorch) differ by %.2g of the largest value\n", rel)
	fmt.Printf("Keras' example's 4000 steps at this size: Go %.0f min, PyTorch %.0f min\n", 4000*native.step/60, 4000*ptStep/60)
}

// goRun is one Go style transfer's measurements.
type goRun struct {
	setup, first time.Duration
	step         float64         // seconds per step after the first
	losses       [2]style.Losses // at the first and the last step
	image        *tensors.Tensor // the final image
}

// runGo runs steps of Go's style transfer, through the graph alone if
// graphOnly, profiling the steps after the first into profile (if not "").
func runGo(m *gomlx_vgg.Model, content, styleImage *tensors.Tensor, lr float64, steps int, graphOnly bool, profile string) goRun {
	var r goRun
	t0 := time.Now()
	t, err := style.New(m).LearningRate(lr, style.DefaultDecaySteps, style.DefaultDecayRate).GraphOnly(graphOnly).Done(content, styleImage)
	check(err)
	r.setup = time.Since(t0)
	t0 = time.Now()
	r.losses[0], err = t.Step()
	check(err)
	r.first = time.Since(t0)
	if profile != "" {
		f, err := os.Create(profile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	t0 = time.Now()
	for range steps - 1 {
		r.losses[1], err = t.Step()
		check(err)
	}
	r.step = time.Since(t0).Seconds() / float64(steps-1)
	r.image = t.Image()
	return r
}

// photoInput is imagenet.PhotoInput, exiting on an error.
func photoInput(photo func(...imagenet.ImgOption) (*image.NRGBA, error), h, w int) *tensors.Tensor {
	x, err := imagenet.PhotoInput(photo, h, w)
	check(err)
	return x
}

func check(err error) {
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/style:", err)
	os.Exit(1)
}
