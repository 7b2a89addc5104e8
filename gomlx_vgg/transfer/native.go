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

	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/gomlx_vgg/tape"
	"github.com/vggnb/vggnb/weights"
)

// nativeStep is a training step on gomlx_vgg's native kernels, built for
// one Freeze setting:
//
//  1. end to end, the base runs forward, keeping the activations its
//     backward pass needs (tape.Recorder.Record); a head alone (on features)
//     starts at step 2;
//  2. the head runs forward and backward on the native kernels (nativeHead),
//     its loss the mean cross-entropy, giving the gradients of its variables
//     and of the base's output. Where the head cannot (a regularized one),
//     the head graph computes the loss as train.Trainer does (the main loss,
//     a batch mean, plus any regularisation terms) and, by GoMLX's autodiff,
//     the same gradients; either way in training mode (dropout on);
//  3. the base's backward pass gives its trainable convolutions' gradients
//     from the output's (tape.Tape.Backward);
//  4. RMSprop's update runs natively (nativeRMSprop); other optimizers'
//     update graph gets all the gradients (train.OptimizeWithGradients), in
//     the order of the store's trainable variables, as its UpdateGraph would
//     after differentiating, compiled once (per Freeze setting) and run
//     every step.
//
// The optimizer, its state variables, the global step and the dropout's
// random state are GoMLX's, as with train.Trainer: checkpoints are the same.
type nativeStep struct {
	rec *tape.Recorder // nil for a head alone
	nh  *nativeHead    // nil: the head runs as a graph (head)
	// head is the head graph, where nh is nil; update the optimizer's,
	// where rms is nil.
	head, update *model.Exec
	rms          *nativeRMSprop
	// vars are the store's trainable variables, the update graph's inputs.
	// Those of the base's layers (in convs) get their gradients from the
	// tape; the others from the head.
	vars  []*model.Variable
	base  []bool // per var: a base variable
	convs []string
}

// finalize frees the step's graphs (nil: nothing).
func (ns *nativeStep) finalize() {
	if ns != nil {
		if ns.head != nil {
			ns.head.Finalize()
		}
		if ns.update != nil {
			ns.update.Finalize()
		}
		ns.nh.finalize()
	}
}

// newNativeStep builds the step's graphs for the store's trainable variables now.
func (t *Trainer) newNativeStep() (*nativeStep, error) {
	s := t.s
	ns := &nativeStep{}
	ks := kernels.Best()
	baseLayer := map[string]bool{}
	if t.nativeBase() {
		rec, err := tape.New(s.Base)
		if err != nil {
			return nil, err
		}
		ns.rec = rec
		if ks, err = kernels.Lookup(s.Base.NativeSIMD(), string(s.Base.ConvAlgorithm())); err != nil {
			return nil, err
		}
		for _, l := range s.Base.Layers() {
			if l.Class == weights.Conv2D {
				baseLayer[l.Name] = true
			}
		}
	}
	for v := range s.store.IterVariables() {
		layer := layerOf(v.Path())
		// Only the model's layers' variables train: not the optimizer's
		// state (which a checkpoint's load marks trainable), not the base's
		// on a step of the head alone.
		if !v.Trainable || !slices.Contains(HeadLayers, layer) && !baseLayer[layer] {
			continue
		}
		base := baseLayer[layer]
		ns.vars, ns.base = append(ns.vars, v), append(ns.base, base)
		if base && !slices.Contains(ns.convs, layer) {
			ns.convs = append(ns.convs, layer)
		}
	}
	if len(ns.vars) == 0 {
		return nil, errors.New("nothing to train: every layer is frozen")
	}
	var err error
	if ns.nh, err = s.newNativeHead(ks); err != nil {
		if ns.rec == nil {
			return nil, err
		}
		if ns.head, err = t.headGraph(ns); err != nil {
			return nil, err
		}
	}
	if rms, ok := nativeRMSpropOK(t.opt, s.store); ok {
		ns.rms = rms
		return ns, nil
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
		ns.finalize()
		return nil, err
	}
	return ns, nil
}

// headGraph is the head's loss and gradients as a graph: those with respect
// to the features, then to the head's trainable variables in ns.vars' order.
func (t *Trainer) headGraph(ns *nativeStep) (*model.Exec, error) {
	s := t.s
	var headVars []*model.Variable
	for i, v := range ns.vars {
		if !ns.base[i] {
			headVars = append(headVars, v)
		}
	}
	return model.NewExec(s.backend, s.store, func(scope *model.Scope, in []*Node) []*Node {
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
}

// nativeStep takes one step on x (images end to end, else features) with
// labels (y: the same, (batch, 1)) and returns the loss.
func (t *Trainer) nativeStep(x *tensors.Tensor, labels []int32, y *tensors.Tensor) (float32, error) {
	if t.native == nil {
		ns, err := t.newNativeStep()
		if err != nil {
			return 0, err
		}
		t.native = ns
	}
	ns := t.native
	features := x
	var tp *tape.Tape
	if ns.rec != nil {
		var err error
		if tp, err = ns.rec.Record(x, ns.convs...); err != nil {
			return 0, err
		}
		features = tp.Output()
	}
	var lossValue float32
	var dFeatures *tensors.Tensor
	headGrads := map[string]*tensors.Tensor{}
	if ns.nh != nil {
		if err := ns.nh.forward(features); err != nil {
			return 0, err
		}
		var grads []*tensors.Tensor
		var err error
		if lossValue, grads, dFeatures, err = ns.nh.backward(labels, len(ns.convs) > 0); err != nil {
			return 0, err
		}
		for i, p := range headVars {
			headGrads[p] = grads[i]
		}
	} else {
		outs, err := ns.head.Exec(features, y)
		if err != nil {
			return 0, fmt.Errorf("head: %w", err)
		}
		lossValue, dFeatures = tensors.ToScalar[float32](outs[0]), outs[1]
		grads := outs[2:]
		for i, v := range ns.vars {
			if !ns.base[i] {
				headGrads[v.Path()], grads = grads[0], grads[1:]
			}
		}
	}
	var baseGrads map[string]tape.Gradients
	if len(ns.convs) > 0 {
		var err error
		if baseGrads, err = tp.Backward(dFeatures); err != nil {
			return 0, err
		}
	}
	inputs := make([]*tensors.Tensor, len(ns.vars))
	for i, v := range ns.vars {
		if !ns.base[i] {
			if inputs[i] = headGrads[v.Path()]; headGrads[v.Path()] == nil {
				return 0, fmt.Errorf("internal: no gradient for the head's variable %s", v.Path())
			}
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
	if ns.rms != nil {
		if err := ns.rms.update(ns.vars, inputs); err != nil {
			return 0, fmt.Errorf("optimizer: %w", err)
		}
		return lossValue, nil
	}
	args := make([]any, len(inputs))
	for i, in := range inputs {
		args[i] = in
	}
	if _, err := ns.update.Exec(args...); err != nil {
		return 0, fmt.Errorf("optimizer: %w", err)
	}
	return lossValue, nil
}
