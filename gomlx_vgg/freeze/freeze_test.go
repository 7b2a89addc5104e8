package freeze_test

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/compute/gobackend"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/onnx-gomlx/onnx/parser"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/adapt"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/ort"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/gomlx_vgg/transfer"
	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/internal/refcache"
	"github.com/vggnb/vggnb/weights"
)

// tolerance is the bar: |frozen - GoMLX| <= 1e-5 * max|GoMLX|.
const tolerance = 1e-5

// input is a deterministic batch of dims, values in [-lo, hi) (preprocessed
// pixels are about [-124, 152)).
func input(seed uint64, lo, hi float32, dims ...int) *tensors.Tensor {
	r := rand.New(rand.NewPCG(seed, 7))
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = lo + (hi-lo)*r.Float32()
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// maxRelDiff is max|got-ref| / max|ref| (consistency.Compare; NaN if either
// has a NaN), or an error if the shapes differ.
func maxRelDiff(ref, got *tensors.Tensor) (float64, error) {
	if !ref.Shape().Equal(got.Shape()) {
		return 0, fmt.Errorf("shape %s, want %s", got.Shape(), ref.Shape())
	}
	_, rel := consistency.Compare(tensors.MustCopyFlatData[float32](got), tensors.MustCopyFlatData[float32](ref))
	return rel, nil
}

// frozenCase is one model of the list, frozen and run four ways.
type frozenCase struct {
	name string
	net  func(t *testing.T) (*freeze.Net, func(*tensors.Tensor) (*tensors.Tensor, error))
	// dims are the input batches to check (batch 1 and 3).
	dims   [][]int
	lo, hi float32
	// gomlxOnnx is how many of the batches to run through onnx-gomlx too (its
	// convolution on the pure-Go backend takes about 20 s per 224x224 image).
	gomlxOnnx int
}

func vggCase(b *gomlx_vgg.Builder, cut string) func(t *testing.T) (*freeze.Net, func(*tensors.Tensor) (*tensors.Tensor, error)) {
	return func(t *testing.T) (*freeze.Net, func(*tensors.Tensor) (*tensors.Tensor, error)) {
		m, err := b.Weights(gomlx_vgg.WeightsSynthetic).Done()
		if err != nil {
			t.Fatal(err)
		}
		if cut != "" {
			if m, err = m.Truncate(cut); err != nil {
				t.Fatal(err)
			}
		}
		n, err := adapt.VGG(m)
		if err != nil {
			t.Fatal(err)
		}
		return n, m.Predict
	}
}

// adapted is a case's net: the model build makes, as adapt freezes it, and
// its Predict.
func adapted[M interface {
	Predict(*tensors.Tensor) (*tensors.Tensor, error)
}](build func() (M, error), adapt func(M) (*freeze.Net, error)) func(t *testing.T) (*freeze.Net, func(*tensors.Tensor) (*tensors.Tensor, error)) {
	return func(t *testing.T) (*freeze.Net, func(*tensors.Tensor) (*tensors.Tensor, error)) {
		m, err := build()
		if err != nil {
			t.Fatal(err)
		}
		n, err := adapt(m)
		if err != nil {
			t.Fatal(err)
		}
		return n, m.Predict
	}
}

func trainedMLP(t *testing.T) *mlp.Model {
	m := mlp.New(mlp.Config{Hidden: []int{64, 32}, BatchNorm: true, Dropout: 0.3, LearningRate: 0.1}, nil)
	d := mlp.RandomDataset(400, 10, 3)
	if _, err := m.Train(d, 20, nil, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	return m
}

func frozenCases() []frozenCase {
	vgg := []int{1, 224, 224, 3}
	return []frozenCase{
		{name: "vgg16_top", net: vggCase(gomlx_vgg.VGG16(), ""), dims: [][]int{vgg, {3, 224, 224, 3}}, lo: -124, hi: 152, gomlxOnnx: 1},
		{name: "vgg19_notop", net: vggCase(gomlx_vgg.VGG19().IncludeTop(false), ""),
			dims: [][]int{{1, 64, 48, 3}, {3, 32, 32, 3}}, lo: -124, hi: 152, gomlxOnnx: 2},
		{name: "vgg19_notop_avg", net: vggCase(gomlx_vgg.VGG19().IncludeTop(false).Pooling(gomlx_vgg.PoolingAvg), ""),
			dims: [][]int{{1, 32, 32, 3}, {3, 48, 32, 3}}, lo: -124, hi: 152, gomlxOnnx: 2},
		{name: "vgg16_notop_max", net: vggCase(gomlx_vgg.VGG16().IncludeTop(false).Pooling(gomlx_vgg.PoolingMax), ""),
			dims: [][]int{{1, 32, 32, 3}, {3, 32, 40, 3}}, lo: -124, hi: 152, gomlxOnnx: 2},
		{name: "vgg16_block3_conv2", net: vggCase(gomlx_vgg.VGG16().IncludeTop(false), "block3_conv2"),
			dims: [][]int{{1, 40, 36, 3}, {3, 32, 32, 3}}, lo: -124, hi: 152, gomlxOnnx: 2},
		{name: "vgg19_fc2", net: vggCase(gomlx_vgg.VGG19(), "fc2"), dims: [][]int{vgg, {3, 224, 224, 3}}, lo: -124, hi: 152, gomlxOnnx: 1},
		{name: "vgg16_top_channels_first", net: func(t *testing.T) (*freeze.Net, func(*tensors.Tensor) (*tensors.Tensor, error)) {
			// The frozen input is NHWC whatever the model's data format; the model
			// itself takes NCHW, and flattens in (C, H, W) order.
			n, predict := vggCase(gomlx_vgg.VGG16().DataFormat(weights.ChannelsFirst), "")(t)
			return n, func(x *tensors.Tensor) (*tensors.Tensor, error) {
				nchw, err := imagenet.ToDataFormat(x, weights.ChannelsLast, weights.ChannelsFirst)
				if err != nil {
					return nil, err
				}
				return predict(nchw)
			}
		}, dims: [][]int{vgg, {3, 224, 224, 3}}, lo: -124, hi: 152},
		{name: "mlp", net: func(t *testing.T) (*freeze.Net, func(*tensors.Tensor) (*tensors.Tensor, error)) {
			m := trainedMLP(t)
			n, err := adapt.MLP(m)
			if err != nil {
				t.Fatal(err)
			}
			return n, m.Predict
		}, dims: [][]int{{1, 784}, {3, 784}}, lo: 0, hi: 1, gomlxOnnx: 2},
		{name: "transfer_post", net: adapted(func() (*transfer.Stacked, error) {
			path, _, err := weights.ImageNetOrSynthetic("vgg16", false, 1)
			if err != nil {
				return nil, err
			}
			return transfer.NewPostModel(path, 5)
		}, adapt.Stacked), dims: [][]int{{1, 160, 160, 3}, {3, 160, 160, 3}}, lo: -2, hi: 2, gomlxOnnx: 2},
		{name: "transfer_head", net: adapted(func() (*transfer.Stacked, error) { return transfer.NewHead(20, 24, 3, 5, 2) }, adapt.Stacked),
			dims: [][]int{{1, 20, 24, 3}, {3, 20, 24, 3}}, lo: -0.2, hi: 0.2, gomlxOnnx: 2},
		{name: "surgery", net: adapted(func() (*transfer.Surgery, error) {
			path, _, err := weights.ImageNetOrSynthetic("vgg16", true, 1)
			if err != nil {
				return nil, err
			}
			return transfer.NewPostSurgery(path, 3)
		}, adapt.Surgery), dims: [][]int{vgg, {3, 224, 224, 3}}, lo: -124, hi: 152, gomlxOnnx: 1},
	}
}

// TestFrozenModelsAgree freezes every model of issue 16's list and checks the
// file four ways against the GoMLX model it came from, on batches of 1 and 3:
// vggnb's own GoMLX runner, ONNX Runtime (onnxruntime-node), onnx-gomlx (the
// file loaded back into GoMLX by GoMLX's ONNX importer) and python3-onnx's
// checker (full_check: shape inference too).
func TestFrozenModelsAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("freezes and runs VGG16/VGG19 (about 2 GB of files)")
	}
	ctx := context.Background()
	dir := t.TempDir()
	for _, c := range frozenCases() {
		t.Run(c.name, func(t *testing.T) {
			net, ref := c.net(t)
			path := filepath.Join(dir, c.name+".onnx")
			if err := net.WriteFile(path); err != nil {
				t.Fatal(err)
			}
			f, err := freeze.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if f.Input.Name != freeze.InputName || f.Output.Name != net.Output() {
				t.Fatalf("nodes %s -> %s, want input_1 -> %s", f.Input, f.Output, net.Output())
			}
			checkONNX(t, path)
			runner, err := f.Runner(nil)
			if err != nil {
				t.Fatal(err)
			}
			// Every VGG (and the MLP) runs on the native kernels; the
			// transfer models' (a 'valid' or 5x5 convolution) on the GoMLX graph,
			// which runs every case too.
			wantNative := strings.HasPrefix(c.name, "vgg") || c.name == "mlp"
			if got := runner.Engine(); (got == gomlx_vgg.EngineNative) != wantNative {
				t.Errorf("the runner's engine is %s (%s), want native: %v", got, runner.NativeReason(), wantNative)
			}
			graph, err := f.Runner(nil)
			if err == nil {
				err = graph.SetEngine(gomlx_vgg.EngineGraph)
			}
			if err != nil {
				t.Fatal(err)
			}
			xs := make([]*tensors.Tensor, len(c.dims))
			for i, dims := range c.dims {
				xs[i] = input(uint64(i+1), c.lo, c.hi, dims...)
			}
			// ONNX Runtime runs every batch in one session (the model loaded once).
			start := time.Now()
			ortOuts, ortCached, ortErr := cachedOutputs(t, readerKey(t, "onnxruntime", path, xs), func() ([]*tensors.Tensor, error) {
				res, err := ortRuntime.RunBatches(ctx, path, freeze.InputName, xs, ort.Options{})
				outs := make([]*tensors.Tensor, len(res))
				for i, r := range res {
					outs[i] = r.Output
				}
				return outs, err
			})
			ortTook := time.Since(start) / time.Duration(len(xs))
			var goOuts []*tensors.Tensor
			var goCached bool
			var goErr error
			if c.gomlxOnnx > 0 {
				start := time.Now()
				goOuts, goCached, goErr = cachedOutputs(t, readerKey(t, "onnx-gomlx", path, xs[:c.gomlxOnnx]), func() ([]*tensors.Tensor, error) {
					return onnxGoMLX(path, xs[:c.gomlxOnnx])
				})
				t.Logf("onnx-gomlx: %d batch(es) in %.1fs (cached: %v)", c.gomlxOnnx, time.Since(start).Seconds(), goCached)
			}
			for i, dims := range c.dims {
				x := xs[i]
				want, err := ref(x)
				if err != nil {
					t.Fatal(err)
				}
				rv := tensors.MustCopyFlatData[float32](want)
				t.Logf("reference %v: %v in [%.3g, %.3g]", dims, want.Shape().Dimensions, slices.Min(rv), slices.Max(rv))
				if outDims, err := net.OutputShape(dims...); err != nil || fmt.Sprint(outDims) != fmt.Sprint(want.Shape().Dimensions) {
					t.Errorf("OutputShape(%v) = %v, %v; the model gives %v", dims, outDims, err, want.Shape().Dimensions)
				}
				if outDims, _, err := runner.OutputShape(dims); err != nil || !slices.Equal(outDims, want.Shape().Dimensions) {
					t.Errorf("the runner's OutputShape(%v) = %v, %v; the model gives %v", dims, outDims, err, want.Shape().Dimensions)
				}
				check := func(who string, got *tensors.Tensor, err error, took time.Duration) {
					t.Helper()
					if err != nil {
						t.Fatalf("%s on %v: %v", who, dims, err)
					}
					d, err := maxRelDiff(want, got)
					if err != nil || !(d <= tolerance) { // NaN fails
						t.Errorf("%s on %v: max|diff|/max|ref| = %.3g (%v), want <= %g", who, dims, d, err, tolerance)
					}
					t.Logf("%-11s %v: max|diff|/max|ref| = %.2g (%.2fs)", who, dims, d, took.Seconds())
				}
				start := time.Now()
				got, err := runner.Run(x)
				check("runner ("+string(runner.Engine())+")", got, err, time.Since(start))
				if runner.Engine() != gomlx_vgg.EngineGraph {
					start := time.Now()
					got, err := graph.Run(x)
					check("runner (graph)", got, err, time.Since(start))
				}
				if ortErr == nil {
					got = ortOuts[i]
				}
				check(fmt.Sprintf("onnxruntime (cached: %v)", ortCached), got, ortErr, ortTook)
				if i < c.gomlxOnnx {
					if goErr == nil {
						got = goOuts[i]
					}
					check(fmt.Sprintf("onnx-gomlx (cached: %v)", goCached), got, goErr, 0)
				}
			}
		})
	}
}

