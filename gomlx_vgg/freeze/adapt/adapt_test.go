package adapt

import (
	"errors"
	"strings"
	"testing"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/weights"
)

// The adapters refuse nil models with an error (their outputs are checked
// against every runtime in freeze's TestFrozenModelsAgree), and a VGG's Net
// has the model's layers, input and output.
func TestAdapters(t *testing.T) {
	if _, err := VGG(nil); !errors.Is(err, gomlx_vgg.ErrConfig) || !strings.Contains(err.Error(), "nil VGG") {
		t.Errorf("VGG(nil): %v", err)
	}
	if _, err := MLP(nil); !errors.Is(err, gomlx_vgg.ErrConfig) {
		t.Errorf("MLP(nil): %v, want ErrConfig", err)
	}
	if _, err := Stacked(nil); !errors.Is(err, gomlx_vgg.ErrConfig) {
		t.Errorf("Stacked(nil): %v, want ErrConfig", err)
	}
	if _, err := Surgery(nil); !errors.Is(err, gomlx_vgg.ErrConfig) {
		t.Errorf("Surgery(nil): %v, want ErrConfig", err)
	}
	m := gomlx_vgg.VGG16().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil).InputShape(32, 32, 3).MustDone()
	m, err := m.Truncate("block2_pool")
	if err != nil {
		t.Fatal(err)
	}
	n, err := VGG(m)
	if err != nil {
		t.Fatal(err)
	}
	if n.Output() != "block2_pool" || n.Layers[0].Name != "block1_conv1" || n.Layers[0].Class != weights.Conv2D {
		t.Errorf("Net %s: layers %s ... %s", n.Name, n.Layers[0].Name, n.Output())
	}
	if dims, err := n.OutputShape(1, 32, 32, 3); err != nil || len(dims) != 4 || dims[1] != 8 || dims[3] != 128 {
		t.Errorf("OutputShape(1, 32, 32, 3) = %v, %v; want [1 8 8 128]", dims, err)
	}
}
