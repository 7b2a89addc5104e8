// Package gradcam computes Grad-CAM (Selvaraju et al., 2017) on a VGG model as
// Keras' example does: the gradient of a class score before softmax with
// respect to a convolution layer's output A, averaged over the positions into
// one weight per channel, the weighted sum of A's channels through a ReLU,
// scaled to [0, 1]; and draws it over the image (the jet colour map at alpha
// 0.4).
//
// On the native engine it all runs on the native kernels: A and the rest of
// the network forward, and the gradient back from the class score through
// the dense layers, the flatten and the max pooling, so a heat map takes
// about as long as a prediction. Elsewhere, or for a layer with convolutions
// after it, or with GraphOnly(true), the network from A to the class scores
// is a GoMLX graph differentiated by autodiff.
package gradcam

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/shape"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/internal/errkind"
	"github.com/vggnb/vggnb/weights"
)

// Map is one class's Grad-CAM.
type Map struct {
	// Layer is the convolution layer differentiated; Class the class index.
	Layer string
	Class int
	// Score is the class score before softmax (the logit).
	Score float64
	// Activation is the layer's output A and Gradient dScore/dA, both (1, h, w, channels).
	Activation, Gradient *tensors.Tensor
	// Weights are the channels' weights: Gradient averaged over the positions.
	Weights []float64
	// Heat is the map, h rows of w values in [0, 1] (ReLU(sum of weighted
	// channels) divided by its maximum; all zeros when nothing is positive).
	Heat [][]float64
}

// Explainer computes Grad-CAMs of one model at one layer; it keeps the compiled
// graph, so later maps are quicker. It is safe for concurrent use.
type Explainer struct {
	m     *gomlx_vgg.Model
	layer string
	next  string
	// after are the layers after the explained one; native is set where
	// they run backward on the native kernels (nativeTop).
	after     []gomlx_vgg.Layer
	native    bool
	graphOnly bool
	// classes is the width of the scores.
	classes int
	mu      sync.Mutex
	exec    *model.Exec
}

// GraphOnly makes the explainer differentiate through GoMLX's graph (true)
// even where the native kernels would (false, the default), to compare the
// two. Set it before the first Explain.
func (e *Explainer) GraphOnly(on bool) *Explainer { e.graphOnly = on; return e }

// Native reports whether Explain runs backward on the native kernels.
func (e *Explainer) Native() bool { return e.native && !e.graphOnly }

// New returns an Explainer of m (a model with its top and a linear classifier:
// Builder.ClassifierActivation("linear"), as Keras' example removes the last
// layer's softmax) at layer, a convolution (block5_conv4 for VGG19 in the
// paper's and Keras' examples).
func New(m *gomlx_vgg.Model, layer string) (*Explainer, error) {
	if m == nil {
		return nil, errkind.With(gomlx_vgg.ErrConfig, errors.New("gradcam: nil model"))
	}
	if !m.IncludeTop() {
		return nil, errkind.With(gomlx_vgg.ErrConfig, fmt.Errorf("gradcam: %s has no top: Grad-CAM needs the class scores (IncludeTop(true))", m))
	}
	if a := m.ClassifierActivation(); a != "linear" {
		return nil, errkind.With(gomlx_vgg.ErrConfig, fmt.Errorf("gradcam: %s ends in %s: build it with ClassifierActivation(\"linear\"), Grad-CAM differentiates the score before softmax", m, a))
	}
	l, err := m.Layer(layer)
	if err != nil {
		return nil, fmt.Errorf("gradcam: %w", err)
	}
	if l.Class != weights.Conv2D {
		return nil, errkind.With(gomlx_vgg.ErrConfig, fmt.Errorf("gradcam: %s is a %s: Grad-CAM explains a convolution layer's output", layer, l.Class))
	}
	names := m.LayerNames()
	i := slices.Index(names, layer)
	ls := m.Layers()
	out := ls[len(ls)-1].OutputShape
	after := ls[slices.IndexFunc(ls, func(x gomlx_vgg.Layer) bool { return x.Name == layer })+1:]
	return &Explainer{m: m, layer: layer, next: names[i+1], after: after, native: nativeTop(m, after), classes: out[len(out)-1]}, nil
}

