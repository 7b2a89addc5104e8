package weights

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
