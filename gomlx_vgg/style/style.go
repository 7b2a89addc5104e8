// Package style is neural style transfer (Gatys, Ecker and Bethge, 2015) on a
// VGG model, as Keras' example "Neural style transfer" writes it: an image (the
// combination, starting as the content image) is changed by gradient descent
// so that its VGG19 features at the content layer (block5_conv2) stay those of
// the content image while the Gram matrices of its features at the style
// layers (block1_conv1 .. block5_conv1) become those of the style image, with a
// total-variation term for smoothness.
//
// The loss is Keras' example's, term for term:
//
//	content = ContentWeight · Σ (F_c(x) − F_c(content))²
//	style   = StyleWeight / len(layers) · Σ_l Σ (G_l(x) − G_l(style))² / (4 · 3² · (H·W)²)
//	tv      = TotalVariationWeight · Σ ((x[i,j]−x[i+1,j])² + (x[i,j]−x[i,j+1])²)^1.25
//
// where G_l is the Gram matrix F_lᵀF_l of a layer's features (positions ×
// channels), H×W the image's size (the example's normalisation, with its
// "channels = 3"), and the image is in preprocess_input's (caffe) space. Keras'
// optimiser is SGD with ExponentialDecay(100, 100 steps, 0.96).
//
// On the native engine each step runs on gomlx_vgg's native kernels: VGG up
// to the deepest layer recorded forward (package tape), the losses and their
// gradients with respect to the layers' features computed directly (the Gram
// matrices on the micro-kernel), and the gradient with respect to the image
// by the tape's backward pass. Elsewhere, or with GraphOnly(true), each step
// runs one GoMLX graph: VGG up to the deepest layer, the losses and their
// gradient with respect to the image by autodiff. Either way the targets
// (the content features and the style Grams) are computed once by the same
// code as the steps: the losses are differences of nearly equal features,
// where two implementations' float32 rounding would not cancel (measured at
// 128x128 after 3 steps: the gradient 1.8e-4 from float64 PyTorch with
// native targets and graph steps, 2.4e-7 with graph ones).
package style

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/shape"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's own style for graph code.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/internal/errkind"
	"github.com/vggnb/vggnb/weights"
)

// Keras' example's settings, the defaults.
const (
	DefaultContentLayer         = "block5_conv2"
	DefaultContentWeight        = 2.5e-8
	DefaultStyleWeight          = 1e-6
	DefaultTotalVariationWeight = 1e-6
	// DefaultLearningRate, DefaultDecaySteps and DefaultDecayRate are the
	// example's SGD schedule: ExponentialDecay(100, 100, 0.96), the rate at
	// step s being 100 · 0.96^(s/100).
	DefaultLearningRate = 100.0
	DefaultDecaySteps   = 100
	DefaultDecayRate    = 0.96
)

// DefaultStyleLayers are Keras' example's style layers.
var DefaultStyleLayers = []string{"block1_conv1", "block2_conv1", "block3_conv1", "block4_conv1", "block5_conv1"}

// Builder configures a Transfer; its methods mirror the Keras example's
// variables. Errors are kept and returned by Done.
type Builder struct {
	m   *gomlx_vgg.Model
	cfg config
	err error
}

// config is a transfer's settings.
type config struct {
	graphOnly                            bool
	contentLayer                         string
	styleLayers                          []string
	contentWeight, styleWeight, tvWeight float64
	lr, decayRate                        float64
	decaySteps                           int
}

// New starts a style transfer on m, a channels_last VGG model (VGG19 in Keras'
// example; without its top) that has the content and style layers, with Keras'
// example's settings.
func New(m *gomlx_vgg.Model) *Builder {
	return &Builder{m: m, cfg: config{contentLayer: DefaultContentLayer, styleLayers: slices.Clone(DefaultStyleLayers),
		contentWeight: DefaultContentWeight, styleWeight: DefaultStyleWeight, tvWeight: DefaultTotalVariationWeight,
		lr: DefaultLearningRate, decaySteps: DefaultDecaySteps, decayRate: DefaultDecayRate}}
}

func (b *Builder) fail(format string, args ...any) *Builder {
	if b.err == nil {
		b.err = errkind.With(gomlx_vgg.ErrConfig, fmt.Errorf("style: "+format, args...))
	}
	return b
}

// GraphOnly makes the steps run through GoMLX's graph (true) even where the
// native kernels would run them (false, the default: on the native engine),
// to compare the two.
func (b *Builder) GraphOnly(on bool) *Builder { b.cfg.graphOnly = on; return b }

// ContentLayer sets the layer whose features the image keeps (content_layer_name).
func (b *Builder) ContentLayer(name string) *Builder { b.cfg.contentLayer = name; return b }