// checkONNX runs python3-onnx's checker with full_check on the file, and
// checks the declared versions.
func checkONNX(t *testing.T, path string) {
	t.Helper()
	py := python.FromEnv()
	script := `import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(onnx.__version__, m.ir_version, m.opset_import[0].version, len(m.graph.node))`
	k := readerKey(t, "onnx checker", path, nil)
	k.Add(script)
	out, cached, err := cachedBytes(t, k, func() ([]byte, error) {
		b, err := exec.Command(py, "-c", script, path).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("python3 onnx checker on %s: %v\n%s", filepath.Base(path), err, b)
		}
		return b, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var version string
	var ir, opset, nodes int
	if _, err := fmt.Sscan(string(out), &version, &ir, &opset, &nodes); err != nil || ir != freeze.IRVersion || opset != freeze.Opset {
		t.Fatalf("checker says %q", out)
	}
	t.Logf("onnx %s checker: ok (IR %d, opset %d, %d nodes; cached: %v)", version, ir, opset, nodes, cached)
}

// onnxGoMLX loads the file with github.com/gomlx/onnx-gomlx and runs it on
// each of xs on the pure-Go backend.
func onnxGoMLX(path string, xs []*tensors.Tensor) ([]*tensors.Tensor, error) {
	om, err := parser.ParseFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx-gomlx: %w", err)
	}
	store := model.NewStore()
	if err := om.VariablesToScope(store.RootScope()); err != nil {
		return nil, fmt.Errorf("onnx-gomlx: %w", err)
	}
	exec, err := model.NewExec(gobackend.GetBackend(), store, func(scope *model.Scope, x *Node) *Node {
		return om.CallGraph(scope, x.Graph(), map[string]*Node{freeze.InputName: x})[0]
	})
	if err != nil {
		return nil, fmt.Errorf("onnx-gomlx: %w", err)
	}
	outs := make([]*tensors.Tensor, len(xs))
	for i, x := range xs {
		res, err := exec.Exec(x)
		if err != nil {
			return nil, fmt.Errorf("onnx-gomlx on %v: %w", x.Shape(), err)
		}
		outs[i] = res[0]
	}
	return outs, nil
}

