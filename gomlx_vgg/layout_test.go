package gomlx_vgg

import (
	"testing"

	"github.com/vggnb/vggnb/internal/filepairs"
)

// TestFilesByConcern: the package's files use each other both ways only
// within a concern: the model and its builder (the Model and Builder types,
// the layer table, the weights' loading). The engines (engine.go, native.go,
// graph.go), running and checking (run.go, finite.go), the backends and the
// errors each use the model's files one way.
func TestFilesByConcern(t *testing.T) {
	pairs, err := filepairs.TwoWay(".")
	if err != nil {
		t.Fatal(err)
	}
	model := []string{"vgg.go", "builder.go", "layers.go", "load.go"}
	for _, p := range filepairs.Across(pairs, model) {
		t.Errorf("files of two concerns use each other: %v", p)
	}
	for _, p := range pairs {
		t.Logf("within the model's files: %v", p)
	}
}