// StyleLayers sets the layers whose Gram matrices the image takes from the
// style image (style_layer_names).
func (b *Builder) StyleLayers(names ...string) *Builder {
	if len(names) == 0 {
		return b.fail("StyleLayers: no layers")
	}
	b.cfg.styleLayers = slices.Clone(names)
	return b
}

// ContentWeight sets content_weight; StyleWeight style_weight (shared by the
// style layers); TotalVariationWeight total_variation_weight. None may be negative.
func (b *Builder) ContentWeight(w float64) *Builder {
	return b.weight(&b.cfg.contentWeight, "ContentWeight", w)
}

// StyleWeight: see ContentWeight.
func (b *Builder) StyleWeight(w float64) *Builder {
	return b.weight(&b.cfg.styleWeight, "StyleWeight", w)
}

// TotalVariationWeight: see ContentWeight.
func (b *Builder) TotalVariationWeight(w float64) *Builder {
	return b.weight(&b.cfg.tvWeight, "TotalVariationWeight", w)
}

func (b *Builder) weight(dst *float64, name string, w float64) *Builder {
	if w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
		return b.fail("%s(%g): want a finite weight >= 0", name, w)
	}
	*dst = w
	return b
}

// LearningRate sets the SGD schedule, Keras' ExponentialDecay(initial,
// decaySteps, decayRate) without staircase: the rate at step s (from 0) is
// initial · decayRate^(s/decaySteps).
func (b *Builder) LearningRate(initial float64, decaySteps int, decayRate float64) *Builder {
	if !(initial > 0) || decaySteps < 1 || !(decayRate > 0) || math.IsInf(initial, 0) {
		return b.fail("LearningRate(%g, %d, %g): want a rate > 0, decay steps >= 1 and a decay rate > 0", initial, decaySteps, decayRate)
	}
	b.cfg.lr, b.cfg.decaySteps, b.cfg.decayRate = initial, decaySteps, decayRate
	return b
}

// Done computes the targets from content and style, two preprocessed images
// of the same size (1, H, W, 3) (Keras' example loads the style image at the
// content image's size), and returns the Transfer, its image starting as
// content.
func (b *Builder) Done(content, style *tensors.Tensor) (*Transfer, error) {
	if b.err != nil {
		return nil, b.err
	}
	m := b.m
	if m == nil {
		return nil, errkind.With(gomlx_vgg.ErrConfig, errors.New("style: nil model"))
	}
	if m.DataFormat() != weights.ChannelsLast {
		return nil, errkind.With(gomlx_vgg.ErrConfig, fmt.Errorf("style: %s is %s: style transfer works on channels_last models", m, m.DataFormat()))
	}
	for _, l := range append([]string{b.cfg.contentLayer}, b.cfg.styleLayers...) {
		layer, err := m.Layer(l)
		if err != nil {
			return nil, fmt.Errorf("style: %w", err)
		}
		if len(layer.OutputShape) != 4 {
			return nil, errkind.With(gomlx_vgg.ErrConfig, fmt.Errorf("style: layer %s of %s has output %v: want a convolution or pooling layer", l, m, layer.OutputShape))
		}
	}
	for _, in := range []struct {
		name string
		x    *tensors.Tensor
	}{{"content", content}, {"style", style}} {
		if in.x == nil || in.x.DType() != dtypes.Float32 || in.x.Rank() != 4 || in.x.Shape().Dimensions[0] != 1 || in.x.Shape().Dimensions[3] != 3 {
			return nil, errkind.With(gomlx_vgg.ErrInputShape, fmt.Errorf("style: the %s image: want one preprocessed float32 image (1, H, W, 3), got %v", in.name, shape.Of(in.x)))
		}
	}
	if !slices.Equal(content.Shape().Dimensions, style.Shape().Dimensions) {
		return nil, errkind.With(gomlx_vgg.ErrInputShape, fmt.Errorf("style: the content image is %v and the style image %v: load both at the same size (Keras' example loads the style image at the content image's)",
			content.Shape().Dimensions, style.Shape().Dimensions))
	}
	t := &Transfer{m: m, cfg: b.cfg,
		dims: slices.Clone(content.Shape().Dimensions), x: tensors.MustCopyFlatData[float32](content)}
	if !b.cfg.graphOnly {
		if cut, err := nativeOK(m, append([]string{b.cfg.contentLayer}, b.cfg.styleLayers...)); err == nil {
			if t.native, err = t.newNative(cut, content, style); err != nil {
				return nil, fmt.Errorf("style: %w", err)
			}
			return t, nil
		}
	}
	co, err := m.GraphOutputs(content, b.cfg.contentLayer)
	if err != nil {
		return nil, fmt.Errorf("style: the content image's %s: %w", b.cfg.contentLayer, err)
	}
	so, err := m.GraphOutputs(style, b.cfg.styleLayers...)
	if err != nil {
		return nil, fmt.Errorf("style: the style image's features: %w", err)
	}
	grams, err := model.NewExec(m.Backend(), m.Store(), func(_ *model.Scope, f *Node) *Node { return gram(f) })
	if err != nil {
		return nil, fmt.Errorf("style: %w", err)
	}
	defer grams.Finalize()
	t.targets = []*tensors.Tensor{co[b.cfg.contentLayer]}
	for _, l := range b.cfg.styleLayers {
		g, err := grams.Exec(so[l])
		if err != nil {
			return nil, fmt.Errorf("style: the style image's Gram matrix at %s (%v): %w", l, so[l].Shape(), err)
		}
		t.targets = append(t.targets, g[0])
	}
	return t, nil
}