// The independent readers' outputs (ONNX Runtime, onnx-gomlx, python3-onnx's
// checker) are kept between runs in the reference cache (internal/refcache,
// python.ReferenceCacheFromEnv), keyed by the frozen file's contents, the
// inputs and the reader's version: the file is written, read back and run
// by vggnb every time, and a file that changes by one byte is read again.
var referenceCache = python.ReferenceCacheFromEnv()

// readerKey is the cache key of a reader's outputs for the ONNX file at path
// on xs.
func readerKey(t *testing.T, reader, path string, xs []*tensors.Tensor) *refcache.Key {
	t.Helper()
	k := refcache.NewKey("freeze_test 1", reader, readerVersion(t, reader))
	k.AddFile(path)
	for _, x := range xs {
		k.Add(fmt.Sprint(x.Shape()), fmt.Sprint(tensors.MustCopyFlatData[float32](x)))
	}
	return k
}

var readerVersions sync.Map

// readerVersion describes what a reader's outputs depend on besides its
// inputs: ONNX Runtime's pinned packages and Node.js; onnx-gomlx's, GoMLX's
// and compute's module versions, the GOEXPERIMENT and the CPU (its SIMD
// matmul); python3-onnx's interpreter and version.
func readerVersion(t *testing.T, reader string) string {
	t.Helper()
	if v, ok := readerVersions.Load(reader); ok {
		return v.(string)
	}
	var parts []string
	switch reader {
	case "onnxruntime":
		for _, f := range []string{"package-lock.json", "run.mjs"} {
			b, err := os.ReadFile(filepath.Join(ortRuntime.Dir, f))
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, string(b))
		}
		out, err := exec.Command("node", "--version").Output()
		if err != nil {
			t.Fatalf("node --version: %v", err)
		}
		parts = append(parts, string(out))
	case "onnx-gomlx":
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			t.Fatal("no build information for onnx-gomlx's version")
		}
		for _, d := range bi.Deps {
			if strings.HasPrefix(d.Path, "github.com/gomlx/") {
				parts = append(parts, d.Path+"@"+d.Version)
			}
		}
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" {
				parts = append(parts, "GOEXPERIMENT="+s.Value)
			}
		}
		parts = append(parts, runtime.Version(), refcache.CPU())
	case "onnx checker":
		py := python.FromEnv()
		out, err := exec.Command(py, "-c", "import onnx; print(onnx.__version__)").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: import onnx: %v: %s", py, err, out)
		}
		parts = append(parts, py, string(out))
	default:
		t.Fatalf("no reader %q", reader)
	}
	v := strings.Join(parts, "\n")
	readerVersions.Store(reader, v)
	return v
}

