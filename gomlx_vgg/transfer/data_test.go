package transfer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
)

// tinyDataset is n 28x28 grey images with labels 0..9 in turn.
func tinyDataset(n int) *mlp.Dataset {
	d := &mlp.Dataset{Name: "tiny", Rows: 28, Cols: 28, Images: make([]float32, n*784), Labels: make([]uint8, n)}
	for i := range d.Images {
		d.Images[i] = float32(math.Abs(math.Sin(float64(i) * 0.37)))
	}
	for i := range d.Labels {
		d.Labels[i] = uint8(i % 10)
	}
	return d
}

func TestBalanced(t *testing.T) {
	d := tinyDataset(100)
	idx, err := Balanced(d, 50, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	counts := make([]int, 10)
	for _, i := range idx {
		counts[d.Labels[i]]++
	}
	for c, n := range counts {
		if n != 5 {
			t.Errorf("class %d: %d examples, want 5", c, n)
		}
	}
	again, _ := Balanced(d, 50, 10, 1)
	other, _ := Balanced(d, 50, 10, 2)
	if !slices.Equal(idx, again) || slices.Equal(idx, other) {
		t.Error("the subset is not a reproducible function of the seed")
	}
	if _, err := Balanced(d, 200, 10, 1); err == nil {
		t.Error("a subset larger than the data was accepted")
	}
}

func TestImages(t *testing.T) {
	d := tinyDataset(3)
	x, y, err := Images(d, []int{2, 0}, 40)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(x.Shape().Dimensions, []int{2, 40, 40, 3}) || !slices.Equal(y, []int32{2, 0}) {
		t.Fatalf("images %s labels %v", x.Shape(), y)
	}
	// Grey: after preprocess_input (BGR minus ImageNet's means) the three channels
	// differ by exactly the means' differences.
	v := tensors.MustCopyFlatData[float32](x)
	if d := (v[0] + 103.939) - (v[2] + 123.68); math.Abs(float64(d)) > 1e-3 {
		t.Errorf("B and R of a grey pixel differ by %g after removing the means", d)
	}
	if _, _, err := Images(d, []int{5}, 40); err == nil {
		t.Error("an index past the data was accepted")
	}
}

// TestFeatureCache: features are computed once, read back identical from the
// cache, recomputed when the file is damaged, and keyed by weights and data.
func TestFeatureCache(t *testing.T) {
	s := postModel(t)
	d := tinyDataset(4)
	dir := t.TempDir()
	var log bytes.Buffer
	first, labels, err := s.ExtractFeatures(d, []int{0, 1, 3}, dir, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(first.Shape().Dimensions, []int{3, 40, 40, 128}) || !slices.Equal(labels, []int32{0, 1, 3}) {
		t.Fatalf("features %s labels %v", first.Shape(), labels)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "features-*.bin"))
	if len(files) != 1 {
		t.Fatalf("cache files %v", files)
	}
	// The same as the base run directly.
	x, _, _ := Images(d, []int{0, 1, 3}, PostInputSize)
	direct, err := s.Features(x)
	if err != nil {
		t.Fatal(err)
	}
	want := tensors.MustCopyFlatData[float32](direct)
	if !slices.Equal(tensors.MustCopyFlatData[float32](first), want) {
		t.Error("extracted features differ from the base's output")
	}
	again, _, err := s.ExtractFeatures(d, []int{0, 1, 3}, dir, nil)
	if err != nil || !slices.Equal(tensors.MustCopyFlatData[float32](again), want) {
		t.Errorf("cached features differ (%v)", err)
	}
	// Damaged: detected, recomputed, said.
	b, _ := os.ReadFile(files[0])
	b[len(b)-7] ^= 0x40
	os.WriteFile(files[0], b, 0o644)
	log.Reset()
	fixed, _, err := s.ExtractFeatures(d, []int{0, 1, 3}, dir, &log)
	if err != nil || !slices.Equal(tensors.MustCopyFlatData[float32](fixed), want) || !strings.Contains(log.String(), "checksum mismatch") {
		t.Errorf("a damaged cache file: err %v, log %q", err, log.String())
	}
	// Other data, or other weights: another key.
	if _, _, err := s.ExtractFeatures(d, []int{0, 1, 2}, dir, nil); err != nil {
		t.Fatal(err)
	}
	v := s.Store().GetVariable("/block2_conv2/bias")
	bias := tensors.MustCopyFlatData[float32](v.MustValue())
	bias[0] += 1
	v.MustSetValue(tensors.FromFlatDataAndDimensions(bias, len(bias)))
	if _, _, err := s.ExtractFeatures(d, []int{0, 1, 3}, dir, nil); err != nil {
		t.Fatal(err)
	}
	if files, _ = filepath.Glob(filepath.Join(dir, "features-*.bin")); len(files) != 3 {
		t.Errorf("%d cache files, want 3 (two data subsets, two weights)", len(files))
	}
}

// TestFit: epochs of shuffled batches with a validation accuracy per epoch.
func TestFit(t *testing.T) {
	s := postModel(t)
	d := tinyDataset(8)
	f, y, err := s.ExtractFeatures(d, []int{0, 1, 2, 3, 4, 5, 6, 7}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var epochs []int
	h, err := s.HeadTrainer(RMSprop(1e-4)).Fit(f, y, Fit{Epochs: 2, BatchSize: 4, ValX: f, ValY: y,
		OnEpoch: func(e int, loss, acc float64) { epochs = append(epochs, e) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Loss) != 2 || !slices.Equal(epochs, []int{1, 2}) || h.ValAccuracy[1] < 0 || h.ValAccuracy[1] > 1 {
		t.Errorf("history %+v, epochs %v", h, epochs)
	}
	if _, err := s.HeadTrainer(RMSprop(1e-4)).Fit(f, y, Fit{Epochs: 1, BatchSize: 16}); err == nil {
		t.Error("a batch larger than the data was accepted")
	}
}

// TestHeadAlone: the same head on raw 40x40 pixels, trained from scratch.
func TestHeadAlone(t *testing.T) {
	h, err := NewHead(40, 40, 3, 10, 1)
	if err != nil {
		t.Fatal(err)
	}
	ls := h.Layers()
	if ls[0].Name != "input_1" || ls[1].Name != "conv2d_1" || ls[1].Params != 3*3*3*64+64 || ls[4].Params != 23104*256+256 {
		t.Errorf("layers %+v", ls)
	}
	if total, trainable := h.CountParams(); total != trainable || total != 1792+5914880+2570 {
		t.Errorf("params %d trainable %d", total, trainable)
	}
	d := tinyDataset(8)
	x, y, err := Images(d, []int{0, 1, 2, 3, 4, 5, 6, 7}, 40)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := h.EndToEndTrainer(RMSprop(1e-4)).Fit(x, y, Fit{Epochs: 1, BatchSize: 4, ValX: x, ValY: y})
	if err != nil || len(hist.Loss) != 1 || math.IsNaN(hist.Loss[0]) {
		t.Errorf("fit: %v %+v", err, hist)
	}
	if _, _, err := h.ExtractFeatures(d, []int{0}, "", nil); err == nil {
		t.Error("a head alone extracted features")
	}
}

// TestSeedReproducible: the same seed gives the same head, another seed another.
func TestSeedReproducible(t *testing.T) {
	sum := func(seed int64) []float32 {
		h, err := NewHead(8, 8, 3, 10, seed)
		if err != nil {
			t.Fatal(err)
		}
		return tensors.MustCopyFlatData[float32](h.Store().GetVariable("/conv2d_1/kernel").MustValue())
	}
	a, b, c := sum(3), sum(3), sum(4)
	if !slices.Equal(a, b) || slices.Equal(a, c) {
		t.Error("the head's initial values are not a function of the seed")
	}
}

// TestExtractFeaturesCancel: a cancelled extraction stops at the next batch
// of FeatureBatch images (a fraction of a second each) and writes no cache
// file (before, Ctrl-C took effect only once every image was done).
func TestExtractFeaturesCancel(t *testing.T) {
	s := postModel(t)
	const n = 8 * FeatureBatch
	d := tinyDataset(n)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	batchDone = func(done int) {
		if done == FeatureBatch {
			cancel() // Ctrl-C during the first batch
		}
	}
	defer func() { batchDone = nil }()
	_, _, err := s.ExtractFeaturesContext(ctx, d, idx, dir, nil)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), fmt.Sprintf("after %d of %d images", FeatureBatch, n)) {
		t.Fatalf("cancelled extraction: %v, want it stopped after the first batch", err)
	}
	if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) > 0 {
		t.Errorf("a cancelled extraction left %v", files)
	}
}
