package transfer

import (
	"fmt"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/shape"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/vggnb/vggnb/gomlx_vgg/tape"
)

// Trainer takes training steps of a Stacked model with categorical
// cross-entropy (Keras' loss='categorical_crossentropy' on one-hot labels,
// here integer labels) and an optimizer, through GoMLX's train.Trainer. Only
// trainable variables get gradients: frozen layers are not differentiated.
//
// On the pure-Go backend the steps run on gomlx_vgg's native kernels: end to
// end, the base forward and backward (package tape), and the head (on the
// base's output or on features) forward and backward; only the optimizer's
// update (and the dropout's random numbers) run as GoMLX graphs, compiled
// once (see nativeStep): the same steps, 2-20x faster. GraphOnly(true)
// trains through the graph alone, to compare.
type Trainer struct {
	s         *Stacked
	t         *train.Trainer
	opt       optimizer.Interface
	features  bool
	graphOnly bool
	steps     int
	frozenAt  int // the Freeze setting the compiled graphs were built for
	native    *nativeStep
}

// HeadTrainer trains the head on the base's features (batch, H, W, C): Keras'
// feature-extraction workflow, where the frozen base ran once (Features).
func (s *Stacked) HeadTrainer(opt optimizer.Interface) *Trainer {
	return s.newTrainer(opt, true)
}

// EndToEndTrainer trains the whole stacked model on preprocessed images
// (batch, H, W, 3); the frozen layers compute no gradients.
func (s *Stacked) EndToEndTrainer(opt optimizer.Interface) *Trainer {
	return s.newTrainer(opt, false)
}

func (s *Stacked) newTrainer(opt optimizer.Interface, features bool) *Trainer {
	fn := func(scope *model.Scope, _ any, inputs []*Node) []*Node {
		if features {
			return []*Node{s.HeadLogits(scope, inputs[0])}
		}
		return []*Node{s.Logits(scope, inputs[0])}
	}
	t := train.NewTrainer(s.backend, s.store, fn, loss.SparseCategoricalCrossEntropyLogits, opt, nil, nil)
	return &Trainer{s: s, t: t, opt: opt, features: features, frozenAt: s.Frozen()}
}

// GraphOnly makes the trainer's steps run through GoMLX's graph alone (true)
// even where the native kernels would run the base (false, the default): to
// compare the two. Set it before the first step.
func (t *Trainer) GraphOnly(on bool) *Trainer { t.graphOnly = on; return t }

// Native reports whether the trainer's steps run on the native kernels
// rather than through the graph: on the pure-Go backend, with an optimizer
// that takes gradients (GoMLX's SGD, Adam and RMSProp do), end to end with
// the base on them (and the head unless it is regularized), or the head alone
// (on features, or NewHead's) on them.
func (t *Trainer) Native() bool {
	if t.graphOnly {
		return false
	}
	if _, ok := t.opt.(train.OptimizeWithGradients); !ok {
		return false
	}
	if t.nativeBase() {
		return true
	}
	return (t.features || t.s.Base == nil) && t.s.nativeHeadOK() == nil
}

// nativeBase reports whether end-to-end steps run the base on the native
// kernels.
func (t *Trainer) nativeBase() bool {
	return !t.features && t.s.Base != nil && tape.Recordable(t.s.Base) == nil
}

// Step takes one training step (training phase: dropout on) on a batch x with
// integer class labels and returns the batch's mean loss. x is not modified or
// freed.
func (t *Trainer) Step(x *tensors.Tensor, labels []int32) (float32, error) {
	if x == nil || x.Shape().Rank() != 4 || x.Shape().Dimensions[0] != len(labels) {
		return 0, fmt.Errorf("transfer: train step: inputs %v for %d labels, want (batch, H, W, C) with batch = labels", shape.Of(x), len(labels))
	}
	if t.Native() {
		return t.step(x, labels) // the native step neither modifies nor frees x
	}
	// GoMLX's trainer takes ownership of (and frees) the batch: it gets a copy,
	// and x stays the caller's.
	xc, err := x.LocalClone()
	if err != nil {
		return 0, fmt.Errorf("transfer: train step %d: %w", t.steps, err)
	}
	return t.step(xc, labels)
}

// step is Step on a batch x the trainer may free (Fit's gathered batches).
func (t *Trainer) step(x *tensors.Tensor, labels []int32) (float32, error) {
	for i, l := range labels {
		if l < 0 || int(l) >= t.s.classes {
			return 0, fmt.Errorf("transfer: train step: label %d of example %d outside [0, %d)", l, i, t.s.classes)
		}
	}
	y := tensors.FromFlatDataAndDimensions(append([]int32(nil), labels...), len(labels), 1)
	// Which variables get gradients is fixed when a step's graph is built: after
	// a Freeze (fine-tuning unfreezes block2, say) the graphs are built again.
	if n := t.s.Frozen(); n != t.frozenAt {
		t.t.ResetComputationGraphs()
		t.native.finalize()
		t.native = nil
		t.frozenAt = n
	}
	shape := x.Shape()
	if t.Native() {
		loss, err := t.nativeStep(x, labels, y)
		if err != nil {
			return 0, fmt.Errorf("transfer: train step %d on %v: %w", t.steps, shape, err)
		}
		t.steps++
		return loss, nil
	}
	metrics, err := t.t.TrainStep(train.Batch{Inputs: []*tensors.Tensor{x}, Labels: []*tensors.Tensor{y}})
	if err != nil {
		return 0, fmt.Errorf("transfer: train step %d on %v: %w", t.steps, shape, err)
	}
	t.steps++
	return tensors.ToScalar[float32](metrics[0]), nil
}

// Steps is the number of steps taken by this trainer.
func (t *Trainer) Steps() int { return t.steps }
