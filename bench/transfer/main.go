// Command transfer benchmarks the transfer-learning post's training steps on
// the pure-Go backend (gomlx_vgg/transfer: on the native kernels) and in PyTorch (Debian's
// python3-torch, NCHW and channels_last), in one run, and prints seconds per
// step and the ratios:
//
//	(a) the head alone on cached block2_pool features, batch 32;
//	(b) end to end, VGG16 to block2_pool frozen + head, batch 8, 160x160;
//	(c) fine-tuning, VGG16 to block5_pool with every conv trainable + head,
//	    batch 8, 160x160, and the first step (GoMLX compiles its graph).
//
//	GOEXPERIMENT=simd go run ./bench/transfer [-seconds 20] [-threads 2] [-cpuprofile c.prof]
//
// With -cpuprofile, case (c)'s steps after the first are profiled (go tool
// pprof -top shows where the time goes).
package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/transfer"
	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/weights"
)

//go:embed torch_transfer.py
var torchScript []byte

type result struct {
	First float64 `json:"first_s"`
	Step  float64 `json:"step_s"`
	Steps int     `json:"steps"`
	// Engine, for Go: what ran the VGG base.
	Engine string `json:"-"`
}

func main() {
	seconds := flag.Float64("seconds", 20, "measuring time per case (at least 2 steps)")
	threads := flag.Int("threads", runtime.NumCPU(), "PyTorch threads")
	pythonBin := flag.String("python", python.FromEnv(), "python with torch")
	profile := flag.String("cpuprofile", "", "write a CPU profile of case (c)'s steps to this file")
	flag.Parse()
	fmt.Printf("transfer-learning training steps, %d CPUs, %s, native kernels %s\n", runtime.NumCPU(), runtime.Version(), gomlx_vgg.NativeKernels())
	path, synthetic, err := weights.ImageNetOrSynthetic("vgg16", false, 1)
	check(err)
	if synthetic {
		fmt.Println("(SYNTHETIC VGG16 weights: the times do not depend on the values)")
	}
	goRes := map[string]result{}

	post, err := transfer.NewPostModel(path, 1)
	check(err)
	feats := random(32, 40, 40, 128)
	goRes["a"] = measure(post.HeadTrainer(transfer.RMSprop(1e-4)), feats, 32, *seconds, "")
	images := random(8, 160, 160, 3)
	goRes["b"] = measure(post.EndToEndTrainer(transfer.RMSprop(1e-4)), images, 8, *seconds, "")
	full, err := transfer.NewStacked(path, "block5_pool", 160, 1)
	check(err)
	goRes["c"] = measure(full.EndToEndTrainer(transfer.RMSprop(1e-4)), images, 8, *seconds, *profile)

	out, err := python.Run(*pythonBin, "torch_transfer.py", torchScript, strconv.Itoa(*threads), fmt.Sprint(*seconds))
	check(err)
	var torch struct {
		Torch        string            `json:"torch"`
		Threads      int               `json:"threads"`
		Default      map[string]result `json:"default"`
		ChannelsLast map[string]result `json:"channels_last"`
	}
	check(json.Unmarshal(out, &torch))
	names := map[string]string{"a": "(a) head on features, batch 32", "b": "(b) end to end, base frozen, batch 8",
		"c": "(c) fine-tune all convs, batch 8"}
	fmt.Printf("%-38s %10s %12s %12s %10s %10s\n", "s/step", "go", "torch", "torch CL", "go/torch", "go/CL")
	for _, k := range []string{"a", "b", "c"} {
		g, t, cl := goRes[k].Step, torch.Default[k].Step, torch.ChannelsLast[k].Step
		fmt.Printf("%-38s %10.3f %12.3f %12.3f %10.2f %10.2f\n", names[k], g, t, cl, g/t, g/cl)
	}
	fmt.Printf("%-38s %10.1f %12.1f %12.1f\n", "(c) first step (s), incl. compilation", goRes["c"].First,
		torch.Default["c"].First, torch.ChannelsLast["c"].First)
	fmt.Printf("(PyTorch %s, %d threads; Go: GoMLX pure-Go backend, steps (a) on %s, (b) on %s, (c) on %s; steps measured: a %d, b %d, c %d)\n",
		torch.Torch, torch.Threads, goRes["a"].Engine, goRes["b"].Engine, goRes["c"].Engine, goRes["a"].Steps, goRes["b"].Steps, goRes["c"].Steps)
}

// measure times the first step, then steps for at least seconds (and 2 steps).
func measure(tr *transfer.Trainer, x *tensors.Tensor, batch int, seconds float64, profile string) result {
	labels := make([]int32, batch)
	for i := range labels {
		labels[i] = int32(i % 10)
	}
	t0 := time.Now()
	_, err := tr.Step(x, labels)
	check(err)
	r := result{First: time.Since(t0).Seconds(), Engine: "the GoMLX graph"}
	if tr.Native() {
		r.Engine = "the native kernels (base, head and RMSprop)"
	}
	if profile != "" {
		f, err := os.Create(profile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	t0 = time.Now()
	for r.Steps < 2 || time.Since(t0).Seconds() < seconds {
		_, err := tr.Step(x, labels)
		check(err)
		r.Steps++
	}
	r.Step = time.Since(t0).Seconds() / float64(r.Steps)
	return r
}

// random is a deterministic batch of the given shape.
func random(dims ...int) *tensors.Tensor {
	x := tensors.FromShape(shapes.Make(dtypes.Float32, dims...))
	tensors.MutableFlatData(x, func(f []float32) {
		for i := range f {
			f[i] = float32((i*7919)%1000)/10 - 50
		}
	})
	return x
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/transfer:", err)
		os.Exit(1)
	}
}
