package gomlx_vgg

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/weights"
)

// setElement replaces one value of a layer's variable (via SetValue, as training would).
func setElement(t *testing.T, m *Model, layer, name string, i int, v float32) {
	t.Helper()
	vr := m.Store().RootScope().At("%s", layer).GetVariable(name)
	old := vr.MustValue()
	nv := tensors.FromShape(old.Shape())
	tensors.MustConstFlatData(old, func(src []float32) {
		tensors.MustMutableFlatData(nv, func(dst []float32) { copy(dst, src); dst[i] = v })
	})
	if err := vr.SetValue(nv); err != nil {
		t.Fatal(err)
	}
}

// TestNonFiniteSameOnEveryEngine: one NaN in a kernel was hidden by the native
// kernels (their ReLU turned it into 0: a plausible mean, no error) while the
// graph propagated it. Both engines must now fail with the same
// *NonFiniteError naming the layer and the weight; a NaN input likewise.
func TestNonFiniteSameOnEveryEngine(t *testing.T) {
	m, err := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).Done()
	if err != nil {
		t.Fatal(err)
	}
	x := randomBatch(3, 1, 32, 48, 3)
	if _, err := m.Outputs(x, "block5_pool"); err != nil {
		t.Fatal(err)
	}
	setElement(t, m, "block1_conv2", "kernel", 100, float32(math.NaN()))
	want := NonFiniteError{Layer: "block1_conv2", What: "kernel", NaN: 1, First: 100}
	for _, engine := range []Engine{EngineNative, EngineGraph} {
		_, err := m.outputs(engine, x, []string{"block5_pool"})
		var nf *NonFiniteError
		if !errors.As(err, &nf) || *nf != want {
			t.Errorf("%s with a NaN in block1_conv2's kernel: %v, want %v", engine, err, &want)
		}
	}
	setElement(t, m, "block1_conv2", "kernel", 100, 0.01)
	tensors.MustMutableFlatData(x, func(v []float32) { v[7] = float32(math.Inf(-1)) })
	for _, engine := range []Engine{EngineNative, EngineGraph} {
		_, err := m.outputs(engine, x, []string{"block5_pool"})
		var nf *NonFiniteError
		if !errors.As(err, &nf) || nf.Layer != "input_1" || nf.Inf != 1 {
			t.Errorf("%s with -Inf in the input: %v", engine, err)
		}
	}
}

// TestTruncateSharesTheLock: a model and its Truncate() share the store, so
// they must share its lock: concurrent first use raced
// (Store.InitializeVariables against the executor) and, with Weights("none"),
// failed with "initializer was not configured" or gave different values. Run
// under -race (make test-race); the native path only, as compute v0.1.6's
// matmul trips checkptr.
func TestTruncateSharesTheLock(t *testing.T) {
	x := randomBatch(5, 1, 32, 32, 3)
	for trial := range 12 {
		m, err := VGG16().IncludeTop(false).Weights(WeightsNone).Notices(nil).Done()
		if err != nil {
			t.Fatal(err)
		}
		cut, err := m.Truncate("block2_pool")
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		outs := make([]*tensors.Tensor, 4)
		errs := make([]error, 4)
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mm := m
				if i%2 == 1 {
					mm = cut
				}
				var o map[string]*tensors.Tensor
				o, errs[i] = mm.Outputs(x, "block2_pool")
				outs[i] = o["block2_pool"]
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("trial %d, caller %d: %v", trial, i, err)
			}
		}
		for i := 1; i < len(outs); i++ {
			if e := relDiff(t, outs[i], outs[0]); e != 0 {
				t.Fatalf("trial %d: caller %d got different values (rel %g): the weights were initialised twice", trial, i, e)
			}
		}
	}
}