// Transfer is one style transfer in progress: the image and the compiled step.
// It is not safe for concurrent use.
type Transfer struct {
	m    *gomlx_vgg.Model
	cfg  config
	dims []int
	// x is the image, preprocessed (1, H, W, 3) row-major.
	x []float32
	// targets are the content features and the style layers' Gram matrices
	// for the graph's steps (exec); native, where not nil, runs them instead.
	targets []*tensors.Tensor
	exec    *model.Exec
	native  *native
	step    int
}

// Native reports whether the steps run on the native kernels rather than
// through GoMLX's graph.
func (t *Transfer) Native() bool { return t.native != nil }

// Losses are the loss terms at one image, each already weighted, so that
// Total = Content + Style + TotalVariation.
type Losses struct {
	// Step is how many steps had been taken at the image.
	Step                                  int
	Content, Style, TotalVariation, Total float64
}

// Steps returns how many steps were taken.
func (t *Transfer) Steps() int { return t.step }

// LearningRate returns the rate of step s (from 0).
func (t *Transfer) LearningRate(s int) float64 {
	return t.cfg.lr * math.Pow(t.cfg.decayRate, float64(s)/float64(t.cfg.decaySteps))
}

// Image returns a copy of the image, preprocessed (1, H, W, 3); Deprocess
// makes a picture of it.
func (t *Transfer) Image() *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(slices.Clone(t.x), t.dims...)
}

// SetImage replaces the image (same shape; for example to start from noise or
// from a checkpoint) without changing the step count.
func (t *Transfer) SetImage(x *tensors.Tensor) error {
	if x == nil || !slices.Equal(x.Shape().Dimensions, t.dims) || x.DType() != dtypes.Float32 {
		return errkind.With(gomlx_vgg.ErrInputShape, fmt.Errorf("style: SetImage(%v): want a float32 image %v", shape.Of(x), t.dims))
	}
	t.x = tensors.MustCopyFlatData[float32](x)
	return nil
}

// Step takes one SGD step: the losses and their gradient at the image, then
// image -= LearningRate(step) · gradient. It returns the losses before the
// step, as Keras' example prints them.
func (t *Transfer) Step() (Losses, error) {
	l, g, err := t.evaluate(t.Image())
	if err != nil {
		return Losses{}, err
	}
	lr := float32(t.LearningRate(t.step))
	tensors.ConstFlatData(g, func(gv []float32) {
		for i, v := range gv {
			t.x[i] -= lr * v
		}
	})
	t.step++
	return l, nil
}

// Evaluate returns the losses at x (a preprocessed image of the transfer's
// shape) and their gradient with respect to x, (1, H, W, 3).
func (t *Transfer) Evaluate(x *tensors.Tensor) (Losses, *tensors.Tensor, error) {
	if x == nil || !slices.Equal(x.Shape().Dimensions, t.dims) || x.DType() != dtypes.Float32 {
		return Losses{}, nil, errkind.With(gomlx_vgg.ErrInputShape, fmt.Errorf("style: Evaluate(%v): want a float32 image %v", shape.Of(x), t.dims))
	}
	return t.evaluate(x)
}

func (t *Transfer) evaluate(x *tensors.Tensor) (Losses, *tensors.Tensor, error) {
	if t.native != nil {
		l, g, err := t.evaluateNative(x)
		if err != nil {
			return l, nil, fmt.Errorf("style: step %d on %s, image %v: %w", t.step, t.m, t.dims, err)
		}
		return l, g, t.checkLoss(l)
	}
	if t.exec == nil {
		exec, err := model.NewExec(t.m.Backend(), t.m.Store(), t.graph)
		if err != nil {
			return Losses{}, nil, fmt.Errorf("style: %w", err)
		}
		t.exec = exec
	}
	outs, err := t.exec.Exec(append([]any{x}, anySlice(t.targets)...)...)
	if err != nil {
		return Losses{}, nil, fmt.Errorf("style: step %d on %s, image %v: %w", t.step, t.m, t.dims, err)
	}
	v := tensors.MustCopyFlatData[float64](outs[0])
	l := Losses{Step: t.step, Content: v[0], Style: v[1], TotalVariation: v[2]}
	l.Total = l.Content + l.Style + l.TotalVariation
	return l, outs[1], t.checkLoss(l)
}

