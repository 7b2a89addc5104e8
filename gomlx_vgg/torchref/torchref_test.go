package torchref_test

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/weights"
)

// TestRunIsFloat64 checks that the reference really computes in float64 (its
// values are not float32 numbers) and that Float32 brings PyTorch's float32
// outputs, close to the truth but not equal to it.
func TestRunIsFloat64(t *testing.T) {
	if err := torchref.Check(python.FromEnv()); err != nil {
		t.Fatal(err)
	}
	spec := weights.MustVGG("vgg16", false, 0)
	path := filepath.Join(t.TempDir(), "vgg16.h5")
	if err := weights.WriteKeras2(path, weights.Synthetic(spec, 3)); err != nil {
		t.Fatal(err)
	}
	photo, err := filepath.Abs(filepath.Join("..", "imagenet", "demo", "chelsea.png"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(photo); err != nil {
		t.Fatal(err)
	}
	r, err := torchref.Run(torchref.Options{Python: python.FromEnv(), Weights: path, Model: "vgg16", Image: photo, Height: 32, Width: 48, Float32: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Layers) != 1+13+5 {
		t.Fatalf("%d layers, want input_1 + 13 convs + 5 pools", len(r.Layers))
	}
	l := r.Layer("block3_conv3")
	if l == nil || len(l.Float32) != len(l.Data) {
		t.Fatalf("block3_conv3: %+v", l)
	}
	notF32 := 0
	for _, v := range l.Data {
		if v != float64(float32(v)) {
			notF32++
		}
	}
	if notF32 < len(l.Data)/4 {
		t.Errorf("only %d of %d block3_conv3 values are not float32 numbers: the truth is not float64", notF32, len(l.Data))
	}
	_, rel := consistency.Compare(l.Float32, l.Data)
	if rel == 0 || rel > 1e-5 {
		t.Errorf("float32 PyTorch vs float64 truth at block3_conv3: rel %.3g, want in (0, 1e-5]", rel)
	}
	if in := r.Layer("input_1"); in == nil || !equalAsFloat32(in.Data, in.Float32) {
		t.Error("input_1 (preprocess_input, float32 as Keras) differs between the float64 and float32 runs")
	}
	t.Logf("torch %s: block3_conv3 float32 vs float64 rel %.3g", r.Torch, rel)
}

func equalAsFloat32(a []float64, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if float32(a[i]) != b[i] || math.IsNaN(a[i]) {
			return false
		}
	}
	return true
}

func TestMissingPython(t *testing.T) {
	err := torchref.Check("/nonexistent/python3")
	if err == nil || !strings.Contains(err.Error(), "python3-torch") {
		t.Errorf("Check of a missing python: %v", err)
	}
	if _, err := torchref.Run(torchref.Options{Python: "/nonexistent/python3", Weights: "w.h5", Model: "vgg16", Image: "x.png"}); err == nil {
		t.Error("Run with a missing python succeeded")
	}
}

// TestCache: with CacheDir, a second run of the same inputs reads the first's
// outputs (the same values), and a weight file with other contents at the
// same path runs the script again.
func TestCache(t *testing.T) {
	if err := torchref.Check(python.FromEnv()); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "vgg16.h5")
	write := func(seed uint64) {
		if err := weights.WriteKeras2(path, weights.Synthetic(weights.MustVGG("vgg16", false, 0), seed)); err != nil {
			t.Fatal(err)
		}
	}
	photo := filepath.Join("..", "imagenet", "demo", "chelsea.png")
	o := torchref.Options{Python: python.FromEnv(), Weights: path, Model: "vgg16", Image: photo, Height: 32, Width: 32,
		CacheDir: filepath.Join(dir, "cache")}
	write(3)
	var runs []*torchref.Result
	for range 2 {
		r, err := torchref.Run(o)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, r)
	}
	write(4)
	r, err := torchref.Run(o)
	if err != nil {
		t.Fatal(err)
	}
	runs = append(runs, r)
	if runs[0].Cached || !runs[1].Cached || runs[2].Cached {
		t.Errorf("cached: %v, %v, %v; want false, true, false", runs[0].Cached, runs[1].Cached, runs[2].Cached)
	}
	a, b, c := runs[0].Layer("block5_pool"), runs[1].Layer("block5_pool"), runs[2].Layer("block5_pool")
	if a == nil || b == nil || c == nil {
		t.Fatal("no block5_pool")
	}
	if _, rel := consistency.Compare(a.Data, b.Data); rel != 0 {
		t.Errorf("cached block5_pool differs by %.3g", rel)
	}
	if _, rel := consistency.Compare(a.Data, c.Data); rel == 0 {
		t.Error("other weights gave the same block5_pool: the cache ignored the file's contents")
	}
}
