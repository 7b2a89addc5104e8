package display_test

import (
	"fmt"
	"strings"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
)

// A consistency report between two implementations, rendered for a notebook
// cell: every layer passes or fails against the tolerance, and a third
// implementation's error is shown beside for scale.
func ExampleConsistencyTable() {
	goOuts := consistency.Activations{Name: "pure Go", Layers: map[string]consistency.Activation{
		"block1_conv1": {Shape: []int{1, 2}, Data: []float64{1, 2.000001}},
		"block1_pool":  {Shape: []int{1, 2}, Data: []float64{1, 2.5}},
	}}
	truth := consistency.Activations{Name: "PyTorch float64", Layers: map[string]consistency.Activation{
		"block1_conv1": {Shape: []int{1, 2}, Data: []float64{1, 2}},
		"block1_pool":  {Shape: []int{1, 2}, Data: []float64{1, 2}},
	}}
	report := consistency.Check(goOuts, truth, []string{"block1_conv1", "block1_pool"}, 1e-5)
	fmt.Println("passed:", report.Passed(), "failed:", report.Failed())
	html := string(display.ConsistencyTable(report))
	fmt.Println(strings.Contains(html, "<table"), strings.Count(html, "PASS"), strings.Count(html, ">FAIL<"))
	// Output:
	// passed: false failed: [block1_pool]
	// true 1 1
}
