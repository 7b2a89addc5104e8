package weights

import (
	"path/filepath"
	"testing"
)

// BenchmarkLoadVGG19 loads the 80 MB VGG19 no-top file (synthetic, 2016 layout):
// cold parses the .h5, warm reads the fast-reload cache (in this process; see
// bench/weightsload for a fresh process per load and h5py beside it).
func BenchmarkLoadVGG19(b *testing.B) {
	path := fixture(b, "vgg19_tf2016_notop.h5")
	spec := MustVGG("vgg19", false, 0)
	b.Run("cold", func(b *testing.B) {
		b.SetBytes(80 << 20)
		for b.Loop() {
			if _, err := LoadVGG(path, spec, WithoutCache()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("warm", func(b *testing.B) {
		cache := filepath.Join(b.TempDir(), "cache")
		if _, err := LoadVGG(path, spec, WithCacheDir(cache)); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(80 << 20)
		for b.Loop() {
			if _, err := LoadVGG(path, spec, WithCacheDir(cache)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
