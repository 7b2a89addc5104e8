package transfer

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/weights"
)

func surgery(t *testing.T) (*Surgery, string) {
	t.Helper()
	path, _, err := weights.ImageNetOrSynthetic("vgg16", true, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewPostSurgery(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

// TestSurgeryLayers: the post's layer list, new_conv's parameters, and every
// later layer frozen with exactly its pretrained weights.
func TestSurgeryLayers(t *testing.T) {
	s, path := surgery(t)
	var names []string
	for _, l := range s.Layers() {
		names = append(names, l.Name)
	}
	want := append([]string{"input_1", "new_conv"}, s.Base.LayerNames()[2:]...)
	if !slices.Equal(names, want) || names[2] != "block1_pool" || names[len(names)-1] != "predictions" {
		t.Fatalf("layers %v, want %v", names, want)
	}
	ls := s.Layers()
	if ls[1].Params != 4864 || !ls[1].Trainable || !slices.Equal(ls[1].OutputShape, []int{-1, 224, 224, 64}) {
		t.Errorf("new_conv: %+v, want 4864 trainable params, output (None, 224, 224, 64)", ls[1])
	}
	for _, l := range ls[2:] {
		if l.Trainable && l.Params > 0 {
			t.Errorf("%s is trainable", l.Name)
		}
	}
	total, trainable := s.CountParams()
	if trainable != 4864 || total != 138357544-1792-36928+4864 {
		t.Errorf("params %d (trainable %d), want %d (4864)", total, trainable, 138357544-1792-36928+4864)
	}
	// The pretrained weights of every later layer, as a fresh load of the file has them.
	ref := gomlx_vgg.VGG16().IncludeTop(true).Weights(gomlx_vgg.WeightSource(path)).MustDone()
	for v := range ref.Store().IterVariables() {
		layer := strings.Split(v.Path(), "/")[1]
		if layer == "block1_conv1" || layer == "block1_conv2" {
			continue
		}
		got := s.Store().GetVariable(v.Path())
		if got == nil {
			t.Errorf("%s missing", v.Path())
			continue
		}
		if !slices.Equal(tensors.MustCopyFlatData[float32](got.MustValue()), tensors.MustCopyFlatData[float32](v.MustValue())) {
			t.Errorf("%s differs from the file's", v.Path())
		}
		if got.Trainable {
			t.Errorf("%s is trainable", v.Path())
		}
	}
}

// TestDistillation: steps on new_conv alone lower its distance to
// block1_conv2 and leave every other variable as it was.
func TestDistillation(t *testing.T) {
	if testing.Short() {
		t.Skip("runs VGG16's first block at 224x224")
	}
	s, _ := surgery(t)
	x := photosAt(t, 2, 224, -15)
	before := map[string][]float32{}
	for v := range s.Store().IterVariables() {
		if v.Shape().DType == dtypes.Float32 {
			before[v.Path()] = tensors.MustCopyFlatData[float32](v.MustValue())
		}
	}
	d := s.Distiller(optimizer.Adam().LearningRate(3e-3).Done())
	var losses []float32
	for range 8 {
		l, err := d.Step(x)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, l)
	}
	t.Logf("distillation losses %v", losses)
	if !(losses[len(losses)-1] < 0.8*losses[0]) || math.IsNaN(float64(losses[0])) {
		t.Errorf("distillation losses %v: want the last well below the first", losses)
	}
	for v := range s.Store().IterVariables() {
		b, ok := before[v.Path()]
		if !ok {
			continue // the optimizer's own state
		}
		changed := !slices.Equal(b, tensors.MustCopyFlatData[float32](v.MustValue()))
		if changed != strings.HasPrefix(v.Path(), "/new_conv/") {
			t.Errorf("%s changed=%v", v.Path(), changed)
		}
	}
}
