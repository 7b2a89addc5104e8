package transfer

import (
	"fmt"
	"math"
	"path"

	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
)

// RMSprop is Keras' RMSprop() as GoMLX's optimizer.RMSProp: learning rate
// 0.001, rho 0.9, epsilon 1e-7. (GoMLX also corrects the running average's
// start-up bias, which Keras does not: the first steps are a little larger.)
//
// Native steps (Trainer.Native) run its update on the native side, on all
// cores, with GoMLX's arithmetic, variables and counters (nativeRMSprop);
// elsewhere it is GoMLX's optimizer as it is.
func RMSprop(learningRate float64) optimizer.Interface {
	const rho, epsilon = 0.9, 1e-7
	return &rmsprop{
		Interface: optimizer.RMSProp().LearningRate(learningRate).Betas(0.9, rho).Epsilon(epsilon).Done(),
		lr:        learningRate, rho: rho, epsilon: epsilon,
	}
}

// rmsprop is RMSprop's optimizer: GoMLX's, with its settings known.
type rmsprop struct {
	optimizer.Interface
	lr, rho, epsilon float64
}

// UpdateGraphWithGradients is GoMLX's (train.OptimizeWithGradients).
func (o *rmsprop) UpdateGraphWithGradients(scope *model.Scope, grads []*Node, lossDType dtypes.DType) {
	o.Interface.(train.OptimizeWithGradients).UpdateGraphWithGradients(scope, grads, lossDType)
}

// nativeRMSprop applies RMSprop's update to variables from their gradients
// as GoMLX's optimizer.RMSProp graph does (Adam without the first moment),
// in float32, with the same state in the same variables (checkpoints are the
// same either way): the global step and the optimizer's step counter (+1),
// the learning rate's variable (created with the optimizer's rate, then read
// every step), and each variable's second moment m2, then
//
//	m2 = rho*m2 + (1-rho)*g²
//	v -= lr*g / (sqrt(m2 / (1 - rho^step)) + epsilon)
//
// It applies only without GoMLX's gradient and step clipping parameters
// (nativeRMSpropOK).
type nativeRMSprop struct {
	o     *rmsprop
	store *model.Store
}

// adamScope is where GoMLX's Adam-family optimizers keep their state.
const adamScope = optimizer.AdamDefaultScope

// nativeRMSpropOK reports whether opt's update can run natively on store.
func nativeRMSpropOK(opt optimizer.Interface, store *model.Store) (*nativeRMSprop, bool) {
	o, ok := opt.(*rmsprop)
	if !ok {
		return nil, false
	}
	root := store.RootScope()
	for _, p := range []string{optimizer.ParamClipNaN, optimizer.ParamClipStepByValue, optimizer.ParamNanLogger} {
		if v, found := root.GetParam(p); found && v != nil && v != false && v != 0.0 {
			return nil, false // GoMLX's graph applies these
		}
	}
	return &nativeRMSprop{o: o, store: store}, true
}

// counter returns the scalar variable at path (created as zero of dtype),
// after adding one to it, and its new value.
func counter[T int64 | float32](store *model.Store, path string) (float64, error) {
	v, err := store.CreateVariable(path, tensors.FromScalar(T(0)))
	if err != nil {
		return 0, err
	}
	v.SetTrainable(false)
	t, err := v.Value()
	if err != nil {
		return 0, err
	}
	next := tensors.ToScalar[T](t) + 1
	if err := v.SetValue(tensors.FromScalar(next)); err != nil {
		return 0, err
	}
	return float64(next), nil
}

// update applies one step to vars with grads (same order and shapes).
func (n *nativeRMSprop) update(vars []*model.Variable, grads []*tensors.Tensor) error {
	o, store := n.o, n.store
	if _, err := counter[int64](store, "/"+optimizer.GlobalStepVariableName); err != nil {
		return fmt.Errorf("global step: %w", err)
	}
	step, err := counter[float32](store, path.Join("/", adamScope, "step"))
	if err != nil {
		return fmt.Errorf("optimizer step: %w", err)
	}
	lrVar, err := store.CreateVariable(path.Join("/", optimizer.Scope, optimizer.ParamLearningRate), tensors.FromScalar(float32(o.lr)))
	if err != nil {
		return err
	}
	lrVar.SetTrainable(false)
	lrT, err := lrVar.Value()
	if err != nil {
		return err
	}
	// The graph's scalars, in float32 as it computes them.
	lr := tensors.ToScalar[float32](lrT)
	rho := float32(o.rho)
	debias := 1 / (1 - float32(math.Pow(float64(rho), float64(step))))
	eps := float32(o.epsilon)
	for i, v := range vars {
		g := grads[i]
		if !g.Shape().Equal(v.Shape()) {
			return fmt.Errorf("internal: gradient %s for variable %s of shape %s", g.Shape(), v.Path(), v.Shape())
		}
		m2Path := path.Join("/", adamScope, v.Scope(), v.Name()+"_2nd_moment")
		m2Var := store.GetVariable(m2Path)
		if m2Var == nil {
			m2 := tensors.FromShape(v.Shape())
			tensors.MustMutableFlatData(m2, kernels.AdviseHugePages) // fewer page faults
			if m2Var, err = store.CreateVariable(m2Path, m2); err != nil {
				return err
			}
		}
		m2Var.SetTrainable(false) // as GoMLX's does (a checkpoint's load makes it trainable)
		value, err := v.Value()
		if err != nil {
			return err
		}
		m2, err := m2Var.Value()
		if err != nil {
			return err
		}
		// A new tensor for the variable (a new value is how the native engine
		// knows its weights changed); the moment, the optimizer's own, is
		// updated in place.
		newValue := tensors.FromShape(v.Shape())
		err = withFlat([]*tensors.Tensor{value, g}, func(d [][]float32) error {
			old, gd := d[0], d[1]
			var stepErr error
			if err := tensors.MutableFlatData(m2, func(m2 []float32) {
				tensors.MustMutableFlatData(newValue, func(nv []float32) {
					kernels.AdviseHugePages(nv) // not yet written: fewer page faults
					stepErr = kernels.RMSprop(nv, m2, old, gd, kernels.RMSpropParams{Rho: rho, LR: lr, Epsilon: eps, Debias: debias})
				})
			}); err != nil {
				return err
			}
			return stepErr
		})
		if err != nil {
			return err
		}
		if err := v.SetValue(newValue); err != nil {
			return err
		}
	}
	return nil
}