// TestNilAndZeroValues: nil tensors and a zero Model give errors, not nil-pointer panics.
func TestNilAndZeroValues(t *testing.T) {
	if _, err := imagenet.Batch(nil); !errors.Is(err, imagenet.ErrImage) || !strings.Contains(err.Error(), "image 0 is nil") {
		t.Errorf("imagenet.Batch(nil): %v", err)
	}
	if _, err := imagenet.PreprocessInput(nil, 0); err == nil {
		t.Error("imagenet.PreprocessInput(nil) gave no error")
	}
	if _, err := imagenet.PreprocessInput(imagenet.ImgToArray(nil, 0), 0); err == nil {
		t.Error("imagenet.PreprocessInput(imagenet.ImgToArray(nil)) gave no error")
	}
	if s := StatsOf(nil); !math.IsNaN(s.Mean) || s.Shape != nil {
		t.Errorf("StatsOf(nil) = %+v, want NaN statistics", s)
	}
	x := randomBatch(1, 1, 32, 32, 3)
	var zero Model
	var nilModel *Model
	for name, m := range map[string]*Model{"zero": &zero, "nil": nilModel} {
		if _, err := m.Predict(x); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "zero or nil Model") {
			t.Errorf("%s Model Predict: %v", name, err)
		}
		if _, err := m.Outputs(x, "block1_pool"); err == nil {
			t.Errorf("%s Model Outputs gave no error", name)
		}
	}
}

// TestBackboneInCallersStore: VGG under a scope of the caller's store holds its
// variables there (and nowhere else) and computes what a standalone model
// computes, through both engines.
func TestBackboneInCallersStore(t *testing.T) {
	store := model.NewStore()
	m, err := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).Scope(store.RootScope().In("backbone")).Done()
	if err != nil {
		t.Fatal(err)
	}
	alone := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).MustDone()
	for v := range store.IterVariables() {
		if !strings.HasPrefix(v.Path(), "/backbone/block") {
			t.Errorf("variable %s outside the backbone's scope", v.Path())
		}
	}
	if n := store.NumVariables(); n != 26 {
		t.Errorf("%d variables in the caller's store, want VGG16's 26", n)
	}
	x := randomBatch(8, 1, 32, 48, 3)
	for _, engine := range []Engine{EngineNative, EngineGraph} {
		// Each engine against the standalone model's same engine: the two
		// engines round differently (~1e-6), the store must change nothing.
		want, err := alone.outputs(engine, x, []string{"block5_pool"})
		if err != nil {
			t.Fatal(err)
		}
		outs, err := m.outputs(engine, x, []string{"block5_pool"})
		if err != nil {
			t.Fatal(err)
		}
		if e := relDiff(t, outs["block5_pool"], want["block5_pool"]); e > 1e-6 {
			t.Errorf("%s in the caller's store differs from a standalone model by %g", engine, e)
		}
	}
}

// TestTitleNamesTheFile: titles of diagrams and tables name the weight file, not
// its whole path (String keeps the path, for errors).
func TestTitleNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "deep", "dir", "vgg16_notop.h5")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := weights.WriteKeras2(path, weights.Synthetic(weights.MustVGG("vgg16", false, 0), 1)); err != nil {
		t.Fatal(err)
	}
	m, err := VGG16().IncludeTop(false).Weights(WeightSource(path)).LoadOptions(weights.WithoutCache()).Done()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Title(), "VGG16(include_top=False, weights=vgg16_notop.h5, input_shape=(None, None, 3))"; got != want {
		t.Errorf("Title() = %q, want %q", got, want)
	}
	if !strings.Contains(m.String(), path) {
		t.Errorf("String() = %q lost the path", m.String())
	}
}

// TestAllFinite: the branch-free check agrees with math.IsNaN/IsInf on the
// edge values (the largest finite, subnormals, -0, every NaN payload's
// exponent), alone and among finite values.
func TestAllFinite(t *testing.T) {
	for _, c := range []struct {
		v    float32
		want bool
	}{
		{0, true}, {float32(math.Copysign(0, -1)), true}, {math.MaxFloat32, true}, {-math.MaxFloat32, true},
		{math.SmallestNonzeroFloat32, true}, {1, true}, {-2.5e-38, true},
		{float32(math.Inf(1)), false}, {float32(math.Inf(-1)), false}, {float32(math.NaN()), false},
		{math.Float32frombits(0x7f800001), false}, {math.Float32frombits(0xffffffff), false}, {math.Float32frombits(0x7f7fffff), true},
	} {
		for _, v := range [][]float32{{c.v}, {1, 2, c.v, 3}} {
			if got := allFinite(v); got != c.want {
				t.Errorf("allFinite(%v) = %v, want %v", v, got, c.want)
			}
			if err := checkFinite("l", "kernel", v); (err == nil) != c.want {
				t.Errorf("checkFinite(%v) = %v", v, err)
			}
		}
	}
}
