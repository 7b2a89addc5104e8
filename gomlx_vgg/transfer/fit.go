package transfer

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/shape"
	"github.com/vggnb/vggnb/weights/download"
)

// Fit is Keras' model.fit(x, y, epochs=..., batch_size=..., validation_data=...)
// for a Trainer: shuffled mini-batches, reshuffled every epoch from Seed.
type Fit struct {
	Epochs, BatchSize int
	Seed              uint64
	// ValX, ValY (optional) are evaluated after every epoch (accuracy).
	ValX *tensors.Tensor
	ValY []int32
	// Bar, if not nil, gets a progress bar over all steps (a terminal).
	Bar io.Writer
	// OnStep and OnEpoch, if not nil, are called after every step and every
	// epoch (a live plot in a notebook). valAccuracy is -1 without ValX.
	OnStep  func(step, steps int, loss float32)
	OnEpoch func(epoch int, meanLoss, valAccuracy float64)
	// Context, if not nil, stops training between steps when it is done
	// (Ctrl-C): Fit returns its error, the model as the last full step left it.
	Context context.Context
}

// History is what Fit measured, per epoch.
type History struct {
	Loss, ValAccuracy, Seconds []float64
}

// Fit trains on x (features or images, as the trainer takes) with labels y.
func (t *Trainer) Fit(x *tensors.Tensor, y []int32, cfg Fit) (History, error) {
	var h History
	n := len(y)
	if x == nil || x.Shape().Rank() != 4 || x.Shape().Dimensions[0] != n {
		return h, fmt.Errorf("transfer: fit: inputs %v for %d labels", shape.Of(x), n)
	}
	switch {
	case cfg.Epochs <= 0 || cfg.BatchSize <= 0:
		return h, fmt.Errorf("transfer: fit: %d epochs of batches of %d: both must be at least 1", cfg.Epochs, cfg.BatchSize)
	case cfg.BatchSize > n:
		return h, fmt.Errorf("transfer: fit: the batch size %d is larger than the %d examples: no full batch to train on", cfg.BatchSize, n)
	}
	perEpoch := n / cfg.BatchSize // the last partial batch is dropped: one shape, one compilation
	steps := cfg.Epochs * perEpoch
	var bar *download.Progress
	if cfg.Bar != nil {
		bar = download.NewCountProgress(cfg.Bar, "train", int64(steps), "steps")
		defer bar.Done()
	}
	r := rand.New(rand.NewPCG(cfg.Seed, uint64(t.steps)))
	step := 0
	for e := range cfg.Epochs {
		t0 := time.Now()
		perm := r.Perm(n)
		var sum float64
		for b := range perEpoch {
			idx := perm[b*cfg.BatchSize : (b+1)*cfg.BatchSize]
			labels := make([]int32, len(idx))
			for i, j := range idx {
				labels[i] = y[j]
			}
			if cfg.Context != nil && cfg.Context.Err() != nil {
				return h, fmt.Errorf("transfer: fit stopped at step %d of %d: %w", step, steps, cfg.Context.Err())
			}
			loss, err := t.step(gather(x, idx), labels) // gather's copy is the trainer's to free
			if err != nil {
				return h, fmt.Errorf("transfer: fit: epoch %d: %w", e+1, err)
			}
			sum += float64(loss)
			step++
			if bar != nil {
				bar.Add(1)
			}
			if cfg.OnStep != nil {
				cfg.OnStep(step, steps, loss)
			}
		}
		acc := -1.0
		if cfg.ValX != nil {
			var err error
			if acc, err = t.s.Accuracy(cfg.ValX, cfg.ValY, t.features); err != nil {
				return h, err
			}
		}
		h.Loss = append(h.Loss, sum/float64(perEpoch))
		h.ValAccuracy = append(h.ValAccuracy, acc)
		h.Seconds = append(h.Seconds, time.Since(t0).Seconds())
		if cfg.OnEpoch != nil {
			cfg.OnEpoch(e+1, sum/float64(perEpoch), acc)
		}
	}
	return h, nil
}

// EvalBatch is how many examples Accuracy runs at once.
const EvalBatch = 32

// Accuracy is the share of examples of x whose top class is the label:
// features true for the head on features, false for the whole model on images.
func (s *Stacked) Accuracy(x *tensors.Tensor, y []int32, features bool) (float64, error) {
	n := len(y)
	if x == nil || x.Shape().Rank() != 4 || x.Shape().Dimensions[0] != n || n == 0 {
		return 0, fmt.Errorf("transfer: accuracy: inputs %v for %d labels", shape.Of(x), n)
	}
	right := 0
	for from := 0; from < n; from += EvalBatch {
		to := min(from+EvalBatch, n)
		var p *tensors.Tensor
		var err error
		if features {
			p, err = s.PredictFeatures(rows(x, from, to))
		} else {
			p, err = s.Predict(rows(x, from, to))
		}
		if err != nil {
			return 0, err
		}
		tensors.ConstFlatData(p, func(f []float32) {
			for i := range to - from {
				row := f[i*s.classes : (i+1)*s.classes]
				best := 0
				for c, v := range row {
					if v > row[best] {
						best = c
					}
				}
				if int32(best) == y[from+i] {
					right++
				}
			}
		})
	}
	return float64(right) / float64(n), nil
}