// storedTensor is a tensor in the reference cache.
type storedTensor struct {
	Dims []int
	Data []float32
}

// cachedOutputs returns run's outputs, or those a run of the same key put in
// the reference cache before (cached true).
func cachedOutputs(t *testing.T, key *refcache.Key, run func() ([]*tensors.Tensor, error)) (outs []*tensors.Tensor, cached bool, err error) {
	t.Helper()
	b, cached, err := cachedBytes(t, key, func() ([]byte, error) {
		if outs, err = run(); err != nil {
			return nil, err
		}
		stored := make([]storedTensor, len(outs))
		for i, o := range outs {
			stored[i] = storedTensor{o.Shape().Dimensions, tensors.MustCopyFlatData[float32](o)}
		}
		var buf bytes.Buffer
		err := gob.NewEncoder(&buf).Encode(stored)
		return buf.Bytes(), err
	})
	if err != nil || !cached {
		return outs, false, err
	}
	var stored []storedTensor
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&stored); err != nil {
		return nil, true, fmt.Errorf("reference cache: %w", err)
	}
	for _, st := range stored {
		outs = append(outs, tensors.FromFlatDataAndDimensions(st.Data, st.Dims...))
	}
	return outs, true, nil
}

// cachedBytes returns what run returns, or what a run of the same key put in
// the reference cache before (cached true).
func cachedBytes(t *testing.T, key *refcache.Key, run func() ([]byte, error)) (b []byte, cached bool, err error) {
	t.Helper()
	if referenceCache == "" {
		b, err = run()
		return b, false, err
	}
	k, err := key.String()
	if err != nil {
		t.Fatal(err)
	}
	dir, cached, err := refcache.Do(referenceCache, k, func(dir string) error {
		if b, err = run(); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "output"), b, 0o644)
	})
	if cached {
		b, err = os.ReadFile(filepath.Join(dir, "output"))
	}
	return b, cached, err
}

