// Package nb02 is the source of notebooks/02_mnist_mlp.ipynb: the seed's MNIST
// MLP in Go. go run ./notebooks/gen writes the notebook from it; the //gonb:
// comments mark its cells (see notebooks/gen).
//
//gonb:notebook 02_mnist_mlp.ipynb
package nb02

//gonb:markdown
/*
# The seed's MNIST MLP in Go: learning phase, scopes, sharing, batch norm, freezing, devices

*"Keras as a simplified interface to TensorFlow"* trains `Dense(128, relu) → Dense(128, relu) → Dense(10, softmax)`
with SGD (learning rate 0.5, batches of 50) and uses it to show what happens around a model. This notebook does
the same in Go with GoMLX, on **Fashion-MNIST** from Debian's `dataset-fashion-mnist` (offline; MNIST itself is
downloaded with pinned hashes by `mlp.LoadMNIST` where there is network).
*/

//gonb:goget

//gonb:code
import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute/gobackend"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
)

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func data() (train, test *mlp.Dataset) {
	train, test, err := mlp.LoadFashionMNIST("")
	must(err)
	return train, test
}

func flat(t *tensors.Tensor) (v []float32) {
	tensors.ConstFlatData(t, func(f []float32) { v = slices.Clone(f) })
	return
}

//gonb:main same-cell
func _() {
	train, test := data()
	fmt.Printf("%s: %d examples of %dx%d; %s: %d\n", train.Name, train.Len(), train.Rows, train.Cols, test.Name, test.Len())
	fmt.Println("classes:", strings.Join(mlp.FashionMNISTClasses, ", "))
}

//gonb:markdown
/*
## 1. The seed's schedule: 100 steps

Exactly the seed: learning rate 0.5, batches of 50, 100 steps. The accuracy is what 5,000 examples buy.
*/

//gonb:main
func _() {
	train, test := data()
	m := mlp.New(mlp.Config{}, nil)
	loss, err := m.Train(train, mlp.SeedScheduleSteps, nil, nil, 0, nil)
	must(err)
	acc, err := m.Accuracy(test)
	must(err)
	fmt.Printf("after %d steps: loss %.4f, test accuracy %.4f\n", m.Steps(), loss, acc)
}

//gonb:markdown
/*
## 2. The full schedule, with a live plot

15 epochs, with the learning rate going from 0.1 to 0.001 along a cosine (the seed's 0.5 is tuned for MNIST;
on Fashion-MNIST it stays near 0.88). The plot redraws in place while it trains; in a terminal, `Train` draws a
progress bar instead.
*/

//gonb:main
func _() {
	train, test := data()
	m := mlp.New(mlp.FullSchedule(), nil)
	plot := display.NewLivePlot("Fashion-MNIST, MLP 128-128")
	_, err := m.Train(train, mlp.FullScheduleSteps, nil, test, 1200, func(step, total int, loss float32, acc float64) {
		if step%100 == 0 {
			plot.Add("train loss", float64(step), float64(loss))
		}
		if acc >= 0 {
			plot.Add("test accuracy", float64(step), acc)
		}
		if step%1200 == 0 {
			plot.Update()
		}
	})
	must(err)
	acc, err := m.Accuracy(test)
	must(err)
	fmt.Printf("after %d steps: test accuracy %.4f (the dataset's README lists 0.8833 for an MLP 256-128-100)\n", m.Steps(), acc)
	if acc < 0.88 {
		panic(fmt.Sprintf("full schedule reached only %.4f", acc))
	}
}

//gonb:markdown
/*
## 3. The learning phase

Keras' `K.learning_phase()` switched dropout on for training and off for evaluation. In GoMLX the phase belongs
to the graph (`store.SetTraining(g, ...)`): with dropout 0.5 the training-phase outputs change from call to call,
the evaluation-phase ones never do. `Predict` and `Accuracy` always evaluate.
*/

