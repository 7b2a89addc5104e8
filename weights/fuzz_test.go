package weights

import (
	"os"
	"path/filepath"
	"testing"
)

// tinyKeras2 writes a small Keras 2 file (two layers) and returns its bytes.
func tinyKeras2(t testing.TB) []byte {
	f := &File{Layers: []Layer{
		{Name: "block1_conv1", Weights: []Tensor{
			{Name: "kernel", Shape: []int{3, 3, 3, 2}, Data: make([]float32, 54)},
			{Name: "bias", Shape: []int{2}, Data: []float32{1, -1}}}},
		{Name: "block1_pool"},
	}}
	for i := range f.Layers[0].Weights[0].Data {
		f.Layers[0].Weights[0].Data[i] = float32(i) / 7
	}
	p := filepath.Join(t.TempDir(), "tiny.h5")
	if err := WriteKeras2(p, f); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzRead feeds arbitrary bytes to Read: it may fail, never panic or hang.
// The seed corpus (a small valid file, its prefixes and corruptions) runs in
// every `go test`; `go test -fuzz FuzzRead ./weights` explores further.
func FuzzRead(f *testing.F) {
	seed := tinyKeras2(f)
	f.Add(seed)
	for _, n := range []int{0, 8, 100, 400, len(seed) / 2, len(seed) - 8} {
		f.Add(seed[:n])
	}
	for _, at := range []int{9, 50, 200, 600, len(seed) - 300} {
		b := append([]byte(nil), seed...)
		if at >= 0 && at < len(b) {
			b[at] ^= 0xff
			b[at+1] ^= 0x0f
		}
		f.Add(b)
	}
	f.Add([]byte("<html>not hdf5</html>"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.h5")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		file, err := Read(p)
		if err != nil {
			return
		}
		for _, l := range file.Layers {
			for _, w := range l.Weights {
				if len(w.Data) != Size(w.Shape) {
					t.Fatalf("layer %s weight %s: shape %v with %d values", l.Name, w.Name, w.Shape, len(w.Data))
				}
			}
		}
	})
}
