// Command vgg benchmarks VGG19 features (no top) on the pure-Go backend, in
// PyTorch (Debian's python3-torch, default and channels_last), in ONNX
// Runtime (onnxruntime-node running vggnb's own frozen file, the same
// threads) and in oneDNN (Debian's libdnnl-dev: onednn/onednn_vgg.c, the
// vendor library's own primitives, the same threads) in one run on this
// machine: per-image time, GFLOP/s, the Go/peer ratios and Go/best peer for
// batch 1 at 224x224 and 200x300 and batch 8 at 224x224; the native kernels
// with Winograd F(2x2) only (before F(4x4)); the GoMLX graph (im2col) for
// comparison; the native kernels in this program built three ways (plain
// `go build`, GOEXPERIMENT=simd, -tags purego), in turns; then the weight
// load time and process start to first output.
// The output format is stable, one line per measurement, for run-to-run diffs.
//
//	go run ./bench/vgg [-reps 5] [-threads 2] [-cpuprofile f]
package main

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/adapt"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/ort"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/internal/environ"
	"github.com/vggnb/vggnb/internal/procstat"
	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/weights"
)

//go:embed torch_vgg.py
var torchScript []byte

//go:embed onednn/onednn_vgg.c
var onednnSource []byte

// benchCase is a batch of n images of h x w.
type benchCase struct{ n, h, w int }

var cases = []benchCase{{1, 224, 224}, {1, 200, 300}, {8, 224, 224}}