// checkLoss fails on a loss that is not finite.
func (t *Transfer) checkLoss(l Losses) error {
	if math.IsNaN(l.Total) || math.IsInf(l.Total, 0) {
		return fmt.Errorf("style: step %d: the loss is %g (content %g, style %g, total variation %g): lower the learning rate or the weights",
			t.step, l.Total, l.Content, l.Style, l.TotalVariation)
	}
	return nil
}

// graph is the step's computation: inputs are the image, the content target
// and the style Grams; outputs the three weighted losses (3, float64) and the
// gradient of their sum with respect to the image.
func (t *Transfer) graph(_ *model.Scope, in []*Node) []*Node {
	x := in[0]
	content, style, tv := t.losses(in)
	total := Add(Add(content, style), tv)
	return []*Node{Stack([]*Node{content, style, tv}, 0), Gradient(total, x)[0]}
}

// losses are the three weighted losses (float64 scalars) for the inputs of graph.
func (t *Transfer) losses(in []*Node) (content, style, tv *Node) {
	x := in[0]
	feats := t.m.ApplyLayers(t.m.Scope(), x, append([]string{t.cfg.contentLayer}, t.cfg.styleLayers...)...)
	content = MulScalar(sum64(Square(Sub(feats[0], in[1]))), t.cfg.contentWeight)
	h, w := t.dims[1], t.dims[2]
	size := float64(h * w)
	norm := 4 * 9 * size * size // Keras' example: 4 · channels² · size², channels = 3
	for i, f := range feats[1:] {
		s := DivScalar(sum64(Square(Sub(gram(f), in[2+i]))), norm)
		if style == nil {
			style = s
		} else {
			style = Add(style, s)
		}
	}
	style = MulScalar(style, t.cfg.styleWeight/float64(len(t.cfg.styleLayers)))
	tv = MulScalar(totalVariation(x), t.cfg.tvWeight)
	return content, style, tv
}

// sum64 adds up x's values in float64: a float32 running sum over the
// thousands of terms of a loss loses ~1e-5 of it.
func sum64(x *Node) *Node { return ReduceAllSum(ConvertDType(x, dtypes.Float64)) }

// gram is the Gram matrix FᵀF of f (1, h, w, c) as (h·w, c) features: (c, c).
func gram(f *Node) *Node {
	d := f.Shape().Dimensions
	fm := Reshape(f, d[1]*d[2], d[3])
	return DotGeneral(fm, []int{0}, nil, fm, []int{0}, nil)
}

// totalVariation is Keras' example's total_variation_loss of x (1, H, W, 3).
func totalVariation(x *Node) *Node {
	d := x.Shape().Dimensions
	h, w := d[1], d[2]
	c := Slice(x, AxisRange(), AxisRange(0, h-1), AxisRange(0, w-1), AxisRange())
	down := Slice(x, AxisRange(), AxisRange(1, h), AxisRange(0, w-1), AxisRange())
	right := Slice(x, AxisRange(), AxisRange(0, h-1), AxisRange(1, w), AxisRange())
	s := Add(Square(Sub(c, down)), Square(Sub(c, right)))
	return sum64(Pow(s, Scalar(x.Graph(), x.DType(), 1.25)))
}

// Deprocess is Keras' example's deprocess_image: a preprocessed image (1, H,
// W, 3) or (H, W, 3) back to RGB pixels, the caffe means added back, BGR to
// RGB, clipped to [0, 255] and rounded down (numpy's astype("uint8")).
func Deprocess(x *tensors.Tensor) (*image.NRGBA, error) {
	if x == nil || x.DType() != dtypes.Float32 || x.Rank() < 3 || x.Rank() > 4 || x.Shape().Dimensions[x.Rank()-1] != 3 ||
		(x.Rank() == 4 && x.Shape().Dimensions[0] != 1) {
		return nil, errkind.With(gomlx_vgg.ErrInputShape, fmt.Errorf("style: Deprocess(%v): want a preprocessed image (1, H, W, 3) or (H, W, 3)", shape.Of(x)))
	}
	d := x.Shape().Dimensions
	h, w := d[x.Rank()-3], d[x.Rank()-2]
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	tensors.ConstFlatData(x, func(v []float32) {
		for i := range h * w {
			var px [3]uint8
			for c := range 3 { // BGR in the tensor
				px[2-c] = uint8(min(max(v[3*i+c]+imagenet.CaffeMean[c], 0), 255))
			}
			img.SetNRGBA(i%w, i/w, color.NRGBA{px[0], px[1], px[2], 255})
		}
	})
	return img, nil
}

func anySlice(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}
