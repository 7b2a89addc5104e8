package mlp_test

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gomlx/compute/gobackend"

	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
)

// The seed's MLP (Dense 128-128-10, SGD) on a small synthetic dataset: a few
// steps of plain SGD, the trainable variables, and freezing a layer.
func ExampleModel_TrainStep() {
	d := &mlp.Dataset{Name: "toy", Rows: 28, Cols: 28, Images: make([]float32, 100*784), Labels: make([]uint8, 100)}
	for i := range d.Labels {
		d.Labels[i] = uint8(i % 10)
		for j := range 784 { // each class lights its own band of pixels
			if j/78 == i%10 {
				d.Images[i*784+j] = 1
			}
		}
	}
	m := mlp.New(mlp.Config{Seed: 1}, gobackend.GetBackend())
	batch := make([]int, 50)
	var first, last float32
	for step := range 40 {
		for i := range batch {
			batch[i] = (step*50 + i) % d.Len()
		}
		loss, err := m.TrainStep(d, batch)
		if err != nil {
			panic(err)
		}
		if step == 0 {
			first = loss
		}
		last = loss
	}
	fmt.Println("loss fell:", last < first/2)
	vars := m.TrainableVariables()
	slices.Sort(vars)
	fmt.Println(strings.Join(vars, "\n"))
	if err := m.Freeze("dense_1", true); err != nil {
		panic(err)
	}
	fmt.Println(len(m.TrainableVariables()), "trainable after freezing dense_1")
	// Output:
	// loss fell: true
	// /dense_1/dense/biases [128]
	// /dense_1/dense/weights [784 128]
	// /dense_2/dense/biases [128]
	// /dense_2/dense/weights [128 128]
	// /dense_3/dense/biases [10]
	// /dense_3/dense/weights [128 10]
	// 4 trainable after freezing dense_1
}
