// Command serve benchmarks `vggnb serve` on 127.0.0.1 only, two ways.
//
// -tool hey (the default): the real `vggnb serve --model vgg19 --include-top
// --weights synthetic` process, one per load and engine (-engines
// graph,native: before and after the native kernels served), loaded by
// Debian's hey (one raw-tensor client: batch 1; 8 PNG clients; 16 JSON
// clients) and wrk (32 raw-tensor clients): requests/s, p50/p99, answers
// other than 200, the server's peak RSS, and the ratio to direct native calls
// (Model.Predict) in the same run.
//
//	GOEXPERIMENT=simd go run ./bench/serve [-engines graph,native] [-seconds 20] [-size 224]
//
// -tool loadtest: a frozen model served in this process, N concurrent clients
// for a bounded time and count, valid requests (PNG, JPEG, JSON tensors) and
// malformed ones (truncated and garbage images, a 60000x60000 PNG header,
// wrong shapes, bad JSON, wrong methods) mixed. It prints requests/s, p50/p99
// latency, memory, whether every valid answer equals a direct call to the
// model and every malformed one got a 4xx, and the served throughput against
// direct calls in the same run (the cost of HTTP, decoding and queueing).
//
//	GOEXPERIMENT=simd go run ./bench/serve -tool loadtest [-model vgg19|mlp] [-size 224] [-clients 8] [-seconds 30] [-max-batch 4]
//
// The VGG19 (no top) has SYNTHETIC weights (no ImageNet file here): the
// numbers are about speed and correctness, not about predictions.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/adapt"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/gomlx_vgg/serve"
	"github.com/vggnb/vggnb/gomlx_vgg/serve/loadtest"
)

func main() {
	which := flag.String("model", "vgg19", "vgg19 (no top, synthetic weights) or mlp (trained briefly on random data)")
	size := flag.Int("size", 224, "image side for the VGG")
	clients := flag.Int("clients", 8, "concurrent clients")
	seconds := flag.Float64("seconds", 30, "test duration")
	maxReq := flag.Int("max-requests", 100000, "most requests sent")
	every := flag.Int("malformed-every", 4, "every n-th request is malformed")
	maxBatch := flag.Int("max-batch", 4, "the server's MaxBatch (peak memory grows with it)")
	tool := flag.String("tool", "hey", "hey: the vggnb serve process under Debian's hey and wrk; loadtest: the in-process load test with malformed requests")
	engines := flag.String("engines", "graph,native", "with -tool hey: the engines to serve with, each in its own server (graph: before the native kernels served)")
	flag.Parse()
	if *tool == "hey" {
		secs := *seconds
		if !isSet("seconds") {
			secs = 20
		}
		if err := toolsRun(strings.Split(*engines, ","), time.Duration(secs*float64(time.Second)), *size); err != nil {
			fmt.Fprintln(os.Stderr, "bench/serve:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*which, *size, *clients, time.Duration(*seconds*float64(time.Second)), *maxReq, *every, *maxBatch); err != nil {
		fmt.Fprintln(os.Stderr, "bench/serve:", err)
		os.Exit(1)
	}
}

// isSet reports whether the flag name was given.
func isSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func frozen(which string) (*freeze.Net, error) {
	switch which {
	case "vgg19":
		m, err := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Done()
		if err != nil {
			return nil, err
		}
		return adapt.VGG(m)
	case "mlp":
		m := mlp.New(mlp.Config{}, nil)
		d := mlp.RandomDataset(1000, 10, 1)
		if _, err := m.Train(d, 20, nil, nil, 0, nil); err != nil {
			return nil, err
		}
		return adapt.MLP(m)
	}
	return nil, fmt.Errorf("-model %q: vgg19 or mlp", which)
}

func run(which string, size, clients int, d time.Duration, maxReq, every, maxBatch int) error {
	n, err := frozen(which)
	if err != nil {
		return err
	}
	f, err := n.File()
	if err != nil {
		return err
	}
	runner, err := f.Runner(nil)
	if err != nil {
		return err
	}
	s := serve.New(runner, serve.Config{ImageSize: size, MaxBatch: maxBatch})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, 30*time.Second) }()
	base := "http://" + ln.Addr().String()

	valid, err := loadtest.ValidRequests(s, runner, 6)
	if err != nil {
		return err
	}
	// Direct calls, batch 1, for the same inputs: the ceiling without HTTP.
	start, calls := time.Now(), 0
	for time.Since(start) < 5*time.Second || calls < 3 {
		x, err := s.Input(valid[calls%len(valid)].ContentType, nil, valid[calls%len(valid)].Body)
		if err != nil {
			return err
		}
		if _, err := runner.Run(x); err != nil {
			return err
		}
		calls++
	}
	direct := float64(calls) / time.Since(start).Seconds()

	fmt.Printf("bench/serve: %s, input %s, output %s; %d clients for %v on %s, max batch %d\n",
		f.Title(), f.Input, f.Output, clients, d, base, maxBatch)
	if f.Synthetic() {
		fmt.Println("  " + f.Meta["vggnb.notice"])
	}
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: base, Clients: clients, Duration: d, MaxRequests: maxReq,
		Valid: valid, Malformed: loadtest.Malformed(imagenet.DemoImagePNG()), MalformedEvery: every})
	if err != nil {
		return err
	}
	cancel()
	if err := <-done; err != nil {
		return err
	}
	fmt.Print(rep.String())
	validRate := float64(rep.Valid) / rep.Seconds
	fmt.Printf("valid requests/s %.2f vs direct calls (decode + Run, batch 1, no HTTP) %.2f/s: ratio %.2f\n", validRate, direct, validRate/direct)
	if rep.Mismatches > 0 || rep.WrongRejections > 0 || rep.Valid == 0 {
		return fmt.Errorf("%d wrong answers, %d malformed requests not refused", rep.Mismatches, rep.WrongRejections)
	}
	return nil
}
