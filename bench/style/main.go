// Command style benchmarks neural style transfer (gomlx_vgg/style, Keras'
// example on VGG19) on the pure-Go backend against PyTorch (Debian's
// python3-torch, float32, through torchref's reference script) doing the same
// run on the same weights and photos, in one run, and prints seconds per step,
// the final losses and the ratio Go/PyTorch:
//
//	GOEXPERIMENT=simd go run ./bench/style [-height 224] [-width 224] [-steps 20] [-lr 1e4] [-threads 2] [-cpuprofile c.prof]
//
// The first step is reported apart (GoMLX compiles its graph). Keras' example
// itself runs 400 rows (400x601 for the demo photo, 451x300) for 4000 steps:
// -height 400 -width 601 -steps 10 measures the time per step at that size. With -cpuprofile, Go's
// steps after the first are profiled.
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
	profile := flag.String("cpuprofile", "", "write a CPU profile of Go's steps after the first to this file")
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

	t, err := style.New(m).LearningRate(*lr, style.DefaultDecaySteps, style.DefaultDecayRate).
		Done(photoInput(imagenet.DemoImage, *height, *width), photoInput(imagenet.CoffeeImage, *height, *width))
	check(err)
	setup := time.Since(t0)
	if synthetic {
		fmt.Println("(SYNTHETIC VGG19 weights: the times do not depend on the values; the pictures mean little)")
	}
	t0 = time.Now()
	first, err := t.Step()
	check(err)
	goFirst := time.Since(t0)
	if *profile != "" {
		f, err := os.Create(*profile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer f.Close()
	}
	t0 = time.Now()
	var last style.Losses
	for range *steps - 1 {
		last, err = t.Step()
		check(err)
	}
	goStep := time.Since(t0).Seconds() / float64(*steps-1)
	if *profile != "" {
		pprof.StopCPUProfile()
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
	_, rel := consistency.Compare(tensors.MustCopyFlatData[float32](t.Image()), run.Image)

	fmt.Printf("\n| | first step s | s/step after | loss at step 0 | loss at step %d |\n|---|---|---|---|---|\n", *steps-1)
	fmt.Printf("| Go (pure Go backend; set-up %.1f s) | %.2f | %.3f | %.6g | %.6g |\n", setup.Seconds(), goFirst.Seconds(), goStep, first.Total, last.Total)
	fmt.Printf("| PyTorch %s float32, %d threads | %.2f | %.3f | %.6g | %.6g |\n", ref.Torch, *threads, run.Steps[0].Seconds, ptStep,
		run.Steps[0].Total(), run.Steps[len(run.Steps)-1].Total())
	fmt.Printf("\nGo/PyTorch per step: %.2f; final images differ by %.2g of the largest value\n", goStep/ptStep, rel)
	fmt.Printf("Keras' example's 4000 steps at this size: Go %.0f min, PyTorch %.0f min\n", 4000*goStep/60, 4000*ptStep/60)
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