func main() {
	reps := flag.Int("reps", 5, "timed runs per case (median reported)")
	threads := flag.Int("threads", runtime.NumCPU(), "PyTorch threads")
	pythonBin := flag.String("python", python.FromEnv(), "python with torch")
	child := flag.String("child", "", "internal: weights file for the start-to-first-output run")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the Go runs (native kernels) here")
	builds := flag.Bool("builds", true, "also time the native kernels built plainly, with GOEXPERIMENT=simd and with -tags purego (go on PATH, run from the checkout)")
	childNative := flag.String("child-native", "", "internal: time these cases (comma-separated) on the native kernels, print JSON")
	ortDir := flag.String("ort-dir", "scripts/ort", "the pinned ONNX Runtime's directory (a vggnb checkout's scripts/ort)")
	flag.Parse()
	if *child != "" {
		firstOutput(*child)
		return
	}
	if *childNative != "" {
		timeNative(strings.Split(*childNative, ","), *reps)
		return
	}
	// Slower native kernels, to compare: $VGGNB_SIMD=AVX2|none, $VGGNB_CONV=direct.
	m, err := environ.NativeKernels(gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil)).Done()
	check(err)
	fmt.Printf("bench/vgg: VGG19 features, %d CPUs, %s, GOGC=%s, go = %s kernels (%s)\n",
		runtime.NumCPU(), runtime.Version(), gogc(), m.Engine(), m.NativeKernels())
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
	}
	goTimes := map[string]float64{}
	for _, c := range cases {
		x := tensors.FromShape(shapes.Make(dtypes.Float32, c.n, c.h, c.w, 3))
		goTimes[key(c.n, c.h, c.w)] = medianTime(*reps, func() error { _, err := m.Predict(x); return err })
	}
	if *cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	// Before F(4x4): the same kernels with Winograd F(2x2) only, in this run.
	f2Times := map[string]float64{}
	if m.ConvAlgorithm() == gomlx_vgg.ConvWinograd && strings.Contains(m.NativeKernels(), "F(4x4") {
		m2, err := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil).
			SIMD(m.NativeSIMD()).ConvAlgorithm(gomlx_vgg.ConvWinograd2).Done()
		check(err)
		for _, c := range cases {
			x := tensors.FromShape(shapes.Make(dtypes.Float32, c.n, c.h, c.w, 3))
			f2Times[key(c.n, c.h, c.w)] = medianTime(*reps, func() error { _, err := m2.Predict(x); return err })
		}
	}
	x224 := tensors.FromShape(shapes.Make(dtypes.Float32, 1, 224, 224, 3))
	graph := medianTime(*reps, func() error { _, err := m.GraphOutputs(x224); return err })
	torch := runTorch(*pythonBin, *threads, *reps)
	dnnl, err := runOneDNN(m, m, *threads, *reps, cases)
	check(err)
	ortTimes, ortVersion := runORT(ort.Runtime{Dir: *ortDir}, m, *threads, *reps)
	fmt.Printf("%-12s %10s %10s %10s %11s %10s %10s %9s %11s %7s %9s %10s\n", "case", "go ms/img", "go GFLOP/s", "torch ms", "torch_cl ms", "ort ms",
		"onednn ms", "go/torch", "go/torch_cl", "go/ort", "go/onednn", "go/best")
	for _, c := range cases {
		k := key(c.n, c.h, c.w)
		g := goTimes[k] / float64(c.n)
		t := torch.Runs[k+"/default"] / float64(c.n)
		tcl := torch.Runs[k+"/channels_last"] / float64(c.n)
		o := ortTimes[k] / float64(c.n)
		d := dnnl.Runs[k] / float64(c.n)
		fmt.Printf("%-12s %10.1f %10.1f %10.1f %11.1f %10.1f %10.1f %9.2f %11.2f %7.2f %9.2f %10.2f\n", k, 1000*g, flops(c.h, c.w)/g/1e9, 1000*t, 1000*tcl, 1000*o,
			1000*d, g/t, g/tcl, g/o, g/d, g/min(t, tcl, o, d))
	}
	fmt.Printf("(PyTorch %s, %d threads; ONNX Runtime %s, %d intra-op threads, vggnb's frozen file; oneDNN %s, %d OpenMP threads, "+
		"convolution_auto, its own layouts; ms per image)\n", torch.Torch, torch.Threads, ortVersion, *threads, dnnl.Version, *threads)
	for _, c := range cases {
		k := key(c.n, c.h, c.w)
		if t2, ok := f2Times[k]; ok {
			fmt.Printf("go Winograd F(2x2) only (VGGNB_CONV=winograd2) %-12s %6.1f ms/img; default (F(4x4)) / F(2x2) only %.2f\n",
				k, 1000*t2/float64(c.n), goTimes[k]/t2)
		}
	}
	g := goTimes[key(1, 224, 224)]
	if peak := gomlx_vgg.NativeFMAPeak(runtime.NumCPU(), time.Second); peak > 0 {
		f := flops(224, 224) / 1e9
		best := min(torch.Runs[key(1, 224, 224)+"/channels_last"], ortTimes[key(1, 224, 224)], dnnl.Runs[key(1, 224, 224)])
		fmt.Printf("FMA peak (AVX-512, %d cores, FMAs only): %.1f GFLOP/s; 1x224x224 reaches %.0f%% of it in go, %.0f%% in the best peer; "+
			"0.8x that peer needs %.0f%% with VGG's %.1f GFLOP\n", runtime.NumCPU(), peak, 100*f/g/peak, 100*f/best/peak, 100*f/(0.8*best)/peak, f)
		if !strings.Contains(m.NativeKernels(), "direct") {
			fmt.Printf("(GFLOP/s and shares of the peak count the direct convolution's %.1f GFLOP; Winograd does 4x (F(4x4)) or 2.25x "+
				"(F(2x2)) fewer multiplies in all layers but the first, so go can pass 100%%; VGGNB_CONV=direct runs the direct convolution)\n", f)
		}
	}
	if *builds {
		compareBuilds(*reps)
	}
	matmul := "portable matmul: this build has no GOEXPERIMENT=simd"
	if strings.Contains(m.NativeKernels(), `GOEXPERIMENT="simd`) {
		matmul = "SIMD matmul"
	}
	fmt.Printf("GoMLX graph (im2col + %s) 1x224x224: %.1f ms/img, %.1f GFLOP/s; native/graph %.2f\n",
		matmul, 1000*graph, flops(224, 224)/graph/1e9, g/graph)
	loadAndStart()
}

// nativeRun is what a -child-native run prints.
type nativeRun struct {
	Kernels string             `json:"kernels"`
	Times   map[string]float64 `json:"times"` // seconds per batch, by case
}

// timeNative is the -child-native child: VGG19 features on the native
// kernels for each case (median of reps), as JSON on stdout.
func timeNative(keys []string, reps int) {
	m, err := environ.NativeKernels(gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil)).Done()
	check(err)
	r := nativeRun{Kernels: m.NativeKernels(), Times: map[string]float64{}}
	for _, c := range cases {
		if k := key(c.n, c.h, c.w); slices.Contains(keys, k) {
			x := tensors.FromShape(shapes.Make(dtypes.Float32, c.n, c.h, c.w, 3))
			r.Times[k] = medianTime(reps, func() error { _, err := m.Predict(x); return err })
		}
	}
	check(json.NewEncoder(os.Stdout).Encode(r))
}

