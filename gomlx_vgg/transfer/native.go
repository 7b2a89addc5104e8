package transfer

import (
	"errors"
	"fmt"
	"path"
	"slices"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"

	"github.com/vggnb/vggnb/gomlx_vgg/tape"
	"github.com/vggnb/vggnb/weights"
)

// nativeStep is an end-to-end training step whose base runs on gomlx_vgg's
// native kernels, built for one Freeze setting:
//
//  1. the base runs forward, keeping the activations its backward pass needs
//     (tape.Recorder.Record);
//  2. the head graph computes the loss as train.Trainer does (the main loss,
//     a batch mean, plus any regularisation terms) and, by GoMLX's autodiff,
//     its gradients with respect to the base's output and to the head's
//     trainable variables, in training mode (dropout on);
//  3. the base's backward pass gives its trainable convolutions' gradients
//     from the output's (tape.Tape.Backward);
//  4. the update graph hands all the gradients to the optimizer
//     (train.OptimizeWithGradients), in the order of the store's trainable
//     variables, as its UpdateGraph would after differentiating.
//
// The optimizer, its state variables, the global step and the dropout's
// random state are GoMLX's, as with train.Trainer: checkpoints are the same.
type nativeStep struct {
	rec          *tape.Recorder
	head, update *model.Exec
	// vars are the store's trainable variables, the update graph's inputs.
	// Those of the base's layers (in convs) get their gradients from the
	// tape; the others, in order, from the head graph.
	vars  []*model.Variable
	base  []bool // per var: a base variable
	convs []string
}

// finalize frees the step's graphs (nil: nothing).
func (ns *nativeStep) finalize() {
	if ns != nil {
		ns.head.Finalize()
		ns.update.Finalize()
	}
}

// newNativeStep builds the step's graphs for the store's trainable variables now.
func (t *Trainer) newNativeStep() (*nativeStep, error) {
	s := t.s
	rec, err := tape.New(s.Base)
	if err != nil {
		return nil, err
	}
	ns := &nativeStep{rec: rec}
	baseLayer := map[string]bool{}
	for _, l := range s.Base.Layers() {
		if l.Class == weights.Conv2D {
			baseLayer[l.Name] = true
		}
	}
	for v := range s.store.IterVariables() {
		if !v.Trainable {
			continue
		}
		layer := layerOf(v.Path())
		base := baseLayer[layer]
		ns.vars, ns.base = append(ns.vars, v), append(ns.base, base)
		if base && !slices.Contains(ns.convs, layer) {
			ns.convs = append(ns.convs, layer)
		}
	}
	if len(ns.vars) == 0 {
		return nil, errors.New("nothing to train: every layer is frozen")
	}
	var headVars []*model.Variable
	for i, v := range ns.vars {
		if !ns.base[i] {
			headVars = append(headVars, v)
		}
	}
	ns.head, err = model.NewExec(s.backend, s.store, func(scope *model.Scope, in []*Node) []*Node {
		features, labels := in[0], in[1]
		g := features.Graph()
		scope.Store().SetTraining(g, true)
		logits := s.HeadLogits(scope, features)
		l := loss.SparseCategoricalCrossEntropyLogits([]*Node{labels}, []*Node{logits})
		if !l.Shape().IsScalar() {
			l = ReduceAllMean(l)
		}
		train.AddMainLoss(l)
		total := train.TotalLoss(g)
		wrt := []*Node{features}
		for _, v := range headVars {
			wrt = append(wrt, v.NodeValue(g))
		}
		train.ExecPerStepUpdateGraphFn(g)
		return append([]*Node{total}, Gradient(total, wrt...)...)
	})
	if err != nil {
		return nil, err
	}
	opt := t.opt.(train.OptimizeWithGradients)
	ns.update, err = model.NewExec(s.backend, s.store, func(scope *model.Scope, grads []*Node) {
		g := grads[0].Graph()
		for _, v := range ns.vars {
			v.NodeValue(g) // in use by the graph: the optimizer takes gradients in this order
		}
		opt.UpdateGraphWithGradients(scope, grads, dtypes.Float32)
	})
	if err != nil {
		ns.head.Finalize()
		return nil, err
	}
	return ns, nil
}

// nativeStep takes one step on images x with labels y ((batch, 1) int32) and
// returns the loss.
func (t *Trainer) nativeStep(x, y *tensors.Tensor) (float32, error) {
	if t.native == nil {
		ns, err := t.newNativeStep()
		if err != nil {
			return 0, err
		}
		t.native = ns
	}
	ns := t.native
	tp, err := ns.rec.Record(x, ns.convs...)
	if err != nil {
		return 0, err
	}
	outs, err := ns.head.Exec(tp.Output(), y)
	if err != nil {
		return 0, fmt.Errorf("head: %w", err)
	}
	lossValue, dFeatures, headGrads := outs[0], outs[1], outs[2:]
	baseGrads, err := tp.Backward(dFeatures)
	if err != nil {
		return 0, err
	}
	inputs := make([]any, len(ns.vars))
	for i, v := range ns.vars {
		if !ns.base[i] {
			inputs[i], headGrads = headGrads[0], headGrads[1:]
			continue
		}
		g := baseGrads[layerOf(v.Path())]
		switch path.Base(v.Path()) {
		case "kernel":
			inputs[i] = g.Kernel
		case "bias":
			inputs[i] = g.Bias
		default:
			return 0, fmt.Errorf("internal: no gradient for the base's variable %s", v.Path())
		}
	}
	if _, err := ns.update.Exec(inputs...); err != nil {
		return 0, fmt.Errorf("optimizer: %w", err)
	}
	return tensors.ToScalar[float32](lossValue), nil
}