// TestWriteIsAtomic: a net that cannot be frozen leaves no file behind, and
// a bad file is refused with its name.
func TestWriteIsAtomic(t *testing.T) {
	dir := t.TempDir()
	bad := &freeze.Net{Name: "bad", Input: []int{-1, 4}, Layers: []freeze.Layer{{Name: "d", Class: weights.Dense,
		Kernel: tensors.FromFlatDataAndDimensions(make([]float32, 6), 3, 2), Bias: tensors.FromFlatDataAndDimensions(make([]float32, 2), 2),
		Activation: freeze.ActivationRelu}}}
	err := bad.WriteFile(filepath.Join(dir, "bad.onnx"))
	if err == nil || !strings.Contains(err.Error(), "layer d") {
		t.Fatalf("WriteFile of a (3, 2) kernel on 4 inputs: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("left %v behind", entries)
	}
	junk := filepath.Join(dir, "junk.onnx")
	os.WriteFile(junk, []byte("not a model"), 0o644)
	if _, err := freeze.Open(junk); !errors.Is(err, freeze.ErrBadFile) || !strings.Contains(err.Error(), "junk.onnx") {
		t.Fatalf("Open(junk) = %v", err)
	}
}

// TestORTRunWith: ONNX Runtime's timed runs (a benchmark's) give Reps times,
// Millis their median, and the same output as a single run, with 1 thread.
func TestORTRunWith(t *testing.T) {
	k := []float32{1, 2, 3, 4, 5, 6}
	net := &freeze.Net{Name: "tiny", Input: []int{-1, 3}, Layers: []freeze.Layer{{Name: "d", Class: weights.Dense,
		Kernel: tensors.FromFlatDataAndDimensions(k, 3, 2), Bias: tensors.FromFlatDataAndDimensions([]float32{0.5, -1}, 2),
		Activation: freeze.ActivationRelu}}}
	path := filepath.Join(t.TempDir(), "tiny.onnx")
	if err := net.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	x := tensors.FromFlatDataAndDimensions([]float32{1, -1, 2}, 1, 3)
	res, err := ortRuntime.RunWith(context.Background(), path, freeze.InputName, x, ort.Options{Threads: 1, Reps: 3})
	if err != nil {
		t.Fatal(err)
	}
	// relu(x·k + b) = relu([1-3+10+0.5, 2-4+12-1]) = [8.5, 9]
	if got := tensors.MustCopyFlatData[float32](res.Output); fmt.Sprint(got) != "[8.5 9]" {
		t.Errorf("output %v, want [8.5 9]", got)
	}
	if len(res.Runs) != 3 {
		t.Fatalf("Runs = %v, want 3 timed runs", res.Runs)
	}
	s := slices.Clone(res.Runs)
	slices.Sort(s)
	if res.Millis != s[1] {
		t.Errorf("Millis = %v, want the median of %v", res.Millis, res.Runs)
	}
	// Batches of other sizes in one session: each answer in its place.
	x2 := tensors.FromFlatDataAndDimensions([]float32{0, 0, 0, 1, 0, 0}, 2, 3)
	all, err := ortRuntime.RunBatches(context.Background(), path, freeze.InputName, []*tensors.Tensor{x2, x}, ort.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Row [0 0 0]: relu(b) = [0.5 0]; row [1 0 0]: relu([1.5, 1]).
	if len(all) != 2 || fmt.Sprint(tensors.MustCopyFlatData[float32](all[0].Output)) != "[0.5 0 1.5 1]" ||
		fmt.Sprint(tensors.MustCopyFlatData[float32](all[1].Output)) != "[8.5 9]" {
		t.Errorf("RunBatches = %v, want [0.5 0 1.5 1] then [8.5 9]", all)
	}
	if _, err := ortRuntime.RunBatches(context.Background(), path, freeze.InputName, nil, ort.Options{}); err == nil {
		t.Error("RunBatches with no input: no error")
	}
}

// ortRuntime is the checkout's ONNX Runtime (scripts/ort; tests run in this
// package's directory).
var ortRuntime = ort.Runtime{Dir: filepath.Join("..", "..", "scripts", "ort")}

// TestRunnerManyShapes: a runner takes any number of distinct input shapes
// (a server's clients choose them): past its limit it frees the least
// recently used graph instead of failing (GoMLX's executor keeps at most 32
// graphs), and a shape seen before still runs, with the same output.
func TestRunnerManyShapes(t *testing.T) {
	k := make([]float32, 3*3*3*2)
	for i := range k {
		k[i] = float32(i%7) - 3
	}
	net := &freeze.Net{Name: "tiny_conv", Input: []int{-1, -1, -1, 3}, Layers: []freeze.Layer{
		{Name: "c", Class: weights.Conv2D, Kernel: tensors.FromFlatDataAndDimensions(k, 3, 3, 3, 2),
			Bias: tensors.FromFlatDataAndDimensions([]float32{0.5, -0.5}, 2), Same: true, Activation: freeze.ActivationRelu},
		{Name: "p", Class: weights.MaxPooling2D},
		{Name: "g", Class: weights.GlobalAveragePooling2D},
	}}
	path := filepath.Join(t.TempDir(), "tiny_conv.onnx")
	if err := net.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := freeze.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Runner(nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Engine() != gomlx_vgg.EngineNative {
		t.Fatalf("engine %s (%s), want native", r.Engine(), r.NativeReason())
	}
	nativeOut, err := r.Run(input(1, -1, 1, 1, 8, 8, 3))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.SetEngine(gomlx_vgg.EngineGraph); err != nil {
		t.Fatal(err)
	}
	r.SetMaxGraphs(4)
	if out, largest, err := r.OutputShape([]int{1, 8, 8, 3}); err != nil || !slices.Equal(out, []int{1, 2}) || largest != 8*8*3 {
		t.Errorf("OutputShape(1x8x8x3) = %v, %d, %v; want [1 2] and 192 values at the largest", out, largest, err)
	}
	if err := r.CheckInput([]int{1, 1, 1, 3}); !errors.Is(err, freeze.ErrInputTooSmall) || !strings.Contains(err.Error(), "node") {
		t.Errorf("CheckInput(1x1x1x3): %v, want ErrInputTooSmall naming the node", err)
	}
	if _, err := r.Run(input(1, -1, 1, 1, 1, 1, 3)); !errors.Is(err, freeze.ErrInputTooSmall) {
		t.Errorf("Run(1x1x1x3): %v, want ErrInputTooSmall before running", err)
	}
	first := input(1, -1, 1, 1, 8, 8, 3)
	want, err := r.Run(first)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := maxRelDiff(want, nativeOut); err != nil || !(d <= tolerance) {
		t.Errorf("native and graph differ by %v (%v)", d, err)
	}
	for w := 9; w < 9+40; w++ {
		if _, err := r.Run(input(uint64(w), -1, 1, 1, 8, w, 3)); err != nil {
			t.Fatalf("shape %d of 41 (1x8x%dx3): %v", w-7, w, err)
		}
	}
	if kept, compiled := r.Graphs(); kept != 4 || compiled != 41 {
		t.Errorf("after 41 shapes: %d graphs kept, %d compiled; want 4 and 41", kept, compiled)
	}
	got, err := r.Run(first)
	if err != nil {
		t.Fatalf("the first shape again: %v", err)
	}
	if d, err := maxRelDiff(want, got); err != nil || d != 0 {
		t.Errorf("the first shape, compiled again: differs by %v (%v)", d, err)
	}
}

// tinyDense is a Dense(2) on 3 inputs, frozen.
func tinyDense() *freeze.Net {
	return &freeze.Net{Name: "tiny", Input: []int{-1, 3}, Layers: []freeze.Layer{{Name: "d", Class: weights.Dense,
		Kernel: tensors.FromFlatDataAndDimensions(make([]float32, 6), 3, 2), Bias: tensors.FromFlatDataAndDimensions(make([]float32, 2), 2),
		Activation: freeze.ActivationRelu}}}
}

// TestCraftedDims: an initializer whose dims are negative but multiply to its
// data's size (and no checksum to catch it) is refused when the file is read,
// naming it, instead of a panic when the runner makes its variable.
func TestCraftedDims(t *testing.T) {
	m, err := tinyDense().Model()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := freeze.FromModel(m); err != nil {
		t.Fatalf("the file as written: %v", err)
	}
	var kept []*protos.StringStringEntryProto
	for _, p := range m.MetadataProps {
		if p.Key != freeze.MetaChecksum {
			kept = append(kept, p)
		}
	}
	m.MetadataProps = kept
	init := m.Graph.Initializer[0]
	init.Dims = []int64{-int64(len(init.RawData) / 4), -1}
	if _, err := freeze.FromModel(m); err == nil || !strings.Contains(err.Error(), "initializer "+init.Name) {
		t.Fatalf("dims %v: %v, want an error naming the initializer", init.Dims, err)
	}
}

// TestDamagedGraph: a file whose graph names a value nothing makes opens (its
// weights are whole) but fails its first run with an error naming the
// value, never a panic.
func TestDamagedGraph(t *testing.T) {
	m, err := tinyDense().Model()
	if err != nil {
		t.Fatal(err)
	}
	last := m.Graph.Node[len(m.Graph.Node)-1]
	last.Input[0] = "nothing_makes_this"
	f, err := freeze.FromModel(m)
	if err != nil {
		t.Fatalf("FromModel: %v (the weights are whole: reading it succeeds)", err)
	}
	r, err := f.Runner(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(input(1, -1, 1, 1, 3)); err == nil || !strings.Contains(err.Error(), "nothing_makes_this") {
		t.Fatalf("Run: %v, want an error naming the unknown value", err)
	}
}

// TestNativeEngine: a graph the native kernels do not run ('valid'
// convolution) runs on the GoMLX graph and says why; asking for the native
// engine then names the node. A NaN weight, which the kernels' ReLU would
// hide, fails the runner's creation as a damaged file.
func TestNativeEngine(t *testing.T) {
	conv := func(same bool, k0 float32) *freeze.Net {
		k := make([]float32, 3*3*3*2)
		for i := range k {
			k[i] = float32(i%5) - 2
		}
		k[0] = k0
		return &freeze.Net{Name: "tiny_conv", Input: []int{-1, -1, -1, 3}, Layers: []freeze.Layer{
			{Name: "c", Class: weights.Conv2D, Kernel: tensors.FromFlatDataAndDimensions(k, 3, 3, 3, 2),
				Bias: tensors.FromFlatDataAndDimensions([]float32{0.5, -0.5}, 2), Same: same, Activation: freeze.ActivationRelu},
			{Name: "g", Class: weights.GlobalMaxPooling2D},
		}}
	}
	runner := func(n *freeze.Net) (*freeze.Runner, error) {
		m, err := n.Model()
		if err != nil {
			return nil, err
		}
		f, err := freeze.FromModel(m)
		if err != nil {
			return nil, err
		}
		return f.Runner(nil)
	}
	r, err := runner(conv(false, 1))
	if err != nil {
		t.Fatal(err)
	}
	if r.Engine() != gomlx_vgg.EngineGraph || !strings.Contains(r.NativeReason(), "c/conv") {
		t.Errorf("a 'valid' convolution: engine %s, reason %q; want graph, naming node c/conv", r.Engine(), r.NativeReason())
	}
	if err := r.SetEngine(gomlx_vgg.EngineNative); err == nil || !strings.Contains(err.Error(), "c/conv") {
		t.Errorf("SetEngine(native) on a 'valid' convolution: %v, want an error naming c/conv", err)
	}
	if _, err := r.Run(input(1, -1, 1, 1, 6, 6, 3)); err != nil {
		t.Errorf("the graph: %v", err)
	}
	if r, err := runner(conv(true, 1)); err != nil || r.Engine() != gomlx_vgg.EngineNative {
		t.Fatalf("a 'same' convolution: %v, %v; want the native engine", r, err)
	}
	if _, err := runner(conv(true, float32(math.NaN()))); !errors.Is(err, freeze.ErrBadFile) || !strings.Contains(err.Error(), "c/kernel") {
		t.Errorf("a NaN kernel: %v, want ErrBadFile naming c/kernel", err)
	}
}
