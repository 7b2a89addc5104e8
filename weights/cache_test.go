package weights

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/vggnb/vggnb/internal/procstat"
)

// TestCacheChecksum: 4 KB overwritten in a fast-reload cache file gave
// block5_pool a mean of 0.0084 instead of 49.65, silently. A corrupted cache
// must be refused by its checksum, and LoadVGG must reload the source.
func TestCacheChecksum(t *testing.T) {
	dir := t.TempDir()
	spec := MustVGG("vgg16", false, 0)
	src := filepath.Join(dir, "w.h5")
	if err := WriteKeras2(src, Synthetic(spec, 5)); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "cache")
	first, key := loadCached(t, src, spec, cache)
	// Overwrite 4 KB in the middle of the tensor data.
	fh, err := os.OpenFile(key.file, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := fh.Stat()
	junk := make([]byte, 4096)
	for i := range junk {
		junk[i] = byte(i*7 + 1)
	}
	if _, err := fh.WriteAt(junk, st.Size()/2); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	if _, err := readCache(key); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("corrupted cache read back: %v", err)
	}
	again, err := LoadVGG(src, spec, WithCacheDir(cache))
	if err != nil {
		t.Fatal(err)
	}
	equalFiles(t, first, again)
	if _, err := readCache(key); err != nil {
		t.Errorf("the cache was not rewritten after the corrupted one was refused: %v", err)
	}
}

func TestFloat32sLE(t *testing.T) {
	for _, c := range []struct {
		v   []float32
		hex string
	}{
		{nil, ""},
		{[]float32{1}, "0000803f"},
		{[]float32{-2, 0.5}, "000000c00000003f"},
	} {
		b := Float32sToLE(c.v)
		if got := fmt.Sprintf("%x", b); got != c.hex {
			t.Errorf("Float32sToLE(%v) = %s, want %s", c.v, got, c.hex)
		}
		if back := Float32sFromLE(b); len(back) != len(c.v) || (len(c.v) > 0 && fmt.Sprint(back) != fmt.Sprint(c.v)) {
			t.Errorf("Float32sFromLE(%x) = %v, want %v", b, back, c.v)
		}
	}
}

// TestMoveIntoDropsPages: moving a cached file's tensors out copies every value
// and drops the mapped pages as it goes (Linux: the process's file-backed
// resident memory falls by about the weights' size), and MoveInto refuses a
// destination of the wrong size.
func TestMoveIntoDropsPages(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pages are dropped from mapped files on Linux only (elsewhere the file is read)")
	}
	dir := t.TempDir()
	spec := MustVGG("vgg16", false, 0)
	src := filepath.Join(dir, "w.h5")
	want := Synthetic(spec, 5)
	if err := WriteKeras2(src, want); err != nil {
		t.Fatal(err)
	}
	_, key := loadCached(t, src, spec, filepath.Join(dir, "cache"))
	f, err := readCache(key)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.mapped) == 0 {
		t.Fatal("the cache was read, not mapped")
	}
	var sum float64
	for _, l := range f.Layers {
		for _, w := range l.Weights {
			for _, v := range w.Data { // fault every page in
				sum += float64(v)
			}
		}
	}
	before := rssFileKB(t)
	bad := f.Layers[0].Weights[0]
	if err := f.MoveInto(&bad, make([]float32, len(bad.Data)-1)); err == nil {
		t.Error("MoveInto accepted a destination one value short")
	}
	for li := range f.Layers {
		for wi := range f.Layers[li].Weights {
			w := &f.Layers[li].Weights[wi]
			dst := make([]float32, len(w.Data))
			if err := f.MoveInto(w, dst); err != nil {
				t.Fatal(err)
			}
			if &w.Data[0] != &dst[0] {
				t.Fatalf("%s/%s: Data is not the destination after MoveInto", f.Layers[li].Name, w.Name)
			}
		}
	}
	after := rssFileKB(t)
	equalFiles(t, want, f)
	size := 4 * f.NumParams() / 1024
	if dropped := before - after; dropped < size*8/10 {
		t.Errorf("file-backed RSS %d kB -> %d kB: %d kB dropped, want about the weights' %d kB", before, after, dropped, size)
	}
	t.Logf("file-backed RSS %d kB -> %d kB (weights %d kB, sum %.3g)", before, after, size, sum)
}

// rssFileKB is this process's file-backed resident memory (Linux).
func rssFileKB(t *testing.T) int {
	t.Helper()
	kb, ok := procstat.KB("RssFile")
	if !ok {
		t.Fatal("no RssFile in /proc/self/status")
	}
	return int(kb)
}

// TestSyntheticInto: each weight made alone equals Synthetic's; a wrong layer,
// index or size is an error naming it.
func TestSyntheticInto(t *testing.T) {
	spec := MustVGG("vgg19", false, 0)
	f := Synthetic(spec, 3)
	for _, l := range f.Layers {
		for i, w := range l.Weights {
			dst := make([]float32, len(w.Data))
			if err := SyntheticInto(spec, 3, l.Name, i, dst); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(dst, w.Data) {
				t.Fatalf("%s/%s differs from Synthetic's", l.Name, w.Name)
			}
		}
	}
	for _, tt := range []struct {
		layer string
		i, n  int
		want  string
	}{
		{"block9_conv1", 0, 1, "no layer block9_conv1"},
		{"block1_conv1", 2, 64, "no weight 2"},
		{"block1_conv1", 1, 63, "has 64 values, not 63"},
	} {
		if err := SyntheticInto(spec, 3, tt.layer, tt.i, make([]float32, tt.n)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SyntheticInto(%s, %d, %d values) = %v, want %q", tt.layer, tt.i, tt.n, err, tt.want)
		}
	}
}
