package weights

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// datasetPath is where a tensor returned by Read lives in the file.
func datasetPath(f *File, l Layer, t Tensor) string {
	switch f.Format {
	case FormatKeras3:
		return "layers/" + l.Name + "/" + t.Name
	case FormatKeras2Model:
		return "model_weights/" + l.Name + "/" + t.Name
	}
	return l.Name + "/" + t.Name
}

// notopLayouts and topLayouts are the fixtures compared tensor by tensor with h5py.
var notopLayouts = []string{
	"vgg16_tf2016_notop.h5", "vgg19_tf2016_notop.h5",
	"vgg16_th2016_notop.h5", "vgg19_th2016_notop.h5",
	"vgg16_keras2_notop.h5", "vgg19_keras2_notop.h5",
	"vgg16_keras2full_notop.h5", "vgg19_keras2full_notop.h5",
	"vgg16_keras3_notop.weights.h5", "vgg19_keras3_notop.weights.h5",
}

var topLayouts = []string{"vgg16_tf2016.h5", "vgg16_th2016.h5", "vgg19_keras3.weights.h5"}

func TestReadMatchesH5py(t *testing.T) {
	formats := map[string]Format{"tf2016": FormatKeras1, "th2016": FormatKeras1, "keras2": FormatKeras2,
		"keras2full": FormatKeras2Model, "keras3": FormatKeras3}
	names := append(slices.Clone(notopLayouts), topLayouts...)
	if testing.Short() {
		names = notopLayouts
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			path := fixture(t, name)
			f, err := Read(path)
			if err != nil {
				t.Fatal(err)
			}
			layout := strings.Split(strings.TrimSuffix(strings.TrimSuffix(name, ".h5"), ".weights"), "_")[1]
			if f.Format != formats[layout] {
				t.Errorf("format %v, want %v", f.Format, formats[layout])
			}
			want := h5pyDigests(t, path)
			seen := 0
			for _, l := range f.Layers {
				for _, w := range l.Weights {
					p := datasetPath(f, l, w)
					d, ok := want[p]
					if !ok {
						t.Errorf("Go read %s, which h5py does not list", p)
						continue
					}
					seen++
					if !slices.Equal(d.Shape, w.Shape) {
						t.Errorf("%s: shape %v, h5py %v", p, w.Shape, d.Shape)
					}
					if got := sha(w.Data); got != d.SHA256 {
						t.Errorf("%s: sha256 %s, h5py %s", p, got, d.SHA256)
					}
				}
			}
			if seen != len(want) {
				t.Errorf("Go read %d datasets, h5py lists %d", seen, len(want))
			}
		})
	}
}

func equalFiles(t *testing.T, a, b *File) {
	t.Helper()
	if len(a.Layers) != len(b.Layers) {
		t.Fatalf("%d layers vs %d", len(a.Layers), len(b.Layers))
	}
	for i := range a.Layers {
		la, lb := a.Layers[i], b.Layers[i]
		if la.Name != lb.Name || len(la.Weights) != len(lb.Weights) {
			t.Fatalf("layer %d: %s(%d weights) vs %s(%d)", i, la.Name, len(la.Weights), lb.Name, len(lb.Weights))
		}
		for j := range la.Weights {
			wa, wb := la.Weights[j], lb.Weights[j]
			if wa.Name != wb.Name || !slices.Equal(wa.Shape, wb.Shape) || sha(wa.Data) != sha(wb.Data) {
				t.Errorf("%s/%s: %v vs %s %v, or values differ", la.Name, wa.Name, wa.Shape, wb.Name, wb.Shape)
			}
		}
	}
}

