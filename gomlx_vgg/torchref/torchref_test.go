package torchref

import (
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	for _, c := range []struct {
		got, want []float32
		abs, rel  float64
	}{
		{[]float32{1, 2, 4}, []float32{1, 2, 4}, 0, 0},
		{[]float32{1, 2, 4.5}, []float32{1, -2, 4}, 4, 1},
		{[]float32{0.5}, []float32{0}, 0.5, 0.5},
	} {
		abs, rel := Compare(c.got, c.want)
		if abs != c.abs || rel != c.rel {
			t.Errorf("Compare(%v, %v) = %v, %v; want %v, %v", c.got, c.want, abs, rel, c.abs, c.rel)
		}
	}
}

func TestMissingPython(t *testing.T) {
	err := Check("/nonexistent/python3")
	if err == nil || !strings.Contains(err.Error(), "python3-torch") {
		t.Errorf("Check of a missing python: %v", err)
	}
	if _, err := Run(Options{Python: "/nonexistent/python3", Weights: "w.h5", Model: "vgg16", Image: "x.png"}); err == nil {
		t.Error("Run with a missing python succeeded")
	}
}
