package consistency

import (
	"math"
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

func TestCompareFloat64Truth(t *testing.T) {
	// float32(0.1) is 0.1 + 1.49e-9: measured against float64 truth it is off.
	abs, rel := Compare([]float32{0.1, 1}, []float64{0.1, 1})
	if want := float64(float32(0.1)) - 0.1; abs != want || rel != want {
		t.Errorf("Compare(float32 0.1, float64 0.1) = %g, %g; want %g", abs, rel, want)
	}
}

func TestCheck(t *testing.T) {
	a := Activations{Name: "a", Layers: map[string]Activation{
		"l1": {Shape: []int{2}, Data: []float64{1, 2}},
		"l2": {Shape: []int{2}, Data: []float64{1, 2}},
		"l3": {Shape: []int{2}, Data: []float64{1, 2}},
	}}
	b := Activations{Name: "b", Layers: map[string]Activation{
		"l1": {Shape: []int{2}, Data: []float64{1, 2.00001}},
		"l2": {Shape: []int{2}, Data: []float64{1, 2.1}},
		"l3": {Shape: []int{1, 2}, Data: []float64{1, 2}},
	}}
	r := Check(a, b, []string{"l1", "l2", "l3", "l4"}, 1e-5)
	if r.Passed() {
		t.Fatal("report passed with failing layers")
	}
	if got := r.Failed(); strings.Join(got, ",") != "l2,l3,l4" {
		t.Errorf("failed layers %v, want l2,l3,l4", got)
	}
	if !Check(a, a, []string{"l1"}, 0).Passed() {
		t.Error("identical activations failed")
	}

	// A peer beside: its error against the same reference, shown, not judged.
	peer := Activations{Name: "PyTorch float32", Layers: map[string]Activation{
		"l1": {Shape: []int{2}, Data: []float64{1, 2.00003}},
	}}
	r = Check(a, b, []string{"l1", "l2"}, 1e-4).Beside(peer)
	if got := r.Rows[0].PeerRel; math.Abs(got-1e-5) > 1e-9 {
		t.Errorf("peer rel on l1 = %g, want 1e-5 (|2.00003-2.00001|/2.00001)", got)
	}
	if !math.IsNaN(r.Rows[1].PeerRel) {
		t.Errorf("peer rel on l2, which the peer lacks = %g, want NaN", r.Rows[1].PeerRel)
	}
	if r.Rows[0].Pass != true || r.Rows[1].Pass != false {
		t.Error("the peer changed the verdicts")
	}
}
