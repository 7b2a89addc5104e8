package transfer

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/weights"
)

// postModel is the post's model on SYNTHETIC VGG16 weights (Keras layout).
func postModel(t *testing.T) *Stacked {
	t.Helper()
	path, _, err := weights.ImageNetOrSynthetic("vgg16", false, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewPostModel(path, 42)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// photos is a batch of n preprocessed 160x160 images (photosAt).
func photos(t *testing.T, n int) *tensors.Tensor { return photosAt(t, n, PostInputSize, 10) }

// photosAt is a batch of n preprocessed size x size images: the demo photo,
// then copies shifted by shift, 2*shift, ... so that the examples differ.
func photosAt(t *testing.T, n, size int, shift float32) *tensors.Tensor {
	t.Helper()
	img, err := imagenet.DemoImage(imagenet.TargetSize(size, size))
	if err != nil {
		t.Fatal(err)
	}
	x, err := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
	if err != nil {
		t.Fatal(err)
	}
	one := flat(x)
	all := make([]float32, 0, n*len(one))
	for i := range n {
		for _, v := range one {
			all = append(all, v+shift*float32(i))
		}
	}
	return tensors.FromFlatDataAndDimensions(all, n, size, size, 3)
}

func flat(t *tensors.Tensor) (v []float32) {
	tensors.ConstFlatData(t, func(f []float32) { v = slices.Clone(f) })
	return v
}

// values snapshots every variable's values by path.
func values(s *Stacked) map[string][]float32 {
	out := map[string][]float32{}
	for v := range s.Store().IterVariables() {
		if v.Shape().DType == dtypes.Float32 {
			out[v.Path()] = flat(v.MustValue())
		}
	}
	return out
}

func TestPostSummary(t *testing.T) {
	s := postModel(t)
	var names []string
	for _, l := range s.Layers() {
		names = append(names, l.Name)
	}
	want := []string{"input_1", "block1_conv1", "block1_conv2", "block1_pool", "block2_conv1", "block2_conv2", "block2_pool",
		"conv2d_1", "max_pooling2d_1", "flatten_1", "dense_1", "dropout_1", "dense_2"}
	if !slices.Equal(names, want) {
		t.Fatalf("layers %v, want %v", names, want)
	}
	ls := s.Layers()
	for i, c := range []struct {
		shape  []int
		params int
		train  bool
	}{
		6:  {[]int{-1, 40, 40, 128}, 0, false},
		7:  {[]int{-1, 38, 38, 64}, 73792, true},
		9:  {[]int{-1, 23104}, 0, true},
		10: {[]int{-1, 256}, 5914880, true},
		12: {[]int{-1, 10}, 2570, true},
	} {
		if c.shape == nil {
			continue
		}
		if l := ls[i]; !slices.Equal(l.OutputShape, c.shape) || l.Params != c.params || l.Trainable != c.train {
			t.Errorf("%s: %v %d params trainable=%v, want %v %d %v", l.Name, l.OutputShape, l.Params, l.Trainable, c.shape, c.params, c.train)
		}
	}
	total, trainable := s.CountParams()
	if total != 6251402 || trainable != 5991242 {
		t.Errorf("params total %d trainable %d, want Keras' 6,251,402 and 5,991,242", total, trainable)
	}
	// The summary's counts are the variables' sizes.
	head := 0
	for v := range s.Store().IterVariables() {
		for _, l := range []string{"conv2d_1", "dense_1", "dense_2"} {
			if layerOf(v.Path()) == l {
				head += v.Shape().Size()
				if !v.Trainable {
					t.Errorf("%s is frozen", v.Path())
				}
			}
		}
		if layerOf(v.Path()) == "block2_conv2" && v.Trainable {
			t.Errorf("%s is trainable", v.Path())
		}
	}
	if head != 73792+5914880+2570 {
		t.Errorf("head variables hold %d values, want %d", head, 73792+5914880+2570)
	}
}

// TestTrainingKeepsFrozenLayers: end-to-end steps change the head and leave
// every frozen layer bit-identical; the loss is finite.
func TestTrainingKeepsFrozenLayers(t *testing.T) {
	if testing.Short() {
		t.Skip("trains VGG16's first blocks at 160x160")
	}
	s := postModel(t)
	before := values(s)
	tr := s.EndToEndTrainer(RMSprop(1e-3))
	x := photos(t, 2)
	for range 2 {
		loss, err := tr.Step(x, []int32{3, 7})
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) || loss < 0 {
			t.Fatalf("loss %v", loss)
		}
	}
	after := values(s)
	for path, b := range before {
		a := after[path]
		base := strings.HasPrefix(path, "/block")
		changed := !slices.Equal(a, b)
		if base && changed {
			t.Errorf("frozen %s changed in training", path)
		}
		if !base && !changed && (layerOf(path) == "conv2d_1" || layerOf(path) == "dense_1" || layerOf(path) == "dense_2") {
			t.Errorf("head variable %s did not change", path)
		}
	}

	// Fine-tuning: block2 unfrozen (layers[:4] frozen), a low learning rate;
	// block2 now trains and block1 still does not. The same trainer rebuilds
	// its graphs for the new setting.
	if err := s.Freeze(4); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(x, []int32{3, 7}); err != nil {
		t.Fatal(err)
	}
	tuned := values(s)
	for _, c := range []struct {
		path    string
		changed bool
	}{{"/block1_conv2/kernel", false}, {"/block2_conv1/kernel", true}, {"/block2_conv2/bias", true}} {
		if got := !slices.Equal(tuned[c.path], after[c.path]); got != c.changed {
			t.Errorf("fine-tuning: %s changed=%v, want %v", c.path, got, c.changed)
		}
	}
}

// TestFeaturesEqualEndToEnd: the head on cached features (Keras' feature
// extraction, the base through the native kernels) and Predict (the same, on
// the native engine) give the same outputs as the whole model in one graph.
func TestFeaturesEqualEndToEnd(t *testing.T) {
	s := postModel(t)
	x := photos(t, 2)
	whole, err := s.predictGraph(x)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Features(x)
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Shape(); !slices.Equal(got.Dimensions, []int{2, 40, 40, 128}) {
		t.Fatalf("features %s", got)
	}
	head, err := s.PredictFeatures(f)
	if err != nil {
		t.Fatal(err)
	}
	predict, err := s.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		got  *tensors.Tensor
	}{{"feature extraction", head}, {"Predict", predict}} {
		a, b := flat(whole), flat(c.got)
		if len(a) != len(b) {
			t.Errorf("%s: %d values, the whole graph %d", c.name, len(b), len(a))
			continue
		}
		if _, rel := consistency.Compare(b, a); rel > 1e-5 {
			t.Errorf("%s and the whole graph differ by %.2e relative", c.name, rel)
		}
	}
}

