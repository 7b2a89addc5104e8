package gomlx_vgg

import (
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/convs"
	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/weights"
)

// NativeSIMD names the vector instructions EngineNative uses by default on
// this CPU ("AVX-512", "AVX2" with FMA, "NEON"), or "none" (portable Go, ~40x
// slower than AVX-512). The assembly is chosen at run time from the CPU's
// features in any amd64 or arm64 build (no GOEXPERIMENT; the purego build tag
// leaves it out). Builder.SIMD chooses a slower one for a model, to compare.
func NativeSIMD() string { return kernels.Best().SIMD() }

// NativeFix says how to get faster native kernels than NativeSIMD's ("" where
// they are the fastest this CPU can run): build without the purego tag.
func NativeFix() string { return kernels.Best().Slower() }

// NativeKernels describes the native engine's default kernels for a report's
// header: the instruction set and algorithm, and the build's GOEXPERIMENT
// (which only GoMLX's graph uses), e.g. `SIMD AVX-512, Winograd F(4x4,3x3),
// GOEXPERIMENT=""`. Model.NativeKernels describes a model's.
func NativeKernels() string { return describeKernels(kernels.Best()) }

// describeKernels is NativeKernels for k.
func describeKernels(k kernels.Kernels) string {
	exp := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" {
				exp = s.Value
			}
		}
	}
	return fmt.Sprintf("%v, GOEXPERIMENT=%q", k, exp)
}

// NativeSIMD names the vector instructions the model's native engine uses
// (Builder.SIMD): the package's NativeSIMD unless a slower one was chosen.
func (m *Model) NativeSIMD() string { return m.kernels().SIMD() }

// NativeKernels describes the model's native kernels as the package's
// NativeKernels does (Builder.SIMD, Builder.ConvAlgorithm).
func (m *Model) NativeKernels() string { return describeKernels(m.kernels()) }

// NativeFix says why the model's native kernels are slower than the fastest
// this CPU can run ("" where they are not): a slower SIMD chosen, or a
// purego build.
func (m *Model) NativeFix() string { return m.kernels().Slower() }

// kernels are the model's native kernels (Best's for a nil model).
func (m *Model) kernels() kernels.Kernels {
	if m == nil {
		return kernels.Best()
	}
	return m.cfg.kernels
}

// NativeFMAPeak measures, for about d, the GFLOP/s that EngineNative's vector
// FMAs reach on threads cores with nothing loaded or stored: the ceiling for
// its convolutions (bench/vgg reports the share of it reached). It is 0 where
// the micro-kernel in use is not the AVX-512 one.
func NativeFMAPeak(threads int, d time.Duration) float64 { return kernels.FMAPeak(threads, d) }

// prepareConvs prepares the Conv2D layers among layers that need it, on all
// cores; m.mu is held.
func (m *Model) prepareConvs(layers []Layer) error {
	var names []string
	for _, l := range layers {
		if l.Class == weights.Conv2D {
			names = append(names, l.Name)
		}
	}
	// Weights are checked to be finite once per preparation, as the graph
	// reports them.
	return m.native.convs.Prepare(convs.Source{Model: m, Kernels: m.cfg.kernels, Weights: m.variableValues, CheckFinite: CheckFinite}, names)
}

// buffer returns activation buffer i (0 or 1) with room for size values.
func (m *Model) buffer(i, size int) []float32 {
	if cap(m.native.bufs[i]) < size {
		m.native.bufs[i] = kernels.MakeLarge(size)
	}
	return m.native.bufs[i][:size]
}

// nativeOutputs is Outputs with the native kernels; m.mu is held.
func (m *Model) nativeOutputs(x *tensors.Tensor, names []string) (map[string]*tensors.Tensor, error) {
	dims := x.Shape().Dimensions
	if err := m.checkDims(dims); err != nil {
		return nil, err
	}
	if m.native.convs == nil {
		m.native.convs = convs.Set{}
	}
	// Weights "none" get their values on first use, as in the graph.
	if err := m.store.InitializeVariables(m.backend, nil); err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s: initialising variables: %w", m, err)
	}
	last := 0
	for _, name := range names {
		last = max(last, slices.IndexFunc(m.layers, func(l Layer) bool { return l.Name == name }))
	}
	if err := m.prepareConvs(m.layers[1 : last+1]); err != nil {
		return nil, err
	}
	out := make(map[string]*tensors.Tensor, len(names))
	var runErr error
	err := tensors.ConstFlatData(x, func(xs []float32) { runErr = m.runNative(xs, dims, m.layers[1:last+1], names, out) })
	if err == nil {
		err = runErr
	}
	if err != nil {
		return nil, fmt.Errorf("gomlx_vgg: %s on input %v: %w", m, dims, err)
	}
	return out, nil
}

// act is an activation during a native run: NHWC (n, h, w, c), or (n, c) when flat.
type act struct {
	data       []float32
	n, h, w, c int
	flat       bool
	buf        int // which buffer holds data (-1: the caller's input)
}

