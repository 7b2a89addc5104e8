package style

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/gomlx_vgg/tape"
)

// native is a transfer's step on gomlx_vgg's native kernels: VGG up to the
// deepest layer the losses use, recorded forward (tape.Recorder.RecordInput),
// the losses and their gradients with respect to the layers' features
// computed here (the Gram matrices on the micro-kernel, kernels.Gram), and
// the gradient with respect to the image by the tape's backward pass
// (tape.Tape.BackwardInput) plus the total variation's. The targets are
// computed by the same kernels, so that the content loss's difference of
// nearly equal features cancels as it does in one graph.
type native struct {
	rec *tape.Recorder
	ks  kernels.Kernels
	// targets: the content features, then the style Grams (c, c), flat.
	targets [][]float32
}

// nativeOK reports why m cannot run a transfer natively, or nil, and returns
// m cut at the deepest of layers.
func nativeOK(m *gomlx_vgg.Model, layers []string) (*gomlx_vgg.Model, error) {
	if m.Engine() != gomlx_vgg.EngineNative {
		return nil, fmt.Errorf("the model runs on %s", m.Engine())
	}
	all := m.Layers()
	deepest := 0
	for _, l := range layers {
		deepest = max(deepest, slices.IndexFunc(all, func(x gomlx_vgg.Layer) bool { return x.Name == l }))
	}
	cut, err := m.Truncate(all[deepest].Name)
	if err != nil {
		return nil, err
	}
	return cut, tape.Recordable(cut)
}

// newNative records the content and style images and keeps the targets.
func (t *Transfer) newNative(cut *gomlx_vgg.Model, content, style *tensors.Tensor) (*native, error) {
	// F(2x2, 3x3) rather than F(4x4, 3x3): the content loss is a difference
	// of nearly equal features, where F(4x4)'s float32 error shows (measured
	// at 128x128 after 3 steps, at the same image: the gradient 1.1e-4 from
	// float64 PyTorch's with F(4x4), 3e-7 with F(2x2)).
	alg := cut.ConvAlgorithm()
	if alg == gomlx_vgg.ConvWinograd {
		alg = gomlx_vgg.ConvWinograd2
	}
	rec, err := tape.New(cut, tape.ConvAlgorithm(alg))
	if err != nil {
		return nil, err
	}
	ks, err := kernels.Lookup(cut.NativeSIMD(), string(alg))
	if err != nil {
		return nil, err
	}
	n := &native{rec: rec, ks: ks}
	tp, err := rec.RecordInput(content)
	if err != nil {
		return nil, fmt.Errorf("the content image: %w", err)
	}
	f, err := tp.Activation(t.cfg.contentLayer)
	if err != nil {
		return nil, err
	}
	n.targets = append(n.targets, tensors.MustCopyFlatData[float32](f))
	if tp, err = rec.RecordInput(style); err != nil {
		return nil, fmt.Errorf("the style image: %w", err)
	}
	for _, l := range t.cfg.styleLayers {
		f, err := tp.Activation(l)
		if err != nil {
			return nil, err
		}
		g, err := n.gram(f)
		if err != nil {
			return nil, fmt.Errorf("the style image's Gram matrix at %s: %w", l, err)
		}
		n.targets = append(n.targets, g)
	}
	return n, nil
}

// gram is the Gram matrix (c, c) of features f (1, h, w, c).
func (n *native) gram(f *tensors.Tensor) ([]float32, error) {
	d := f.Shape().Dimensions
	g := make([]float32, d[3]*d[3])
	var err error
	tensors.MustConstFlatData(f, func(v []float32) { err = n.ks.Gram(g, v, d[1]*d[2], d[3]) })
	return g, err
}

