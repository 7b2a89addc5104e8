package gomlx_vgg_test

import (
	"fmt"
	"io"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers"
	"github.com/gomlx/gomlx/ml/model"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/weights"
)

// The seed's feature extraction: VGG19 without its top on a 200x300 photo,
// block5_pool's shape and its mean as a "hash" of the activations.
func ExampleModel_Outputs() {
	m, err := gomlx_vgg.VGG19().IncludeTop(false).
		Weights(gomlx_vgg.WeightsSynthetic). // offline stand-in; use "imagenet" or a .h5 path
		Notices(io.Discard).Done()
	if err != nil {
		panic(err)
	}
	img, err := imagenet.DemoImage(imagenet.TargetSize(200, 300))
	if err != nil {
		panic(err)
	}
	x, err := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
	if err != nil {
		panic(err)
	}
	outs, err := m.Outputs(imagenet.MustBatch(x), "block5_pool")
	if err != nil {
		panic(err)
	}
	s := gomlx_vgg.StatsOf(outs["block5_pool"])
	fmt.Println("block5_pool", s.Shape, "mean > 0:", s.Mean > 0)
	// Output: block5_pool [1 6 9 512] mean > 0: true
}

// Keras' model.summary() columns.
func ExampleModel_Layers() {
	m := gomlx_vgg.VGG16().Weights(gomlx_vgg.WeightsNone).MustDone()
	for _, l := range m.Layers()[len(m.Layers())-4:] {
		fmt.Printf("%-12s %-8s %v %d\n", l.Name, l.Class, l.OutputShape, l.Params)
	}
	total, _ := m.CountParams()
	fmt.Println("Total params:", total)
	// Output:
	// flatten      Flatten  [-1 25088] 0
	// fc1          Dense    [-1 4096] 102764544
	// fc2          Dense    [-1 4096] 16781312
	// predictions  Dense    [-1 1000] 4097000
	// Total params: 138357544
}

func ExampleModel_Predict() {
	m := gomlx_vgg.VGG16().Weights(gomlx_vgg.WeightsSynthetic).Notices(io.Discard).MustDone()
	img, _ := imagenet.DemoImage(imagenet.TargetSize(224, 224))
	x := imagenet.MustPreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
	preds, err := m.Predict(imagenet.MustBatch(x))
	if err != nil {
		panic(err)
	}
	top, _ := imagenet.DecodePredictions(preds, 5)
	fmt.Println(len(top[0]), "predictions, best first:", top[0][0].Score >= top[0][4].Score)
	// Output: 5 predictions, best first: true
}

// VGG16 as a backbone in the caller's own store: its weights are loaded under
// /vgg16, a GoMLX Dense head is stacked on block5_pool under /head, and one
// executor runs both.
func ExampleBuilder_Scope() {
	store := model.NewStore() // the caller's model
	vgg := gomlx_vgg.VGG16().IncludeTop(false).InputShape(64, 64, 3).Notices(io.Discard).
		Weights(gomlx_vgg.WeightsSynthetic).Scope(store.RootScope().In("vgg16")).MustDone()
	net := model.MustNewExec(vgg.Backend(), store, func(scope *model.Scope, x *graph.Node) *graph.Node {
		features := vgg.Apply(vgg.Scope(), x) // (batch, 2, 2, 512), frozen
		flat := graph.Reshape(features, features.Shape().Dimensions[0], -1)
		return layers.DenseWithBias(scope.In("head"), flat, 10)
	})
	logits := net.MustExec1(tensors.FromShape(shapes.Make(dtypes.Float32, 2, 64, 64, 3)))
	fmt.Println(logits.Shape().Dimensions)
	fmt.Println(store.GetVariable("/vgg16/block1_conv1/kernel").Shape().Dimensions, store.GetVariable("/head/dense/weights").Shape().Dimensions)
	// Output:
	// [2 10]
	// [3 3 3 64] [2048 10]
}