// Explain returns the Grad-CAM of each class for x, one preprocessed image (1,
// H, W, 3).
func (e *Explainer) Explain(x *tensors.Tensor, classes ...int) ([]*Map, error) {
	if x == nil || x.Rank() != 4 || x.Shape().Dimensions[0] != 1 {
		return nil, errkind.With(gomlx_vgg.ErrInputShape, fmt.Errorf("gradcam: want one preprocessed image (1, H, W, 3), got %v", shape.Of(x)))
	}
	for _, c := range classes {
		if c < 0 || c >= e.classes {
			return nil, errkind.With(gomlx_vgg.ErrInputShape, fmt.Errorf("gradcam: class %d: the model has classes 0..%d", c, e.classes-1))
		}
	}
	names := []string{e.layer}
	if e.Native() {
		for _, l := range e.after {
			names = append(names, l.Name)
		}
	}
	outs, err := e.m.Outputs(x, names...)
	if err != nil {
		return nil, fmt.Errorf("gradcam: %w", err)
	}
	a := outs[e.layer]
	av := tensors.MustCopyFlatData[float32](a)
	if e.Native() {
		scores, grads, err := e.nativeGrads(a, outs, classes)
		if err != nil {
			return nil, fmt.Errorf("gradcam: %w", err)
		}
		var maps []*Map
		for i, c := range classes {
			maps = append(maps, heat(e.layer, c, scores[i], a, av, grads[i]))
		}
		return maps, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.exec == nil {
		e.exec, err = model.NewExec(e.m.Backend(), e.m.Store(), func(_ *model.Scope, act, onehot *graph.Node) (*graph.Node, *graph.Node) {
			logits := e.m.ApplyFrom(e.m.Scope(), act, e.next)
			score := graph.ReduceAllSum(graph.Mul(logits, onehot))
			return score, graph.Gradient(score, act)[0]
		})
		if err != nil {
			return nil, fmt.Errorf("gradcam: %w", err)
		}
	}
	var maps []*Map
	for _, c := range classes {
		onehot := tensors.FromShape(shapes.Make(dtypes.Float32, 1, e.classes))
		tensors.MustMutableFlatData(onehot, func(v []float32) { v[c] = 1 })
		out, err := e.exec.Exec(a, onehot)
		if err != nil {
			return nil, fmt.Errorf("gradcam: class %d: %w", c, err)
		}
		maps = append(maps, heat(e.layer, c, float64(tensors.ToScalar[float32](out[0])), a, av, out[1]))
	}
	return maps, nil
}

// heat averages the gradient per channel and makes the map; av is a's values.
func heat(layer string, class int, score float64, a *tensors.Tensor, av []float32, grad *tensors.Tensor) *Map {
	d := a.Shape().Dimensions
	h, w, c := d[1], d[2], d[3]
	gv := tensors.MustCopyFlatData[float32](grad)
	m := &Map{Layer: layer, Class: class, Score: score, Activation: a, Gradient: grad, Weights: make([]float64, c)}
	for i, g := range gv {
		m.Weights[i%c] += float64(g)
	}
	for k := range m.Weights {
		m.Weights[k] /= float64(h * w)
	}
	hi := 0.0
	m.Heat = make([][]float64, h)
	for y := range h {
		m.Heat[y] = make([]float64, w)
		for x := range w {
			s := 0.0
			for k, wk := range m.Weights {
				s += wk * float64(av[(y*w+x)*c+k])
			}
			m.Heat[y][x] = math.Max(s, 0)
			hi = math.Max(hi, m.Heat[y][x])
		}
	}
	if hi > 0 {
		for _, row := range m.Heat {
			for x := range row {
				row[x] /= hi
			}
		}
	}
	return m
}