// TestCheckpointRoundTrip: a trained head saved and loaded into a fresh model
// (as the next GoNB cell would) has identical values and the same frozen flags.
func TestCheckpointRoundTrip(t *testing.T) {
	s := postModel(t)
	dir := t.TempDir()
	feats := tensors.FromShape(shapes.Make(dtypes.Float32, 2, 40, 40, 128))
	tensors.MutableFlatData(feats, func(f []float32) {
		for i := range f {
			f[i] = float32(i%97) / 10
		}
	})
	tr := s.HeadTrainer(RMSprop(1e-3))
	if _, err := tr.Step(feats, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	want := values(s)
	fresh := postModel(t)
	if err := fresh.Load(dir); err != nil {
		t.Fatal(err)
	}
	got := values(fresh)
	for path, w := range want {
		if strings.HasPrefix(path, "/block3") || strings.HasPrefix(path, "/block4") || strings.HasPrefix(path, "/block5") {
			continue // past the cut: not saved, not used
		}
		if _, ok := got[path]; !ok {
			continue // training state (optimizer, metrics): loaded when a trainer creates it, checked below
		}
		if !slices.Equal(got[path], w) {
			t.Errorf("%s differs after the round trip", path)
		}
	}
	for _, l := range []string{"/conv2d_1/kernel", "/dense_1/dense/weights", "/dense_2/dense/biases", "/block2_conv2/kernel"} {
		if _, ok := got[l]; !ok {
			t.Errorf("%s missing after loading", l)
		}
	}
	if fresh.Frozen() != PostFrozen {
		t.Errorf("Frozen() = %d after loading, want %d", fresh.Frozen(), PostFrozen)
	}
	for v := range fresh.Store().IterVariables() {
		if w := s.Store().GetVariable(v.Path()); w != nil && w.Trainable != v.Trainable {
			t.Errorf("%s trainable=%v after loading, %v before", v.Path(), v.Trainable, w.Trainable)
		}
	}
	p1, err := s.PredictFeatures(feats)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := fresh.PredictFeatures(feats)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(flat(p1), flat(p2)) {
		t.Error("the loaded model predicts differently")
	}
	// Training goes on where it stopped: the optimizer's state came back too,
	// so one more step on each gives the same head.
	if _, err := tr.Step(feats, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.HeadTrainer(RMSprop(1e-3)).Step(feats, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	a, b := values(s), values(fresh)
	for _, p := range []string{"/dense_1/dense/weights", "/AdamOptimizer/step"} {
		if !slices.Equal(a[p], b[p]) {
			t.Errorf("%s differs after one more step on each (%v...)", p, b[p][:1])
		}
	}
	// End to end from a loaded head (notebook 04's fine-tuning): the loaded
	// optimizer state (trainable as loaded) is not taken for the model's.
	loaded := postModel(t)
	if err := loaded.Load(dir); err != nil {
		t.Fatal(err)
	}
	for _, frozen := range []int{PostFrozen, 4} {
		if err := loaded.Freeze(frozen); err != nil {
			t.Fatal(err)
		}
		if _, err := loaded.EndToEndTrainer(RMSprop(1e-5)).Step(photos(t, 2), []int32{1, 2}); err != nil {
			t.Fatalf("end to end after loading, Freeze(%d): %v", frozen, err)
		}
	}
}
