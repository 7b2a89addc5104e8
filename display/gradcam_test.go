package display

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"testing"
)

// TestJet: the colour map's ends and middle are matplotlib's.
func TestJet(t *testing.T) {
	for _, tt := range []struct {
		v       float64
		r, g, b float64
	}{{0, 0, 0, 0.5}, {0.5, 0.5, 1, 0.5}, {1, 0.5, 0, 0}, {-3, 0, 0, 0.5}, {7, 0.5, 0, 0}} {
		if r, g, b := Jet(tt.v); r != tt.r || g != tt.g || b != tt.b {
			t.Errorf("Jet(%v) = %v %v %v, want %v %v %v", tt.v, r, g, b, tt.r, tt.g, tt.b)
		}
	}
}

// TestGradCAMOverlay: the overlay has the image's size; where the map is hot
// (top left) it is redder than where it is cold (bottom right), on a grey
// image; bad maps are errors.
func TestGradCAMOverlay(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range img.Pix {
		img.Pix[i] = 128
	}
	heat := [][]float64{{1, 0.5}, {0.5, 0}}
	p, err := GradCAMOverlay(img, heat, 0.4)
	if err != nil {
		t.Fatal(err)
	}
	out, err := png.Decode(bytes.NewReader(p))
	if err != nil {
		t.Fatal(err)
	}
	if out.Bounds() != img.Bounds() {
		t.Fatalf("overlay %v, image %v", out.Bounds(), img.Bounds())
	}
	hot := color.NRGBAModel.Convert(out.At(0, 0)).(color.NRGBA)
	cold := color.NRGBAModel.Convert(out.At(39, 29)).(color.NRGBA)
	if !(hot.R > hot.B && cold.B > cold.R && hot.R > cold.R) {
		t.Errorf("hot corner %v, cold corner %v: want red over blue", hot, cold)
	}
	for _, bad := range [][][]float64{nil, {{}}, {{1, 2}, {3}}} {
		if _, err := GradCAMOverlay(img, bad, 0.4); err == nil {
			t.Errorf("GradCAMOverlay accepted %v", bad)
		}
	}
	hm, err := HeatMap(heat, 5)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := png.Decode(bytes.NewReader(hm)); err != nil || m.Bounds().Dx() != 10 || m.Bounds().Dy() != 10 {
		t.Errorf("HeatMap: %v, %v", m.Bounds(), err)
	}
}