// compareBuilds builds this benchmark three ways (a plain `go build`, with
// GOEXPERIMENT=simd, and with the purego tag: the portable kernels) and
// times the native kernels in each, one after the other in this run: the
// assembly needs no experiment, so plain/simd should be ~1. The portable
// build runs 1x224x224 once only (it is ~40x slower).
func compareBuilds(reps int) {
	dir, err := os.MkdirTemp("", "bench-vgg-builds-")
	check(err)
	defer os.RemoveAll(dir)
	var all []string
	for _, c := range cases {
		all = append(all, key(c.n, c.h, c.w))
	}
	builds := []struct {
		name, experiment, tags string
		keys                   []string
		reps                   int
	}{
		{"plain go build", "", "", all, reps},
		{"GOEXPERIMENT=simd", "simd", "", all, reps},
		{"-tags purego", "", "purego", all[:1], 1},
	}
	bins := make([]string, len(builds))
	for i, b := range builds {
		bins[i] = filepath.Join(dir, fmt.Sprintf("vgg%d", i))
		build := exec.Command("go", "build", "-tags="+b.tags, "-o", bins[i], "./bench/vgg")
		build.Env = append(os.Environ(), "GOEXPERIMENT="+b.experiment)
		if out, err := build.CombinedOutput(); err != nil {
			check(fmt.Errorf("%s: go build: %v\n%s", b.name, err, out))
		}
	}
	// The fast builds take turns, twice, and keep their best median per case:
	// one build's run is not favoured by coming first or last.
	runs := make([]nativeRun, len(builds))
	for round := range 2 {
		for i, b := range builds {
			if round > 0 && b.reps == 1 {
				continue
			}
			out, err := exec.Command(bins[i], "-child-native", strings.Join(b.keys, ","), "-reps", strconv.Itoa(b.reps)).Output()
			check(err)
			var r nativeRun
			check(json.Unmarshal(out, &r))
			if round == 0 {
				runs[i] = r
				continue
			}
			for k, t := range r.Times {
				runs[i].Times[k] = min(runs[i].Times[k], t)
			}
		}
	}
	fmt.Printf("native kernels by build, in turns (ms per image, best of 2 medians; /simd: the build's time over the GOEXPERIMENT=simd build's, worst case):\n")
	fmt.Printf("%-19s %-56s", "build", "kernels")
	for _, k := range all {
		fmt.Printf(" %10s", k)
	}
	fmt.Printf(" %7s\n", "/simd")
	for i, b := range builds {
		fmt.Printf("%-19s %-56s", b.name, runs[i].Kernels)
		worst := 0.0
		for j, k := range all {
			t, ok := runs[i].Times[k]
			if !ok {
				fmt.Printf(" %10s", "-")
				continue
			}
			fmt.Printf(" %10.1f", 1000*t/float64(cases[j].n))
			worst = max(worst, t/runs[1].Times[k])
		}
		fmt.Printf(" %7.2f\n", worst)
	}
}

// runORT freezes m (gomlx_vgg/freeze) and times it in ONNX Runtime rt on each case
// (reps runs after one untimed, median, in seconds), after checking that ONNX
// Runtime's block5_pool equals the Go model's on the first case.
func runORT(rt ort.Runtime, m *gomlx_vgg.Model, threads, reps int) (map[string]float64, string) {
	net, err := adapt.VGG(m)
	check(err)
	dir, err := os.MkdirTemp("", "bench-vgg-")
	check(err)
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "vgg19_notop.onnx")
	check(net.WriteFile(path))
	times := map[string]float64{}
	version := ""
	for i, c := range cases {
		x := patternInput(c)
		res, err := rt.RunWith(context.Background(), path, freeze.InputName, x, ort.Options{Threads: threads, Reps: reps})
		check(err)
		if i == 0 {
			want, err := m.Predict(x)
			check(err)
			if !want.Shape().Equal(res.Output.Shape()) {
				check(fmt.Errorf("ONNX Runtime's output is %s, the Go model's %s", res.Output.Shape(), want.Shape()))
			}
			_, d := consistency.Compare(tensors.MustCopyFlatData[float32](res.Output), tensors.MustCopyFlatData[float32](want))
			if !(d <= 1e-5) {
				check(fmt.Errorf("ONNX Runtime's block5_pool differs from the Go model's: max|diff|/max|ref| = %.3g", d))
			}
		}
		times[key(c.n, c.h, c.w)] = res.Millis / 1000
		version = res.Version
	}
	return times, version
}

// oneDNNResult is what onednn_vgg prints.
type oneDNNResult struct {
	Version string             `json:"version"`
	Runs    map[string]float64 `json:"runs"` // seconds per batch, by case
}

