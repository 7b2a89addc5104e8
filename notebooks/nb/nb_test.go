package nb

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/weights"
)

// panics returns what f panicked with, or nil.
func panics(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

func TestMust(t *testing.T) {
	if v := panics(func() { Must(nil) }); v != nil {
		t.Errorf("Must(nil) panicked: %v", v)
	}
	err := errors.New("boom")
	if v := panics(func() { Must(err) }); v != err {
		t.Errorf("Must(err) panicked with %v, want the error", v)
	}
}

func TestPhoto(t *testing.T) {
	x := Photo(200, 300)
	if got := x.Shape().Dimensions; !slices.Equal(got, []int{1, 200, 300, 3}) {
		t.Fatalf("Photo(200, 300) shape %v", got)
	}
	// preprocess_input: BGR with ImageNet's means subtracted, so values are centred, not 0..255.
	v := Flat(x)
	lo, hi := slices.Min(v), slices.Max(v)
	if lo >= 0 || hi > 160 || lo < -130 {
		t.Errorf("Photo values in [%g, %g], want preprocess_input's range (about -124..152)", lo, hi)
	}
}

// TestSumOfWeights: the fingerprint covers the VGG variables and ignores what a
// notebook adds at /input_image and under /head/.
func TestSumOfWeights(t *testing.T) {
	if testing.Short() {
		t.Skip("writes the synthetic VGG19 weights (80 MB) on first use")
	}
	m := VGG19(gomlx_vgg.VGG19().IncludeTop(false))
	before := SumOfWeights(m)
	if before == 0 {
		t.Fatal("sum of VGG19 weights is 0")
	}
	store := m.Store()
	if _, err := store.CreateVariable("/input_image", Photo(8, 8)); err != nil {
		t.Fatal(err)
	}
	head := store.VariableWithShape("/head/kernel", shapes.Make(dtypes.Float32, 512, 10),
		initializer.GlorotUniformFn(store.RootScope()))
	Must(store.InitializeVariables(m.Backend(), nil))
	if !head.HasValue() || SumOfWeights(m) != before {
		t.Errorf("added variables changed the VGG fingerprint: %.12g -> %.12g", before, SumOfWeights(m))
	}
	k := Values(store, "/block1_conv1/kernel")
	if len(k) != 3*3*3*64 {
		t.Errorf("block1_conv1 kernel has %d values, want %d", len(k), 3*3*3*64)
	}
	v := panics(func() { Values(store, "/no/such") })
	if !strings.Contains(fmt.Sprint(v), `"/no/such"`) {
		t.Errorf("Values of a missing variable panicked with %v, want its path named", v)
	}
}

// TestTransposeWithoutFlip: the mistaken conversion is Keras' correct one
// (weights.KernelToHWIO) mirrored in both spatial axes, and WithWeight changes
// only the copy.
func TestTransposeWithoutFlip(t *testing.T) {
	th := weights.Tensor{Name: "kernel", Shape: []int{2, 3, 3, 2}, Data: make([]float32, 36)}
	for i := range th.Data {
		th.Data[i] = float32(i)
	}
	good, bad := weights.KernelToHWIO(th), TransposeWithoutFlip(th)
	if !slices.Equal(bad.Shape, []int{3, 2, 3, 2}) {
		t.Fatalf("shape %v, want [3 2 3 2]", bad.Shape)
	}
	at := func(k weights.Tensor, h, w, i, o int) float32 { return k.Data[((h*2+w)*3+i)*2+o] }
	for h := range 3 {
		for w := range 2 {
			for i := range 3 {
				for o := range 2 {
					if at(bad, h, w, i, o) != at(good, 2-h, 1-w, i, o) {
						t.Fatalf("[%d %d %d %d]: %v, want the flipped %v", h, w, i, o, at(bad, h, w, i, o), at(good, 2-h, 1-w, i, o))
					}
				}
			}
		}
	}
	f := &weights.File{Path: "x", Layers: []weights.Layer{{Name: "c", Weights: []weights.Tensor{good}}}}
	g := WithWeight(f, "c", 0, bad)
	if &g.Layers[0].Weights[0].Data[0] != &bad.Data[0] || &f.Layers[0].Weights[0].Data[0] != &good.Data[0] {
		t.Error("WithWeight did not replace the weight in the copy only")
	}
}