// Every layout of the same synthetic weights loads to identical tensors; this is
// what makes Theano conversion and Keras 3 order matching checkable.
func TestLoadVGGLayoutsAgree(t *testing.T) {
	for _, model := range []string{"vgg16", "vgg19"} {
		spec := MustVGG(model, false, 0)
		ref, err := LoadVGG(fixture(t, model+"_tf2016_notop.h5"), spec, WithoutCache())
		if err != nil {
			t.Fatal(err)
		}
		if got := len(ref.Layers); got != len(spec.Weighted()) {
			t.Fatalf("%s: %d layers", model, got)
		}
		for _, layout := range []string{"th2016_notop.h5", "keras2_notop.h5", "keras2full_notop.h5", "keras3_notop.weights.h5"} {
			t.Run(model+"_"+layout, func(t *testing.T) {
				f, err := LoadVGG(fixture(t, model+"_"+layout), spec, WithoutCache())
				if err != nil {
					t.Fatal(err)
				}
				equalFiles(t, ref, f)
			})
		}
	}
}

func TestTheanoTopConversion(t *testing.T) {
	if testing.Short() {
		t.Skip("550 MB fixtures")
	}
	spec := MustVGG("vgg16", true, 0)
	tf, err := LoadVGG(fixture(t, "vgg16_tf2016.h5"), spec, WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	th, err := LoadVGG(fixture(t, "vgg16_th2016.h5"), spec, WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, tf, th) // kernels flipped+transposed and fc1 rows reordered
	// The reverse direction gives back the Theano file's own bytes.
	raw, err := Read(fixture(t, "vgg16_th2016.h5"))
	if err != nil {
		t.Fatal(err)
	}
	back := ToTheano(tf)
	for _, l := range back.Layers {
		rl := raw.Layer(l.Name)
		for i, w := range l.Weights {
			if !slices.Equal(w.Shape, rl.Weights[i].Shape) || sha(w.Data) != sha(rl.Weights[i].Data) {
				t.Errorf("%s/%s: ToTheano %v differs from the th file's %v", l.Name, w.Name, w.Shape, rl.Weights[i].Shape)
			}
		}
	}
	// channels_first models get fc1 in (C,H,W) row order: the th file's own fc1.
	cf, err := LoadVGG(fixture(t, "vgg16_tf2016.h5"), spec, WithoutCache(), WithDataFormat(ChannelsFirst))
	if err != nil {
		t.Fatal(err)
	}
	if sha(cf.Layer("fc1").Weights[0].Data) != sha(raw.Layer("fc1").Weights[0].Data) {
		t.Error("channels_first fc1 differs from the Theano file's fc1")
	}
}

func TestKernelConversion(t *testing.T) {
	// A 2x3 kernel, one input and output channel: OIHW flipped <-> HWIO.
	th := Tensor{Name: "k", Shape: []int{1, 1, 2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}}
	tf := KernelToHWIO(th)
	if !slices.Equal(tf.Shape, []int{2, 3, 1, 1}) || !slices.Equal(tf.Data, []float32{6, 5, 4, 3, 2, 1}) {
		t.Fatalf("KernelToHWIO = %v %v", tf.Shape, tf.Data)
	}
	for _, shape := range [][]int{{3, 3, 2, 5}, {1, 1, 4, 3}, {5, 3, 1, 2}} {
		x := Tensor{Shape: shape, Data: make([]float32, Size(shape))}
		for i := range x.Data {
			x.Data[i] = float32(i)
		}
		y := KernelToHWIO(KernelToOIHW(x))
		if !slices.Equal(y.Shape, shape) || !slices.Equal(y.Data, x.Data) {
			t.Errorf("round trip of %v changed it", shape)
		}
	}
	// Dense rows after Flatten of (h,w,c)=(1,2,3): channels_first row (c,y,x) -> channels_last row (y,x,c).
	d := Tensor{Shape: []int{6, 1}, Data: []float32{0, 1, 2, 3, 4, 5}} // rows in (c, x) order
	got := DenseRowsReorder(d, 1, 2, 3, ChannelsFirst, ChannelsLast)
	if want := []float32{0, 2, 4, 1, 3, 5}; !slices.Equal(got.Data, want) {
		t.Errorf("DenseRowsReorder = %v, want %v", got.Data, want)
	}
	if back := DenseRowsReorder(got, 1, 2, 3, ChannelsLast, ChannelsFirst); !slices.Equal(back.Data, d.Data) {
		t.Errorf("reverse = %v", back.Data)
	}
}

func TestWrongFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	vgg19 := fixture(t, "vgg19_tf2016_notop.h5")
	whole, err := os.ReadFile(vgg19)
	if err != nil {
		t.Fatal(err)
	}
	// A VGG16 file whose block5_conv3 bias has the wrong length, written by our exporter.
	bad, err := LoadVGG(fixture(t, "vgg16_tf2016_notop.h5"), MustVGG("vgg16", false, 0), WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	b := &bad.Layer("block5_conv3").Weights[1]
	b.Shape, b.Data = []int{256}, b.Data[:256]
	badPath := filepath.Join(dir, "bad_bias.h5")
	if err := WriteKeras2(badPath, bad); err != nil {
		t.Fatal(err)
	}
	oursPath := filepath.Join(dir, "ours.h5")
	if err := WriteKeras2(oursPath, Synthetic(MustVGG("vgg16", false, 0), 2)); err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(oursPath)
	if err != nil {
		t.Fatal(err)
	}
	corrupt := slices.Clone(whole[:4096])
	for i := 100; i < len(corrupt); i += 7 {
		corrupt[i] ^= 0x5a
	}
	cases := []struct {
		name  string
		path  string
		spec  Spec
		wants []string
	}{
		{"vgg16 file for vgg19", fixture(t, "vgg16_tf2016_notop.h5"), MustVGG("vgg19", false, 0), []string{"block3_conv4", "VGG16"}},
		{"vgg19 file for vgg16", vgg19, MustVGG("vgg16", false, 0), []string{"block3_conv4", "VGG19"}},
		{"keras3 vgg16 for vgg19", fixture(t, "vgg16_keras3_notop.weights.h5"), MustVGG("vgg19", false, 0), []string{"13 Conv2D", "VGG16"}},
		{"notop file for include_top", vgg19, MustVGG("vgg19", true, 0), []string{"fc1", "notop"}},
		{"keras3 notop for include_top", fixture(t, "vgg19_keras3_notop.weights.h5"), MustVGG("vgg19", true, 0), []string{"fc1", "notop"}},
		{"wrong bias shape", badPath, MustVGG("vgg16", false, 0), []string{"block5_conv3", "bias", "[256]", "[512]"}},
		{"truncated", write("trunc.h5", whole[:len(whole)*6/10]), MustVGG("vgg19", false, 0), []string{"trunc.h5", "truncated"}},
		{"truncated header", write("trunc_hdr.h5", whole[:3000]), MustVGG("vgg19", false, 0), []string{"trunc_hdr.h5", "truncated"}},
		// Our writer puts layer_names last: a file cut just before it said "not a Keras weight file".
		{"cut before layer_names", write("trunc_tail.h5", ours[:len(ours)-64]), MustVGG("vgg16", false, 0), []string{"trunc_tail.h5", "truncated", fmt.Sprint(len(ours))}},
		{"corrupt metadata", write("corrupt.h5", append(corrupt, whole[4096:]...)), MustVGG("vgg19", false, 0), []string{"corrupt.h5"}},
		{"not hdf5", write("page.h5", []byte("<html>404 Not Found</html>")), MustVGG("vgg19", false, 0), []string{"page.h5", "not an HDF5 file"}},
		{"empty", write("empty.h5", nil), MustVGG("vgg19", false, 0), []string{"empty.h5", "not an HDF5 file"}},
		{"missing", filepath.Join(dir, "nope.h5"), MustVGG("vgg19", false, 0), []string{"nope.h5"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadVGG(c.path, c.spec, WithoutCache())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	// The classifier width is checked against the model's classes.
	if !testing.Short() {
		_, err := LoadVGG(fixture(t, "vgg16_tf2016.h5"), MustVGG("vgg16", true, 10), WithoutCache())
		if err == nil || !strings.Contains(err.Error(), "predictions") || !strings.Contains(err.Error(), "[4096 1000]") || !strings.Contains(err.Error(), "[4096 10]") {
			t.Errorf("classes mismatch: %v", err)
		}
		// A file with the top serves a model without it.
		if _, err := LoadVGG(fixture(t, "vgg16_tf2016.h5"), MustVGG("vgg16", false, 0), WithoutCache()); err != nil {
			t.Errorf("top file into no-top model: %v", err)
		}
	}
}

// loadCached loads src through a cache in dir and returns the weights and the
// cache's key, failing the test if no valid cache was written.
func loadCached(t *testing.T, src string, spec Spec, dir string) (*File, cacheKey) {
	t.Helper()
	f, err := LoadVGG(src, spec, WithCacheDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	key, err := newCacheKey(src, spec, loadConfig{source: ChannelsAuto, target: ChannelsLast, cacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readCache(key); err != nil {
		t.Fatalf("no valid cache written: %v", err)
	}
	return f, key
}

func TestCache(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "w.h5")
	copyFile(t, fixture(t, "vgg16_tf2016_notop.h5"), src)
	spec := MustVGG("vgg16", false, 0)
	cache := filepath.Join(dir, "cache")
	first, key := loadCached(t, src, spec, cache)
	cached, err := readCache(key)
	if err != nil {
		t.Fatalf("no cache written: %v", err)
	}
	equalFiles(t, first, cached)
	again, err := LoadVGG(src, spec, WithCacheDir(cache))
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, first, again)

	// Replacing the source (other weights, newer time) invalidates the cache.
	copyFile(t, fixture(t, "vgg16_keras2_notop.h5"), src) // same values, other file size
	later := time.Now().Add(time.Minute)
	os.Chtimes(src, later, later)
	key2, _ := newCacheKey(src, spec, loadConfig{source: ChannelsAuto, target: ChannelsLast, cacheDir: cache})
	if _, err := readCache(key2); err == nil {
		t.Fatal("stale cache accepted after the source changed")
	}
	changed, err := LoadVGG(src, spec, WithCacheDir(cache))
	if err != nil {
		t.Fatal(err)
	}
	if changed.Format != FormatKeras2 {
		t.Errorf("after the source changed, got format %v from the cache", changed.Format)
	}
	// A different model of the same file is a different cache entry, and a bad one is refused.
	if _, err := LoadVGG(src, MustVGG("vgg19", false, 0), WithCacheDir(cache)); err == nil {
		t.Error("vgg16 weights served for vgg19")
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to+".tmp", b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(to+".tmp", to); err != nil {
		t.Fatal(err)
	}
}

func TestWriteKeras2(t *testing.T) {
	spec := MustVGG("vgg19", false, 0)
	f, err := LoadVGG(fixture(t, "vgg19_tf2016_notop.h5"), spec, WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export.h5")
	if err := WriteKeras2(out, f); err != nil {
		t.Fatal(err)
	}
	// h5py reads every tensor byte-exact.
	want := h5pyDigests(t, out)
	n := 0
	for _, l := range f.Layers {
		for _, w := range l.Weights {
			p := "model_weights/" + l.Name + "/" + kerasWeightName(l.Name, w.Name)
			d, ok := want[p]
			if !ok {
				t.Fatalf("h5py does not find %s in %v", p, want)
			}
			n++
			if !slices.Equal(d.Shape, w.Shape) || d.SHA256 != sha(w.Data) {
				t.Errorf("%s: h5py reads %v %s, Go wrote %v %s", p, d.Shape, d.SHA256, w.Shape, sha(w.Data))
			}
		}
	}
	if n != len(want) {
		t.Errorf("wrote %d tensors, h5py sees %d", n, len(want))
	}
	// And the Go reader takes it back as a Keras 2 full-model layout.
	back, err := LoadVGG(out, spec, WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, f, back)
	if back.KerasVersion != ExportKerasVersion {
		t.Errorf("keras_version %q", back.KerasVersion)
	}
	// No temporary files are left beside it.
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("export left %d files", len(entries))
	}
}

func TestSpec(t *testing.T) {
	for _, c := range []struct {
		model          string
		top            bool
		layers, params int
	}{
		{"vgg16", false, 18, 14714688},
		{"vgg19", false, 21, 20024384},
		{"vgg16", true, 22, 138357544},
		{"vgg19", true, 25, 143667240},
	} {
		s := MustVGG(c.model, c.top, 0)
		params := 0
		for _, l := range s.Layers {
			for _, sh := range l.Shapes {
				params += Size(sh)
			}
		}
		if len(s.Layers) != c.layers || params != c.params {
			t.Errorf("%s: %d layers, %d params; want %d, %d (Keras' summary)", s, len(s.Layers), params, c.layers, c.params)
		}
	}
	if _, err := VGG("vgg11", false, 0); err == nil {
		t.Error("vgg11 accepted")
	}
	// The classes limit: MaxClasses for VGG, the caller's for VGGUpTo.
	for _, c := range []struct {
		classes, limit int
		ok             bool
	}{
		{MaxClasses, MaxClasses, true},
		{MaxClasses + 1, MaxClasses, false},
		{MaxClasses + 1, 2 * MaxClasses, true},
		{11, 10, false},
	} {
		s, err := VGGUpTo("vgg16", true, c.classes, c.limit)
		if c.ok != (err == nil) || (!c.ok && !errors.Is(err, ErrTooManyClasses)) {
			t.Errorf("VGGUpTo(%d classes, limit %d): %v; want ok=%v or ErrTooManyClasses", c.classes, c.limit, err, c.ok)
			continue
		}
		if c.ok {
			if got := s.Layers[len(s.Layers)-1].Shapes[1]; got[0] != c.classes {
				t.Errorf("VGGUpTo(%d classes): predictions' bias %v", c.classes, got)
			}
		}
		if c.limit == MaxClasses {
			if _, err := VGG("vgg16", true, c.classes); (err == nil) != c.ok {
				t.Errorf("VGG(%d classes): %v; want ok=%v", c.classes, err, c.ok)
			}
		}
	}
}

func TestParseInfo(t *testing.T) {
	for _, c := range []struct {
		in    string
		shape []int
		cont  int64
		bad   bool
	}{
		{"Dataset: float (size=4 bytes), 4D array [3 3 3 64], contiguous (address=0xCA8, size=6912)", []int{3, 3, 3, 64}, 6912, false},
		{"Dataset: float (size=4 bytes), 2D array [25088 x 4096], chunked (chunks=[1568 256 4])", []int{25088, 4096}, -1, false},
		{"Dataset: float (size=8 bytes), 1D array [64], compact (size=512)", []int{64}, -1, false},
		{"Dataset: float (size=4 bytes), scalar, contiguous (address=0x10, size=4)", []int{}, 4, false},
		{"Dataset: float (size=4 bytes), 3D array [1 2], contiguous", nil, 0, true},
		{"garbage", nil, 0, true},
	} {
		got, err := parseInfo(c.in)
		if c.bad {
			if err == nil {
				t.Errorf("%q: no error", c.in)
			}
			continue
		}
		if err != nil || !slices.Equal(got.shape, c.shape) || got.contiguousSize != c.cont {
			t.Errorf("%q: %+v %v", c.in, got, err)
		}
	}
}

func TestReadNeverPanics(t *testing.T) {
	// Cut a real file at many places; every prefix must be an error or a File, never a panic.
	whole, err := os.ReadFile(fixture(t, "vgg16_keras2_notop.h5"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, n := range []int{8, 64, 512, 1000, 2048, 4000, 8192, 20000, len(whole) / 2, len(whole) - 1} {
		p := filepath.Join(dir, "cut.h5")
		os.WriteFile(p, whole[:n], 0o644)
		if _, err := Read(p); err == nil && n < len(whole) {
			// Some prefixes are complete metadata with data past the end: reading must fail.
			t.Errorf("prefix of %d bytes read without error", n)
		}
	}
	if !bytes.HasPrefix(whole, []byte(hdf5Signature)) {
		t.Error("fixture lacks the HDF5 signature")
	}
	var pe *os.PathError
	if _, err := Read(filepath.Join(dir, "absent.h5")); !errors.As(err, &pe) {
		t.Errorf("missing file: %v", err)
	}
}

func TestSynthetic(t *testing.T) {
	spec := MustVGG("vgg16", false, 0)
	a, b := Synthetic(spec, 1), Synthetic(spec, 1)
	equalFiles(t, a, b)
	if c := Synthetic(spec, 2); sha(c.Layers[0].Weights[0].Data) == sha(a.Layers[0].Weights[0].Data) {
		t.Error("seed ignored")
	}
	// Written as Keras 2 and loaded back, they pass the model's checks unchanged.
	p := filepath.Join(t.TempDir(), "synth.h5")
	if err := WriteKeras2(p, a); err != nil {
		t.Fatal(err)
	}
	back, err := LoadVGG(p, spec, WithoutCache())
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, a, back)
	// He scaling: block1_conv1's kernel has std near sqrt(2/27).
	k := a.Layers[0].Weights[0].Data
	var ss float64
	for _, v := range k {
		ss += float64(v) * float64(v)
	}
	if std := math.Sqrt(ss / float64(len(k))); math.Abs(std-math.Sqrt(2.0/27)) > 0.03 {
		t.Errorf("block1_conv1 kernel std %.3f", std)
	}
}

// Big-endian float32 (and float64) datasets read to the same values as little-endian ones.
func TestByteOrders(t *testing.T) {
	p := filepath.Join(t.TempDir(), "orders.h5")
	script := `
import sys, h5py, numpy as np
v = (np.arange(24, dtype=np.float32) - 7.25) / 3
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["layer_names"] = np.array([b"l"])
    g = f.create_group("l")
    g.attrs["weight_names"] = np.array([b"le:0", b"be:0", b"f64:0", b"zeros:0"])
    g.create_dataset("le:0", data=v.reshape(2, 3, 4).astype("<f4"))
    g.create_dataset("be:0", data=v.reshape(2, 3, 4).astype(">f4"))
    g.create_dataset("f64:0", data=v.reshape(2, 3, 4).astype("<f8"))
    g.create_dataset("zeros:0", data=np.zeros((5,), ">f4"))
`
	if out, err := exec.Command(h5pyPython(t), "-c", script, p).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	f, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	ws := f.Layer("l").Weights
	want := make([]float32, 24)
	for i := range want {
		want[i] = (float32(i) - 7.25) / 3
	}
	for _, w := range ws[:3] {
		if !slices.Equal(w.Shape, []int{2, 3, 4}) || !slices.Equal(w.Data, want) {
			t.Errorf("%s: %v %v", w.Name, w.Shape, w.Data)
		}
	}
	if !slices.Equal(ws[3].Data, make([]float32, 5)) {
		t.Errorf("zeros: %v", ws[3].Data)
	}
}

func TestCatalog(t *testing.T) {
	for _, c := range []struct {
		model string
		top   bool
		md5   string
	}{
		{"vgg19", false, "253f8cb515780f3b799900260a226db6"},
		{"vgg19", true, "cbe5617147190e668d6c5d5026f83318"},
		{"vgg16", false, "6d6bbae143d832006294945121d1f1fc"},
		{"vgg16", true, "64373286793e3c8b2b4e3219cbf3544b"},
	} {
		e, err := ImageNet(c.model, c.top)
		if err != nil || e.MD5 != c.md5 || !strings.HasPrefix(e.URL, "https://storage.googleapis.com/tensorflow/keras-applications/"+c.model+"/") || !strings.HasSuffix(e.URL, e.FileName) || e.Size == 0 {
			t.Errorf("%s top=%v: %+v %v", c.model, c.top, e, err)
		}
	}
	if _, err := ImageNet("resnet50", false); err == nil {
		t.Error("resnet50 accepted")
	}
}
