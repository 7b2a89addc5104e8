// Command mlp benchmarks training steps per second of the seed's MLP
// (784-128-128-10, SGD lr 0.5) on the pure-Go backend and in PyTorch (Debian's
// python3-torch), in one run on the same machine, and prints the ratio.
//
//	GOEXPERIMENT=simd go run ./bench/mlp [-seconds 3] [-threads 2]
package main

import (
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/internal/python"
)

//go:embed torch_mlp.py
var torchScript []byte

func main() {
	seconds := flag.Float64("seconds", 3, "measuring time per batch size")
	threads := flag.Int("threads", runtime.NumCPU(), "PyTorch threads")
	pythonBin := flag.String("python", python.FromEnv(), "python with torch")
	flag.Parse()
	batches := []int{50, 512}
	fmt.Printf("MLP 784-128-128-10 training steps/s, %d CPUs, %s\n", runtime.NumCPU(), runtime.Version())
	goRates := map[int]float64{}
	for _, b := range batches {
		goRates[b] = goSteps(b, *seconds)
	}
	args := []string{strconv.Itoa(*threads), fmt.Sprint(*seconds)}
	for _, b := range batches {
		args = append(args, strconv.Itoa(b))
	}
	out, err := python.Run(*pythonBin, "torch_mlp.py", torchScript, args...)
	check(err)
	var res struct {
		Torch     string             `json:"torch"`
		Threads   int                `json:"threads"`
		StepsPerS map[string]float64 `json:"steps_per_s"`
	}
	check(json.Unmarshal(out, &res))
	fmt.Printf("%-7s %14s %16s %12s\n", "batch", "go steps/s", "torch steps/s", "go/torch")
	for _, b := range batches {
		t := res.StepsPerS[strconv.Itoa(b)]
		fmt.Printf("%-7d %14.1f %16.1f %12.3f\n", b, goRates[b], t, goRates[b]/t)
	}
	fmt.Printf("(PyTorch %s, %d threads; GoMLX pure-Go backend)\n", res.Torch, res.Threads)
}

// goSteps measures training steps per second at batch size b on random data.
func goSteps(b int, seconds float64) float64 {
	d := &mlp.Dataset{Name: "random", Rows: 28, Cols: 28, Images: make([]float32, 2048*784), Labels: make([]uint8, 2048)}
	for i := range d.Images {
		d.Images[i] = float32(i%251) / 251
	}
	for i := range d.Labels {
		d.Labels[i] = uint8(i % 10)
	}
	m := mlp.New(mlp.Config{BatchSize: b}, nil)
	idx := make([]int, b)
	for i := range idx {
		idx[i] = i
	}
	for range 20 {
		_, err := m.TrainStep(d, idx)
		check(err)
	}
	n, start := 0, time.Now()
	for time.Since(start).Seconds() < seconds {
		_, err := m.TrainStep(d, idx)
		check(err)
		n++
	}
	return float64(n) / time.Since(start).Seconds()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/mlp:", err)
		os.Exit(1)
	}
}
