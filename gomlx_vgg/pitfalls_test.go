package gomlx_vgg

import (
	"crypto/sha256"
	"math"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX style.
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
)

// The seed's pitfalls ("Use Keras pretrained models with TensorFlow"), each made
// impossible and checked here.

// digests returns a SHA-256 per variable of the store.
func digests(t *testing.T, s *model.Store) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	for v := range s.IterVariables() {
		val, err := v.Value()
		if err != nil {
			t.Fatalf("%s: %v", v.Path(), err)
		}
		tensors.ConstFlatData(val, func(f []float32) {
			b := make([]byte, 0, 4*len(f))
			for _, x := range f {
				u := math.Float32bits(x)
				b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
			}
			out[v.Path()] = sha256.Sum256(b)
		})
	}
	return out
}

func smallInput(h, w int, offset float32) *tensors.Tensor {
	x := tensors.FromShape(shapes.Make(dtypes.Float32, 1, h, w, 3))
	tensors.MutableFlatData(x, func(v []float32) {
		for i := range v {
			v[i] = float32((i*7)%255) - 127 + offset
		}
	})
	return x
}

// Pitfall 1: pretrained weights must not be trainable unless asked.
func TestPretrainedNotTrainable(t *testing.T) {
	m := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).MustDone()
	for v := range m.Store().IterVariables() {
		if v.Trainable {
			t.Errorf("%s is trainable by default", v.Path())
		}
	}
	if _, trainable := m.CountParams(); trainable != 0 {
		t.Errorf("%d trainable params, want 0", trainable)
	}
	if err := m.SetTrainable(true, "block5_conv3"); err != nil {
		t.Fatal(err)
	}
	if _, trainable := m.CountParams(); trainable != 3*3*512*512+512 {
		t.Errorf("after unfreezing block5_conv3: %d trainable params", trainable)
	}
	asked := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).Trainable(true).MustDone()
	if total, trainable := asked.CountParams(); trainable != total {
		t.Errorf("Trainable(true): %d of %d trainable", trainable, total)
	}
}

// Pitfall 1 in action: optimising an input image leaves the frozen VGG weights
// bit-identical, and only the image receives a gradient.
func TestOptimizeInputKeepsWeights(t *testing.T) {
	m := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).MustDone()
	before := digests(t, m.Store())
	img, err := m.Store().CreateVariable("/input_image", smallInput(32, 32, 0))
	if err != nil {
		t.Fatal(err)
	}
	img.Trainable = true
	var nGrads int
	step := model.MustNewExec(m.Backend(), m.Store(), func(scope *model.Scope, g *Graph) *Node {
		x := img.NodeValue(g)
		loss := ReduceAllMean(m.Apply(scope, x))
		grads := scope.BuildTrainableVariablesGradientsGraph(loss)
		nGrads = len(grads)
		img.SetNodeValue(Sub(x, MulScalar(grads[0], 100)))
		return loss
	})
	l0 := step.MustExec1().Value().(float32)
	l1 := step.MustExec1().Value().(float32)
	if nGrads != 1 {
		t.Errorf("%d gradients, want 1 (the image only)", nGrads)
	}
	if l1 >= l0 {
		t.Errorf("loss did not decrease: %v -> %v", l0, l1)
	}
	after := digests(t, m.Store())
	for path, d := range before {
		if after[path] != d {
			t.Errorf("%s changed while optimising the input", path)
		}
	}
	if after["/input_image"] == digestsOf(t, smallInput(32, 32, 0)) {
		t.Error("the input image did not change")
	}
}

func digestsOf(t *testing.T, x *tensors.Tensor) [32]byte {
	s := model.NewStore()
	if _, err := s.CreateVariable("/x", x); err != nil {
		t.Fatal(err)
	}
	return digests(t, s)["/x"]
}

// Pitfall 2: initialising other variables (a new head) never touches loaded weights.
func TestInitializeKeepsLoadedWeights(t *testing.T) {
	m := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).MustDone()
	before := digests(t, m.Store())
	head := m.Store().VariableWithShape("/head/kernel", shapes.Make(dtypes.Float32, 512, 10),
		initializer.GlorotUniformFn(m.Store().RootScope()))
	if err := m.Store().InitializeVariables(m.Backend(), nil); err != nil {
		t.Fatal(err)
	}
	if !head.HasValue() {
		t.Fatal("the new variable was not initialised")
	}
	after := digests(t, m.Store())
	for path, d := range before {
		if after[path] != d {
			t.Errorf("%s changed when initialising other variables", path)
		}
	}
	// And a model with weights=None is initialised exactly once: running it
	// twice does not re-draw its weights.
	n := VGG16().IncludeTop(false).Weights(WeightsNone).MustDone()
	x := smallInput(32, 32, 0)
	a, err := n.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	first := digests(t, n.Store())
	b, err := n.Predict(x)
	if err != nil {
		t.Fatal(err)
	}
	if !equalTensors(a, b) || len(first) != 26 {
		t.Errorf("weights=None model changed between runs (or has %d variables, want 26)", len(first))
	}
}

// Pitfall 3: applying one model to several inputs shares one set of variables.
func TestApplyTwiceSharesVariables(t *testing.T) {
	m := VGG16().IncludeTop(false).Weights(WeightsSynthetic).Notices(nil).MustDone()
	nVars := m.Store().NumVariables()
	a, b := smallInput(32, 32, 0), smallInput(32, 32, 5)
	var nParams int
	both := model.MustNewExec(m.Backend(), m.Store(), func(scope *model.Scope, x, y *Node) []*Node {
		outs := []*Node{m.Apply(scope, x), m.Apply(scope, y)}
		nParams = x.Graph().NumParameters()
		return outs
	})
	outs := both.MustExec(a, b)
	if got := m.Store().NumVariables(); got != nVars {
		t.Errorf("store has %d variables after applying twice, had %d", got, nVars)
	}
	if nParams != 2+nVars {
		t.Errorf("graph has %d parameters, want 2 inputs + %d variables", nParams, nVars)
	}
	// The same graph applied once per input gives bit-identical values.
	ga, _ := m.GraphOutputs(a)
	gb, _ := m.GraphOutputs(b)
	if !equalTensors(outs[0], ga[m.Output()]) || !equalTensors(outs[1], gb[m.Output()]) {
		t.Error("applying twice in one graph differs from applying separately")
	}
}