// runOneDNN builds onednn/onednn_vgg.c against Debian's oneDNN (libdnnl-dev)
// with the C compiler ($CC, default gcc), gives it m's weights, and times
// VGG19's features in it on each case with threads OpenMP threads, after
// checking that its block5_pool equals ref's (m, or another model to test
// the check) on the first case.
func runOneDNN(m, ref *gomlx_vgg.Model, threads, reps int, cs []benchCase) (oneDNNResult, error) {
	var r oneDNNResult
	dir, err := os.MkdirTemp("", "bench-vgg-onednn-")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(dir)
	src, bin := filepath.Join(dir, "onednn_vgg.c"), filepath.Join(dir, "onednn_vgg")
	if err := os.WriteFile(src, onednnSource, 0o644); err != nil {
		return r, err
	}
	cc := cmp.Or(os.Getenv("CC"), "gcc")
	if out, err := exec.Command(cc, "-O2", "-o", bin, src, "-ldnnl").CombinedOutput(); err != nil {
		return r, fmt.Errorf("building the oneDNN peer (apt-get install libdnnl-dev): %s: %v\n%s", cc, err, out)
	}
	// The 16 convolutions' kernels (HWIO, as Keras and the Go model hold them) and biases.
	var w []byte
	for _, l := range m.Layers() {
		if l.Class != weights.Conv2D {
			continue
		}
		k, b, err := m.LayerWeights(l.Name)
		if err != nil {
			return r, err
		}
		for _, t := range []*tensors.Tensor{k, b} {
			tensors.MustConstFlatData(t, func(v []float32) { w = append(w, weights.Float32sToLE(v)...) })
		}
	}
	wpath, out := filepath.Join(dir, "weights.bin"), filepath.Join(dir, "out.bin")
	if err := os.WriteFile(wpath, w, 0o644); err != nil {
		return r, err
	}
	args := []string{wpath, strconv.Itoa(reps), out}
	for _, c := range cs {
		args = append(args, fmt.Sprintf("%d,%d,%d", c.n, c.h, c.w))
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("OMP_NUM_THREADS=%d", threads))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		return r, fmt.Errorf("the oneDNN peer: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout, &r); err != nil {
		return r, fmt.Errorf("the oneDNN peer printed %q: %w", stdout, err)
	}
	// Its first case's block5_pool against the Go model's, on the same input.
	x := patternInput(cs[0])
	want, err := ref.Predict(x)
	if err != nil {
		return r, err
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return r, err
	}
	got := weights.Float32sFromLE(b)
	wantData := tensors.MustCopyFlatData[float32](want)
	if len(got) != len(wantData) {
		return r, fmt.Errorf("oneDNN's output has %d values, the Go model's %d", len(got), len(wantData))
	}
	if _, d := consistency.Compare(got, wantData); !(d <= 1e-5) {
		return r, fmt.Errorf("oneDNN's block5_pool differs from the Go model's: max|diff|/max|ref| = %.3g", d)
	}
	return r, nil
}

// patternInput is the peers' input for case c: value j is j%251 - 125.
func patternInput(c benchCase) *tensors.Tensor {
	x := tensors.FromShape(shapes.Make(dtypes.Float32, c.n, c.h, c.w, 3))
	tensors.MustMutableFlatData(x, func(v []float32) {
		for j := range v {
			v[j] = float32(j%251) - 125
		}
	})
	return x
}

// medianTime runs fn once to warm up (compile, pack), then reps times, and
// returns the median time in seconds.
func medianTime(reps int, fn func() error) float64 {
	check(fn())
	var ts []float64
	for range reps {
		t0 := time.Now()
		check(fn())
		ts = append(ts, time.Since(t0).Seconds())
	}
	slices.Sort(ts)
	return ts[len(ts)/2]
}

func key(n, h, w int) string { return fmt.Sprintf("%dx%dx%d", n, h, w) }

func gogc() string {
	if v := os.Getenv("GOGC"); v != "" {
		return v
	}
	return "100"
}

// flops is the multiply-adds x2 of VGG19's convolutions for one h x w image.
func flops(h, w int) float64 {
	var f float64
	cin := 3
	for b, n := range []int{2, 2, 4, 4, 4} {
		cout := []int{64, 128, 256, 512, 512}[b]
		for range n {
			f += 2 * float64(h*w*9*cin*cout)
			cin = cout
		}
		h, w = h/2, w/2
	}
	return f
}

type torchResult struct {
	Torch   string             `json:"torch"`
	Threads int                `json:"threads"`
	Runs    map[string]float64 `json:"runs"`
}