// evaluate is Transfer.evaluate on the native kernels.
func (t *Transfer) evaluateNative(x *tensors.Tensor) (Losses, *tensors.Tensor, error) {
	n := t.native
	l := Losses{Step: t.step}
	tp, err := n.rec.RecordInput(x)
	if err != nil {
		return l, nil, err
	}
	dOuts := map[string]*tensors.Tensor{}
	// add adds d to the gradient at layer.
	add := func(layer string, d []float32, dims []int) {
		if prev := dOuts[layer]; prev != nil {
			tensors.MustMutableFlatData(prev, func(p []float32) {
				for i, v := range d {
					p[i] += v
				}
			})
			return
		}
		dOuts[layer] = tensors.FromFlatDataAndDimensions(d, dims...)
	}
	// content = w · Σ (F − T)², its gradient 2w(F − T).
	f, err := tp.Activation(t.cfg.contentLayer)
	if err != nil {
		return l, nil, err
	}
	target := n.targets[0]
	d := make([]float32, len(target))
	var sum float64
	tensors.MustConstFlatData(f, func(fv []float32) {
		for i, v := range fv {
			diff := v - target[i]
			sum += float64(diff) * float64(diff)
			d[i] = float32(2 * t.cfg.contentWeight * float64(diff))
		}
	})
	l.Content = t.cfg.contentWeight * sum
	add(t.cfg.contentLayer, d, f.Shape().Dimensions)
	// style = w/L · Σ_l Σ (G − S)² / norm, with G = FᵀF: its gradient
	// (4w/(L·norm)) · F(G − S), G − S being symmetric.
	h, w := t.dims[1], t.dims[2]
	norm := 4 * 9 * float64(h*w) * float64(h*w)
	scale := t.cfg.styleWeight / float64(len(t.cfg.styleLayers))
	for i, layer := range t.cfg.styleLayers {
		f, err := tp.Activation(layer)
		if err != nil {
			return l, nil, err
		}
		g, err := n.gram(f)
		if err != nil {
			return l, nil, fmt.Errorf("the Gram matrix at %s: %w", layer, err)
		}
		dims := f.Shape().Dimensions
		c, px := dims[3], dims[1]*dims[2]
		var s float64
		for j, v := range g {
			diff := float64(v) - float64(n.targets[1+i][j])
			s += diff * diff
			g[j] = float32(4 * scale / norm * diff) // the gradient's factor, in place
		}
		l.Style += scale * s / norm
		df := make([]float32, px*c)
		tensors.MustConstFlatData(f, func(fv []float32) { err = n.ks.Dense(df, fv, g, make([]float32, c), px, c, c, false) })
		if err != nil {
			return l, nil, err
		}
		add(layer, df, dims)
	}
	dx, err := tp.BackwardInput(dOuts)
	if err != nil {
		return l, nil, err
	}
	var tvGrad []float32
	l.TotalVariation, tvGrad = totalVariationGrad(tensors.MustCopyFlatData[float32](x), h, w, t.cfg.tvWeight)
	tensors.MustMutableFlatData(dx, func(g []float32) {
		for i, v := range tvGrad {
			g[i] += v
		}
	})
	l.Total = l.Content + l.Style + l.TotalVariation
	return l, dx, nil
}

// totalVariationGrad is totalVariation's weighted value for x (1, h, w, 3)
// and its gradient, in float64: Σ s^1.25 with s = a² + b², a = x[i,j] −
// x[i+1,j], b = x[i,j] − x[i,j+1], over i < h−1, j < w−1 and channels.
func totalVariationGrad(x []float32, h, w int, weight float64) (float64, []float32) {
	g := make([]float64, len(x))
	var sum float64
	at := func(i, j, c int) int { return (i*w+j)*3 + c }
	for i := range h - 1 {
		for j := range w - 1 {
			for c := range 3 {
				p, down, right := at(i, j, c), at(i+1, j, c), at(i, j+1, c)
				a, b := float64(x[p])-float64(x[down]), float64(x[p])-float64(x[right])
				s := a*a + b*b
				sum += math.Pow(s, 1.25)
				ds := 1.25 * math.Pow(s, 0.25) * weight // d s^1.25 / ds
				g[p] += ds * 2 * (a + b)
				g[down] -= ds * 2 * a
				g[right] -= ds * 2 * b
			}
		}
	}
	out := make([]float32, len(x))
	for i, v := range g {
		out[i] = float32(v)
	}
	return weight * sum, out
}