// runNative runs layers on the input xs of shape dims (model data format) and
// stores the named layers' values in out.
func (m *Model) runNative(xs []float32, dims []int, layers []Layer, names []string, out map[string]*tensors.Tensor) error {
	first := m.cfg.dataFormat == weights.ChannelsFirst
	a := act{data: xs, n: dims[0], h: dims[1], w: dims[2], c: dims[3], buf: -1}
	if first {
		a = act{n: dims[0], c: dims[1], h: dims[2], w: dims[3], buf: 0}
		a.data = m.buffer(0, len(xs))
		kernels.NCHWToNHWC(a.data, xs, a.n, a.c, a.h, a.w)
	}
	want := func(name string) bool { return slices.Contains(names, name) }
	if want(weights.InputLayerName) {
		out[weights.InputLayerName] = m.record(a)
	}
	for _, l := range layers {
		if err := m.ctx.Err(); err != nil {
			return fmt.Errorf("stopped before layer %s: %w", l.Name, err)
		}
		next := act{n: a.n, h: a.h, w: a.w, c: a.c, flat: a.flat, buf: 1}
		if a.buf == 1 {
			next.buf = 0
		}
		switch l.Class {
		case weights.Conv2D:
			cv := m.native.convs[l.Name].CV // prepared by prepareConvs
			if cv.C != a.c {
				return fmt.Errorf("layer %s: input has %d channels, kernel %d", l.Name, a.c, cv.C)
			}
			next.c = cv.O
			next.data = m.buffer(next.buf, a.n*a.h*a.w*cv.O)
			if err := cv.Apply(next.data, a.data, a.n, a.h, a.w); err != nil {
				return fmt.Errorf("layer %s: %w", l.Name, err)
			}
		case weights.MaxPooling2D:
			next.h, next.w = a.h/2, a.w/2
			next.data = m.buffer(next.buf, a.n*next.h*next.w*a.c)
			if err := m.cfg.kernels.MaxPool2x2(next.data, a.data, a.n, a.h, a.w, a.c); err != nil {
				return fmt.Errorf("layer %s: %w", l.Name, err)
			}
		case weights.Flatten:
			next.flat, next.c = true, a.h*a.w*a.c
			if first { // Keras flattens channels_first activations in (C, H, W) order
				next.data = m.buffer(next.buf, len(a.data))
				kernels.NHWCToNCHW(next.data, a.data, a.n, a.h, a.w, a.c)
			} else {
				next.data, next.buf = a.data, a.buf
			}
		case weights.Dense:
			kt, bt, err := m.variableValues(l.Name)
			if err != nil {
				return err
			}
			kd := kt.Shape().Dimensions
			if len(kd) != 2 || kd[0] != a.c {
				return fmt.Errorf("layer %s: kernel has shape %v for %d inputs", l.Name, kd, a.c)
			}
			next.c = kd[1]
			next.data = m.buffer(next.buf, a.n*next.c)
			var denseErr, biasErr error
			err = tensors.ConstFlatData(kt, func(k []float32) {
				biasErr = tensors.ConstFlatData(bt, func(b []float32) {
					denseErr = m.cfg.kernels.Dense(next.data, a.data, k, b, a.n, kd[0], kd[1], l.Activation == "relu")
				})
			})
			if err = errors.Join(err, biasErr, denseErr); err != nil {
				return fmt.Errorf("layer %s: %w", l.Name, err)
			}
			if l.Activation == "softmax" {
				kernels.SoftmaxRows(next.data, next.c)
			}
		case weights.GlobalAveragePooling2D, weights.GlobalMaxPooling2D:
			next.flat, next.data = true, m.buffer(next.buf, a.n*a.c)
			kernels.GlobalPool(next.data, a.data, a.n, a.h*a.w, a.c, l.Class == weights.GlobalMaxPooling2D)
		default:
			return fmt.Errorf("internal: layer %s of class %s", l.Name, l.Class)
		}
		a = next
		if want(l.Name) {
			out[l.Name] = m.record(a)
		}
	}
	return nil
}

// record copies an activation into a new tensor in the model's data format.
func (m *Model) record(a act) *tensors.Tensor {
	var t *tensors.Tensor
	switch {
	case a.flat:
		t = tensors.FromShape(shapes.Make(dtypes.Float32, a.n, a.c))
	case m.cfg.dataFormat == weights.ChannelsFirst:
		t = tensors.FromShape(shapes.Make(dtypes.Float32, a.n, a.c, a.h, a.w))
	default:
		t = tensors.FromShape(shapes.Make(dtypes.Float32, a.n, a.h, a.w, a.c))
	}
	tensors.MustMutableFlatData(t, func(d []float32) {
		if !a.flat && m.cfg.dataFormat == weights.ChannelsFirst {
			kernels.NHWCToNCHW(d, a.data, a.n, a.h, a.w, a.c)
		} else {
			copy(d, a.data)
		}
	})
	return t
}

// ConvAlgorithm is the native engine's 3x3 convolution algorithm for this
// model (Builder.ConvAlgorithm; ConvWinograd unless set).
func (m *Model) ConvAlgorithm() ConvAlgorithm {
	switch {
	case !m.kernels().Winograd():
		return ConvDirect
	case m.cfg.convAlg == ConvWinograd2:
		return ConvWinograd2
	}
	return ConvWinograd
}
