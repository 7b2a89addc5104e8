package shape

import (
	"fmt"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

func TestOf(t *testing.T) {
	if got := fmt.Sprint(Of(nil)); got != "nil" {
		t.Errorf("Of(nil) = %q", got)
	}
	x := tensors.FromFlatDataAndDimensions(make([]float32, 6), 2, 3)
	if got, want := fmt.Sprint(Of(x)), fmt.Sprint(x.Shape()); got != want {
		t.Errorf("Of(x) = %q, want %q", got, want)
	}
}
