package weights

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestWrongModelErrors: callers tell a file of another model, and a weight of
// the wrong shape, with errors.Is/As; the messages still say everything.
func TestWrongModelErrors(t *testing.T) {
	spec16 := MustVGG("vgg16", false, 0)
	path := filepath.Join(t.TempDir(), "vgg16.h5")
	if err := WriteKeras2(path, Synthetic(spec16, 1)); err != nil {
		t.Fatal(err)
	}
	_, err := LoadVGG(path, MustVGG("vgg19", false, 0), WithoutCache())
	var se *ShapeError
	if !errors.Is(err, ErrWrongModel) || errors.As(err, &se) || !strings.Contains(err.Error(), "VGG16") {
		t.Errorf("VGG16 file for VGG19: %v", err)
	}
	bad := Synthetic(spec16, 1)
	b := &bad.Layer("block5_conv3").Weights[1]
	b.Shape, b.Data = []int{256}, b.Data[:256]
	if err := WriteKeras2(path, bad); err != nil {
		t.Fatal(err)
	}
	_, err = LoadVGG(path, spec16, WithoutCache())
	if !errors.As(err, &se) || !errors.Is(err, ErrWrongModel) || se.Layer != "block5_conv3" || se.Weight != "bias" ||
		!slices.Equal(se.Got, []int{256}) || !slices.Equal(se.Want, []int{512}) || !strings.Contains(err.Error(), "file has shape [256], model expects [512]") {
		t.Errorf("wrong bias shape: %v, %+v", err, se)
	}
	os.Remove(path)
}
