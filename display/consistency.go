package display

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
)

// Activations are one implementation's layer outputs, channels_last, by name.
type Activations struct {
	// Name of the implementation ("GoMLX pure Go", "PyTorch 1.13", "XLA CPU").
	Name string
	// Layers holds the values and shapes by layer name.
	Layers map[string]Activation
}

// Activation is one layer's output.
type Activation struct {
	Shape []int
	Data  []float32
}

// FromTensors turns model outputs into Activations.
func FromTensors(name string, outs map[string]*tensors.Tensor) Activations {
	a := Activations{Name: name, Layers: map[string]Activation{}}
	for k, t := range outs {
		tensors.ConstFlatData(t, func(v []float32) {
			a.Layers[k] = Activation{Shape: slices.Clone(t.Shape().Dimensions), Data: slices.Clone(v)}
		})
	}
	return a
}

// FromTorch turns a torchref.Result into Activations.
func FromTorch(r *torchref.Result) Activations {
	a := Activations{Name: "PyTorch " + r.Torch, Layers: map[string]Activation{}}
	for _, l := range r.Layers {
		a.Layers[l.Name] = Activation{Shape: l.Shape, Data: l.Data}
	}
	return a
}

// ConsistencyRow compares one layer.
type ConsistencyRow struct {
	Layer        string
	Shape        []int
	MeanA, MeanB float64
	// MaxAbs is max|a - b|; Rel is MaxAbs / max|b|.
	MaxAbs, Rel float64
	Pass        bool
	// Problem explains a failure that is not a tolerance one (missing layer, shapes).
	Problem string
}

// Report is a consistency check of two implementations, layer by layer.
type Report struct {
	A, B      string
	Tolerance float64
	Rows      []ConsistencyRow
}

// Consistency compares a against b (the reference) on the given layers, in order:
// a layer passes when max|a-b| / max|b| <= tol and the shapes are equal.
func Consistency(a, b Activations, layers []string, tol float64) *Report {
	r := &Report{A: a.Name, B: b.Name, Tolerance: tol}
	for _, name := range layers {
		row := ConsistencyRow{Layer: name}
		la, okA := a.Layers[name]
		lb, okB := b.Layers[name]
		switch {
		case !okA || !okB:
			row.Problem = fmt.Sprintf("missing in %s", map[bool]string{true: b.Name, false: a.Name}[okA])
		case !slices.Equal(la.Shape, lb.Shape):
			row.Shape = la.Shape
			row.Problem = fmt.Sprintf("shape %v vs %v", la.Shape, lb.Shape)
		default:
			row.Shape = la.Shape
			row.MaxAbs, row.Rel = torchref.Compare(la.Data, lb.Data)
			row.MeanA, row.MeanB = mean(la.Data), mean(lb.Data)
			row.Pass = row.Rel <= tol
		}
		r.Rows = append(r.Rows, row)
	}
	return r
}

func mean(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	return s / float64(max(len(v), 1))
}

// Passed reports whether every layer passed.
func (r *Report) Passed() bool {
	for _, row := range r.Rows {
		if !row.Pass {
			return false
		}
	}
	return len(r.Rows) > 0
}

// Failed lists the layers that failed.
func (r *Report) Failed() []string {
	var out []string
	for _, row := range r.Rows {
		if !row.Pass {
			out = append(out, row.Layer)
		}
	}
	return out
}

// HTML renders the report: both means side by side, the differences, PASS/FAIL.
func (r *Report) HTML() HTML {
	var rows [][]string
	for _, row := range r.Rows {
		verdict := `<span class="pass">PASS</span>`
		if !row.Pass {
			verdict = `<span class="fail">FAIL</span>`
		}
		if row.Problem != "" {
			rows = append(rows, []string{esc(row.Layer), esc(fmt.Sprint(row.Shape)), "", "", "", esc(row.Problem), verdict})
			continue
		}
		rows = append(rows, []string{esc(row.Layer), esc(fmt.Sprint(row.Shape)), num(row.MeanA), num(row.MeanB),
			num(row.MaxAbs), esc(fmt.Sprintf("%.2e", row.Rel)), verdict})
	}
	overall := "PASS"
	if !r.Passed() {
		overall = fmt.Sprintf("FAIL (%d layers)", len(r.Failed()))
	}
	caption := fmt.Sprintf("%s vs %s — max|a−b| / max|b| ≤ %g: %s", r.A, r.B, r.Tolerance, overall)
	return table(caption, []string{"layer", "shape", "mean " + r.A, "mean " + r.B, "max |a−b|", "rel", ""}, rows)
}
