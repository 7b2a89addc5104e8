// Package consistency compares the same activations from two implementations,
// layer by layer: vggnb's Go model against PyTorch's float64 truth (torchref),
// with another implementation's error beside for scale. display renders the
// Report (display.ConsistencyTable).
package consistency

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
)

// Activations are one implementation's layer outputs, channels_last, by name.
type Activations struct {
	// Name of the implementation ("pure Go, native kernels", "PyTorch 1.13
	// float64", "XLA CPU").
	Name string
	// Layers holds the values and shapes by layer name.
	Layers map[string]Activation
}

// Activation is one layer's output. Values are held as float64 so that a
// float64 reference keeps its precision; float32 outputs convert exactly.
type Activation struct {
	Shape []int
	Data  []float64
}

// FromTensors turns model outputs into Activations.
func FromTensors(name string, outs map[string]*tensors.Tensor) Activations {
	a := Activations{Name: name, Layers: map[string]Activation{}}
	for k, t := range outs {
		tensors.ConstFlatData(t, func(v []float32) {
			a.Layers[k] = Activation{Shape: slices.Clone(t.Shape().Dimensions), Data: float64s(v)}
		})
	}
	return a
}

// FromTorch turns a torchref.Result into Activations: truth is its float64
// computation, the reference of consistency reports; float32 is PyTorch's own
// float32 run (no layers unless the run had torchref.Options.Float32), the
// peer to show beside Go with Report.Beside.
func FromTorch(r *torchref.Result) (truth, float32 Activations) {
	truth = Activations{Name: "PyTorch " + r.Torch + " float64", Layers: map[string]Activation{}}
	float32 = Activations{Name: "PyTorch " + r.Torch + " float32", Layers: map[string]Activation{}}
	for _, l := range r.Layers {
		truth.Layers[l.Name] = Activation{Shape: l.Shape, Data: l.Data}
		if l.Float32 != nil {
			float32.Layers[l.Name] = Activation{Shape: l.Shape, Data: float64s(l.Float32)}
		}
	}
	return truth, float32
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// ConsistencyRow compares one layer.
type ConsistencyRow struct {
	Layer        string
	Shape        []int
	MeanA, MeanB float64
	// MaxAbs is max|a - b|; Rel is MaxAbs / max|b|.
	MaxAbs, Rel float64
	// PeerRel is the peer's max|peer - b| / max|b| (see Report.Beside), or
	// NaN where the peer lacks the layer; it does not decide Pass.
	PeerRel float64
	Pass    bool
	// Problem explains a failure that is not a tolerance one (missing layer, shapes).
	Problem string
}

// Report is a consistency check of two implementations, layer by layer.
type Report struct {
	A, B      string
	Tolerance float64
	Rows      []ConsistencyRow
	// Peer names a third implementation measured against the same reference
	// (e.g. PyTorch float32 against float64 truth), shown for scale; "" if none.
	Peer string
	ref  Activations
}

// Check compares a against b (the reference) on the given layers, in order:
// a layer passes when max|a-b| / max|b| <= tol and the shapes are equal.
func Check(a, b Activations, layers []string, tol float64) *Report {
	r := &Report{A: a.Name, B: b.Name, Tolerance: tol, ref: b}
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
			row.MaxAbs, row.Rel = Compare(la.Data, lb.Data)
			row.MeanA, row.MeanB = mean(la.Data), mean(lb.Data)
			row.Pass = row.Rel <= tol
		}
		r.Rows = append(r.Rows, row)
	}
	return r
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(max(len(v), 1))
}

// Beside adds a column to r: how far peer is from r's reference on each layer
// (max|peer - b| / max|b|), so a reader sees the first implementation's error
// next to another's, e.g. Go's and float32 PyTorch's against float64 truth.
// It returns r.
func (r *Report) Beside(peer Activations) *Report {
	r.Peer = peer.Name
	for i := range r.Rows {
		row := &r.Rows[i]
		row.PeerRel = math.NaN()
		lp, okP := peer.Layers[row.Layer]
		lb, okB := r.ref.Layers[row.Layer]
		if okP && okB && slices.Equal(lp.Shape, lb.Shape) {
			_, row.PeerRel = Compare(lp.Data, lb.Data)
		}
	}
	return r
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

// Compare returns max|got - want| and that divided by max|want| (the absolute
// difference itself when want is all zeros): the tolerance measure of
// consistency checks. want is usually the float64 truth (Layer.Data).
func Compare[G, W float32 | float64](got []G, want []W) (maxAbs, rel float64) {
	var maxRef float64
	for i := range min(len(got), len(want)) {
		maxAbs = math.Max(maxAbs, math.Abs(float64(got[i])-float64(want[i])))
		maxRef = math.Max(maxRef, math.Abs(float64(want[i])))
	}
	if maxRef == 0 {
		return maxAbs, maxAbs
	}
	return maxAbs, maxAbs / maxRef
}