//gonb:main
func _() {
	train, _ := data()
	m := mlp.New(mlp.Config{Dropout: 0.5}, nil)
	x := tensors.FromFlatDataAndDimensions(slices.Clone(train.Images[:4*784]), 4, 784)
	logits := func(training bool) []float32 {
		return flat(model.MustExecOnce(m.Backend(), m.Store(), func(scope *model.Scope, x *graph.Node) *graph.Node {
			m.Store().SetTraining(x.Graph(), training)
			return m.Logits(scope, x)
		}, x))
	}
	fmt.Println("evaluation phase, two calls equal:", slices.Equal(logits(false), logits(false)))
	fmt.Println("training phase, two calls equal:  ", slices.Equal(logits(true), logits(true)))
}

//gonb:markdown
/*
## 4. Scopes and weight sharing

Variables live under scope names, like TensorFlow's `name_scope`. Applying the same named layer to two inputs
shares its weights — one kernel and one bias, however many inputs.
*/

//gonb:main
func _() {
	store := model.NewStore()
	a := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3)
	b := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3}, 1, 3)
	outs := model.MustExecOnceN(gobackend.GetBackend(), store, func(scope *model.Scope, x, y *graph.Node) []*graph.Node {
		return []*graph.Node{mlp.Dense(scope, "shared", x, 2), mlp.Dense(scope, "shared", y, 2)}
	}, a, b)
	for v := range store.IterVariables() {
		if strings.HasPrefix(v.Path(), "/shared/") {
			fmt.Println("variable", v.Path(), v.Shape())
		}
	}
	fmt.Println("same output for the same input:", slices.Equal(flat(outs[0]), flat(outs[1])))
}

//gonb:markdown
/*
## 5. Batch normalisation's moving statistics

Batch norm keeps moving averages of the mean and variance. Training steps update them; evaluation only reads them.
*/

//gonb:main
func _() {
	train, test := data()
	m := mlp.New(mlp.Config{BatchNorm: true}, nil)
	_, err := m.Train(train, 10, nil, nil, 0, nil)
	must(err)
	mean := func() []float32 { return flat(m.Store().GetVariable("/batch_normalization_1/mean").MustValue()) }
	before := mean()
	_, err = m.Accuracy(test)
	must(err)
	fmt.Println("unchanged by evaluation:", slices.Equal(before, mean()))
	_, err = m.Train(train, 1, nil, nil, 0, nil)
	must(err)
	fmt.Println("changed by a training step:", !slices.Equal(before, mean()))
}

//gonb:markdown
/*
## 6. Trainable weights and freezing

The trainable variables, with their scope names; freezing `dense_1` keeps its values through training while the
rest keeps learning.
*/

//gonb:main
func _() {
	train, _ := data()
	m := mlp.New(mlp.Config{}, nil)
	_, err := m.Train(train, 10, nil, nil, 0, nil)
	must(err)
	for _, v := range m.TrainableVariables() {
		fmt.Println("trainable", v)
	}
	must(m.Freeze("dense_1", true))
	var first, second string
	for v := range m.Store().IterVariables() {
		if v.Shape().Rank() == 2 && strings.HasPrefix(v.Path(), "/dense_1/") {
			first = v.Path()
		}
		if v.Shape().Rank() == 2 && strings.HasPrefix(v.Path(), "/dense_2/") {
			second = v.Path()
		}
	}
	k1, k2 := flat(m.Store().GetVariable(first).MustValue()), flat(m.Store().GetVariable(second).MustValue())
	_, err = m.Train(train, 50, nil, nil, 0, nil)
	must(err)
	fmt.Println("frozen dense_1 unchanged:", slices.Equal(k1, flat(m.Store().GetVariable(first).MustValue())))
	fmt.Println("dense_2 trained:", !slices.Equal(k2, flat(m.Store().GetVariable(second).MustValue())))
}

//gonb:markdown
/*
## 7. Several devices

The seed replicated the model on several GPUs. GoMLX does that on backends with several devices (XLA with several
GPUs); the pure-Go backend has one, and says so.
*/

//gonb:main
func _() {
	fmt.Println(mlp.New(mlp.Config{}, nil).Devices())
}
