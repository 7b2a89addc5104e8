package transfer

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
)

// TestNativeRMSpropMatchesGraph: RMSprop's native update gives the values,
// second moments and counters of GoMLX's RMSProp graph for the same
// gradients, step after step (a learning rate changed between steps
// included), and refuses a store with GoMLX's NaN clipping on.
func TestNativeRMSpropMatchesGraph(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	random := func(dims ...int) *tensors.Tensor {
		x := tensors.FromShape(shapes.Make(dtypes.Float32, dims...))
		tensors.MutableFlatData(x, func(f []float32) {
			for i := range f {
				f[i] = float32(r.NormFloat64())
			}
		})
		return x
	}
	paths := []string{"/dense_1/dense/weights", "/conv2d_1/bias"}
	dims := [][]int{{70, 33}, {5}}
	var init []*tensors.Tensor
	for _, d := range dims {
		init = append(init, random(d...))
	}
	newStore := func() (*model.Store, []*model.Variable) {
		store := model.NewStore()
		var vars []*model.Variable
		for i, p := range paths {
			c, err := init[i].LocalClone()
			if err != nil {
				t.Fatal(err)
			}
			v, err := store.CreateVariable(p, c)
			if err != nil {
				t.Fatal(err)
			}
			vars = append(vars, v)
		}
		return store, vars
	}
	opt := RMSprop(1e-2)
	graphStore, graphVars := newStore()
	update, err := model.NewExec(gobackend.GetBackend(), graphStore, func(scope *model.Scope, grads []*Node) {
		for _, v := range graphVars {
			v.NodeValue(grads[0].Graph())
		}
		opt.(train.OptimizeWithGradients).UpdateGraphWithGradients(scope, grads, dtypes.Float32)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer update.Finalize()
	nativeStore, nativeVars := newStore()
	native, ok := nativeRMSpropOK(opt, nativeStore)
	if !ok {
		t.Fatal("RMSprop's update does not run natively")
	}
	for step := range 4 {
		if step == 2 { // a schedule changes the learning rate's variable
			for _, s := range []*model.Store{graphStore, nativeStore} {
				if err := s.GetVariable("/optimizers/learning_rate").SetValue(tensors.FromScalar(float32(3e-3))); err != nil {
					t.Fatal(err)
				}
			}
		}
		var grads []*tensors.Tensor
		var args []any
		for _, d := range dims {
			g := random(d...)
			grads, args = append(grads, g), append(args, g)
		}
		if _, err := update.Exec(args...); err != nil {
			t.Fatal(err)
		}
		if err := native.update(nativeVars, grads); err != nil {
			t.Fatal(err)
		}
		n := 0
		for v := range graphStore.IterVariables() {
			n++
			nv := nativeStore.GetVariable(v.Path())
			if nv == nil {
				t.Fatalf("step %d: the native update has no %s", step, v.Path())
			}
			gt, nt := v.MustValue(), nv.MustValue()
			if gt.DType() != nt.DType() || !gt.Shape().Equal(nt.Shape()) {
				t.Fatalf("step %d: %s is %s natively, %s in the graph", step, v.Path(), nt.Shape(), gt.Shape())
			}
			if gt.DType() != dtypes.Float32 {
				if gt.Value() != nt.Value() {
					t.Errorf("step %d: %s = %v natively, %v in the graph", step, v.Path(), nt.Value(), gt.Value())
				}
				continue
			}
			g64 := make([]float64, gt.Shape().Size())
			for i, x := range tensors.MustCopyFlatData[float32](gt) {
				g64[i] = float64(x)
			}
			if _, rel := consistency.Compare(tensors.MustCopyFlatData[float32](nt), g64); rel > 1e-6 {
				t.Errorf("step %d: %s differs by %.3g of its largest value", step, v.Path(), rel)
			}
		}
		if want := 2*len(paths) + 3; n != want { // values, moments, two counters, the rate
			t.Errorf("step %d: the graph's store has %d variables, want %d", step, n, want)
		}
	}
	clipped := model.NewStore()
	clipped.SetParam(optimizer.ParamClipNaN, true)
	if _, ok := nativeRMSpropOK(opt, clipped); ok {
		t.Error("RMSprop runs natively with GoMLX's NaN clipping on")
	}
	if _, ok := nativeRMSpropOK(optimizer.Adam().Done(), model.NewStore()); ok {
		t.Error("Adam runs as native RMSprop")
	}
}
