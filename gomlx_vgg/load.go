package gomlx_vgg

import (
	"fmt"
	"slices"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model/initializer"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// loadWeights resolves the weights option and creates the variables.
func (m *Model) loadWeights() error {
	c := &m.cfg
	if c.weights == WeightsNone {
		m.source = string(WeightsNone)
		init := initializer.GlorotUniformFn(m.root)
		for _, l := range m.weighted() {
			for i, shape := range l.shapes {
				vinit := init
				if i == 1 {
					vinit = initializer.Zero
				}
				v := m.store.VariableWithShape(m.varPath(l.Name, weights.WeightNames[i]), shapes.Make(dtypes.Float32, shape...), vinit)
				v.Trainable = l.Trainable
			}
		}
		return nil
	}
	spec := c.kerasSpec()
	var f *weights.File
	// synth: the synthetic weights are made straight into the tensors (no File).
	synth := false
	path := string(c.weights)
	switch {
	case c.file != nil:
		f = c.file
	case c.weights == WeightsSynthetic:
		synth = true
		fmt.Fprintf(c.notices, "%s (%s, seed %d)\n", weights.SyntheticNotice, spec, c.seed)
	case c.weights == WeightsImageNet || c.weights == WeightsAuto:
		e, err := weights.ImageNet(c.name, c.includeTop)
		if err != nil {
			return fmt.Errorf("gomlx_vgg: %w", err)
		}
		if c.weights == WeightsAuto {
			path, err = download.Local(e, c.fetchOpts...)
			if err != nil {
				synth = true
				fmt.Fprintf(c.notices, "%s\n  (%v; run `vggnb weights fetch --model %s%s` where there is network)\n",
					weights.SyntheticNotice, err, c.name, map[bool]string{true: " --include-top"}[c.includeTop])
			}
		} else {
			path, err = download.Fetch(m.ctx, e, c.fetchOpts...)
			if err != nil {
				return fmt.Errorf("gomlx_vgg: imagenet weights for %s: %w", spec, err)
			}
		}
	}
	if synth && c.dataFormat == weights.ChannelsFirst && c.includeTop {
		// fc1's rows are reordered for channels_first: made whole, then moved.
		f, synth = weights.Synthetic(spec, c.seed), false
	}
	switch {
	case synth:
		m.synthetic = true
		m.source = weights.SyntheticPath(spec)
	case c.file != nil:
		m.source = f.Path
		m.synthetic = f.Backend == "synthetic" || weights.IsSyntheticFile(f.Path)
	case f == nil:
		opts := append([]weights.Option{weights.WithDataFormat(c.dataFormat), weights.WithSourceDataFormat(c.source)}, c.loadOptions...)
		var err error
		f, err = weights.LoadVGG(path, spec, opts...)
		if err != nil {
			return fmt.Errorf("gomlx_vgg: %w", err)
		}
		m.source = path
		m.synthetic = weights.IsSyntheticFile(path) // written by weights.ImageNetOrSynthetic
	default:
		m.synthetic = true
		m.source = f.Path
		if c.dataFormat == weights.ChannelsFirst && c.includeTop {
			fc1 := f.Layer("fc1")
			fs := weights.FlattenShape
			fc1.Weights[0] = weights.DenseRowsReorder(fc1.Weights[0], fs[0], fs[1], fs[2], weights.ChannelsLast, weights.ChannelsFirst)
		}
	}
	// The values are moved into tensors on all cores (80-550 MB, mostly page
	// faults on a fresh process; from the mapped cache, its pages are dropped as
	// they are copied, so the weights are never in memory twice), then made
	// variables in order.
	type job struct {
		layer Layer
		index int
		src   *weights.Tensor
		shape []int
		value *tensors.Tensor
		err   error
	}
	var jobs []*job
	for _, l := range m.weighted() {
		var fl *weights.Layer
		if !synth {
			if fl = f.Layer(l.Name); fl == nil {
				return withKind(weights.ErrWrongModel, fmt.Errorf("gomlx_vgg: %s: layer %s missing from the loaded weights", m.source, l.Name))
			}
		}
		for i, shape := range l.shapes {
			j := &job{layer: l, index: i, shape: shape}
			if fl != nil {
				if wt := fl.Weights[i]; !slices.Equal(wt.Shape, shape) {
					return withKind(weights.ErrWrongModel, fmt.Errorf("gomlx_vgg: %s: layer %s %s has shape %v, the model needs %v", m.source, l.Name, weights.WeightNames[i], wt.Shape, shape))
				}
				j.src = &fl.Weights[i]
			}
			jobs = append(jobs, j)
		}
	}
	// All allocated, then all advised huge pages, before any is written:
	// fewer page faults (kernels.AdviseHugePages).
	for _, j := range jobs {
		j.value = tensors.FromShape(shapes.Make(dtypes.Float32, j.shape...))
	}
	for _, j := range jobs {
		tensors.MustMutableFlatData(j.value, kernels.AdviseHugePages)
	}
	kernels.ForEach(len(jobs), func(i int) {
		j := jobs[i]
		tensors.MustMutableFlatData(j.value, func(flat []float32) {
			switch {
			case j.src == nil:
				j.err = weights.SyntheticInto(spec, c.seed, j.layer.Name, j.index, flat)
			case c.file != nil:
				copy(flat, j.src.Data) // the caller's File stays its own
			default:
				j.err = f.MoveInto(j.src, flat)
			}
		})
	})
	for _, j := range jobs {
		if j.err != nil {
			return fmt.Errorf("gomlx_vgg: layer %s: %w", j.layer.Name, j.err)
		}
	}
	for _, j := range jobs {
		v, err := m.store.CreateVariable(m.varPath(j.layer.Name, weights.WeightNames[j.index]), j.value)
		if err != nil {
			return fmt.Errorf("gomlx_vgg: layer %s: %w", j.layer.Name, err)
		}
		v.Trainable = j.layer.Trainable
	}
	return nil
}
