package display

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/adapt"
)

func TestFrozenGraph(t *testing.T) {
	m, err := gomlx_vgg.VGG16().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Done()
	if err != nil {
		t.Fatal(err)
	}
	n, err := adapt.VGG(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "vgg16.onnx")
	if err := n.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	f, err := freeze.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	svg, err := FrozenGraph(f)
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("VGGNB_SVG_OUT"); out != "" {
		os.WriteFile(out, []byte(svg), 0o644)
	}
	for _, want := range []string{"INPUT", "input_1 float32 (N, H, W, 3)", "OUTPUT", "block5_pool float32", "Conv 3×3, 64 → Relu", "block3_conv3", "MaxPool"} {
		if !strings.Contains(string(svg), want) {
			t.Errorf("the drawing lacks %q", want)
		}
	}
}