func runTorch(pythonBin string, threads, reps int) torchResult {
	args := []string{strconv.Itoa(threads), strconv.Itoa(reps)}
	for _, c := range cases {
		args = append(args, key(c.n, c.h, c.w))
	}
	out, err := python.Run(pythonBin, "torch_vgg.py", torchScript, args...)
	check(err)
	var r torchResult
	check(json.Unmarshal(out, &r))
	return r
}

// loadAndStart writes a synthetic VGG19 no-top file, then times a cached load
// and a fresh process from exec to its first VGG19 output.
func loadAndStart() {
	dir, err := os.MkdirTemp("", "vggnb-bench-")
	check(err)
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "vgg19_notop.h5")
	spec := weights.MustVGG("vgg19", false, 0)
	check(weights.WriteKeras2(path, weights.Synthetic(spec, 1)))
	cache := weights.WithCacheDir(filepath.Join(dir, "cache"))
	t0 := time.Now()
	_, err = weights.LoadVGG(path, spec, cache)
	check(err)
	cold := time.Since(t0)
	t0 = time.Now()
	_, err = weights.LoadVGG(path, spec, cache)
	check(err)
	fmt.Printf("weights load (80 MB VGG19 no-top): cold %.1f ms, cached %.1f ms\n", ms(cold), ms(time.Since(t0)))
	self, err := os.Executable()
	check(err)
	child := func(arg string) (secs float64, peakRSS int64) {
		t0 := time.Now()
		cmd := exec.Command(self, "-child", arg)
		cmd.Env = append(os.Environ(), "VGGNB_CACHE="+filepath.Join(dir, "cache"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			check(fmt.Errorf("child: %v\n%s", err, out))
		}
		secs = time.Since(t0).Seconds()
		// The child's own peak (VmHWM of its address space after exec): getrusage's
		// maxrss of a child also counts this process's memory it shared before exec.
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, childPeakRSS); ok {
				kb, err := strconv.ParseInt(v, 10, 64)
				check(err)
				peakRSS = kb * 1024
			}
		}
		return secs, peakRSS
	}
	var ts []float64
	var rss int64
	for range 5 {
		secs, r := child(path)
		ts = append(ts, secs)
		rss = max(rss, r)
	}
	slices.Sort(ts)
	fmt.Printf("process start to first VGG19 224x224 output (weights cached): %.0f ms (median of 5; fastest %.0f, slowest %.0f)\n",
		1000*ts[2], 1000*ts[0], 1000*ts[4])
	bytes := func(s weights.Spec) float64 {
		n := 0
		for _, l := range s.Weighted() {
			for _, sh := range l.Shapes {
				n += weights.Size(sh)
			}
		}
		return 4 * float64(n)
	}
	// The largest activation pair (block1: 2 x 224x224x64 float32) bounds what the
	// features need beside the weights.
	acts := 2 * 4 * 224 * 224 * 64.0
	w := bytes(spec)
	fmt.Printf("peak RSS, VGG19 no-top features from the cached file: %.0f MB = %.2f x (weights %.0f MB + activations %.0f MB)\n",
		float64(rss)/1e6, float64(rss)/(w+acts), w/1e6, acts/1e6)
	_, rss = child(childPredict)
	w = bytes(weights.MustVGG("vgg19", true, 0))
	fmt.Printf("peak RSS, `vggnb predict` (VGG19 with top, SYNTHETIC weights): %.0f MB = %.2f x the weights' %.0f MB\n",
		float64(rss)/1e6, float64(rss)/w, w/1e6)
}

// childPredict makes the child do what `vggnb predict` does with its defaults:
// VGG19 with its top, synthetic weights, the demo photo.
const childPredict = "predict"

// firstOutput is the child: load cached weights (or, for childPredict,
// synthetic ones with the top), run VGG19 once on the demo photo.
func firstOutput(path string) {
	b := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightSource(path))
	if path == childPredict {
		b = gomlx_vgg.VGG19().IncludeTop(true).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil)
	}
	m, err := environ.NativeKernels(b).Done()
	check(err)
	x, err := imagenet.PhotoInput(imagenet.DemoImage, 224, 224)
	check(err)
	_, err = m.Predict(x)
	check(err)
	// The peak resident memory, for the parent (Linux).
	if kb, ok := procstat.KB("VmHWM"); ok {
		fmt.Printf("%s%d\n", childPeakRSS, kb)
	}
}

// childPeakRSS starts the child's output line with its peak resident set in kB.
const childPeakRSS = "peak RSS kB: "

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/vgg:", strings.TrimSpace(err.Error()))
		os.Exit(1)
	}
}
