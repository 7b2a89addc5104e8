package weights

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/vggnb/vggnb/weights/download"
)

// SyntheticNotice is the warning every output based on Synthetic weights must carry.
const SyntheticNotice = "SYNTHETIC WEIGHTS: deterministic random values in the Keras layout, NOT the ImageNet weights; activations and predictions are meaningless"

// Synthetic returns deterministic He-initialised weights for spec (the classifier
// scaled down so that logits on photos are O(10), as trained ones are), in LoadVGG's
// form (channels_last, kernel then bias). The same spec and seed always give the
// same values on every machine, so checks that need "some VGG weights" work
// offline. Outputs that use them must say so (SyntheticNotice).
func Synthetic(spec Spec, seed uint64) *File {
	f := &File{Path: SyntheticPath(spec), Format: FormatUnknown, Backend: "synthetic"}
	for _, ls := range spec.Weighted() {
		l := Layer{Name: ls.Name, Class: ls.Class}
		for i, shape := range ls.Shapes {
			data := make([]float32, Size(shape))
			syntheticValues(ls.Name, i, shape, seed, data)
			l.Weights = append(l.Weights, Tensor{Name: WeightNames[i], Shape: append([]int(nil), shape...), Data: data})
		}
		f.Layers = append(f.Layers, l)
	}
	return f
}

// SyntheticPath is what Synthetic's File gives as its Path.
func SyntheticPath(spec Spec) string { return "synthetic:" + spec.String() }

// SyntheticInto writes Synthetic(spec, seed)'s values of layer's weight i
// (0 kernel, 1 bias) into dst, without making the rest: a model loads synthetic
// weights straight into its tensors.
func SyntheticInto(spec Spec, seed uint64, layer string, i int, dst []float32) error {
	ls, ok := spec.Layer(layer)
	if !ok {
		return fmt.Errorf("weights: synthetic %s: no layer %s", spec, layer)
	}
	if i < 0 || i >= len(ls.Shapes) {
		return fmt.Errorf("weights: synthetic %s: layer %s has no weight %d", spec, layer, i)
	}
	if n := Size(ls.Shapes[i]); n != len(dst) {
		return fmt.Errorf("weights: synthetic %s: layer %s %s has %d values, not %d", spec, layer, WeightNames[i], n, len(dst))
	}
	syntheticValues(layer, i, ls.Shapes[i], seed, dst)
	return nil
}

// syntheticValues fills data with weight i of layer: normal values, He-scaled
// kernels, small biases, from a generator seeded by seed and the weight's name.
func syntheticValues(layer string, i int, shape []int, seed uint64, data []float32) {
	h := sha256.Sum256([]byte(layer + "/" + WeightNames[i]))
	r := rand.New(rand.NewPCG(seed, binary.LittleEndian.Uint64(h[:8])))
	scale := 0.01
	if i == 0 {
		fanIn := float64(Size(shape[:len(shape)-1]))
		scale = math.Sqrt(2 / fanIn)
		if layer == ClassifierLayerName {
			// Logits of a He-initialised head on photos reach ±300 and
			// saturate softmax; a trained ImageNet classifier's are O(10).
			scale = 0.05 / math.Sqrt(fanIn)
		}
	}
	for j := range data {
		data[j] = float32(r.NormFloat64() * scale)
	}
}

// ImageNetOrSynthetic returns the Keras ImageNet weight file of a model when a
// verified copy is on this machine (download.Local: the Keras and vggnb caches),
// else a file of deterministic synthetic weights (Synthetic(spec, seed)) in the
// Keras 2 layout, written once into the vggnb cache; synthetic says which. The
// path is a real .h5 file, so other tools (h5py, PyTorch) can read the same
// weights. It never downloads.
func ImageNetOrSynthetic(model string, includeTop bool, seed uint64) (path string, synthetic bool, err error) {
	spec, err := VGG(model, includeTop, 0)
	if err != nil {
		return "", false, err
	}
	e, err := ImageNet(model, includeTop)
	if err != nil {
		return "", false, err
	}
	if p, err := download.Local(e); err == nil {
		return p, false, nil
	}
	top := "_notop"
	if includeTop {
		top = ""
	}
	path = filepath.Join(download.CacheDir(), "synthetic", fmt.Sprintf("%s%s_seed%d.h5", spec.Model, top, seed))
	if _, err := os.Stat(path); err == nil {
		return path, true, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", false, fmt.Errorf("weights: %w", err)
	}
	if err := WriteKeras2(path, Synthetic(spec, seed)); err != nil { // atomic: temporary, then rename
		return "", false, err
	}
	return path, true, nil
}

// IsSyntheticFile reports whether path is one of the SYNTHETIC weight files
// ImageNetOrSynthetic writes (under the cache's synthetic directory).
func IsSyntheticFile(path string) bool {
	dir, err := filepath.Abs(filepath.Join(download.CacheDir(), "synthetic"))
	if err != nil {
		return false
	}
	p, err := filepath.Abs(path)
	return err == nil && filepath.Dir(p) == dir
}
