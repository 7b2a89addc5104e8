package transfer_test

import (
	"fmt"

	"github.com/vggnb/vggnb/gomlx_vgg/transfer"
	"github.com/vggnb/vggnb/weights"
)

// The post's model: VGG16 cut at block2_pool, a new head, layers[:7] frozen;
// Keras' summary totals.
func ExampleNewPostModel() {
	path, _, err := weights.ImageNetOrSynthetic("vgg16", false, 1) // SYNTHETIC weights without the network
	if err != nil {
		panic(err)
	}
	s, err := transfer.NewPostModel(path, 1)
	if err != nil {
		panic(err)
	}
	total, trainable := s.CountParams()
	fmt.Println("features:", s.FeatureShape())
	fmt.Println("total params:", total)
	fmt.Println("trainable params:", trainable)
	fmt.Println("non-trainable params:", total-trainable)
	for _, l := range s.Layers()[6:8] {
		fmt.Println(l.Name, l.Class, l.OutputShape, l.Params, l.Trainable)
	}
	// Output:
	// features: [40 40 128]
	// total params: 6251402
	// trainable params: 5991242
	// non-trainable params: 260160
	// block2_pool MaxPooling2D [-1 40 40 128] 0 false
	// conv2d_1 Conv2D [-1 38 38 64] 73792 true
}

// The post's layer surgery: block1's two convolutions replaced by new_conv,
// every later layer frozen with its pretrained weights.
func ExampleNewPostSurgery() {
	path, _, err := weights.ImageNetOrSynthetic("vgg16", true, 1)
	if err != nil {
		panic(err)
	}
	s, err := transfer.NewPostSurgery(path, 1)
	if err != nil {
		panic(err)
	}
	for _, l := range s.Layers()[:4] {
		fmt.Println(l.Name, l.OutputShape, l.Params, l.Trainable)
	}
	_, trainable := s.CountParams()
	fmt.Println("trainable params:", trainable)
	// Output:
	// input_1 [-1 224 224 3] 0 false
	// new_conv [-1 224 224 64] 4864 true
	// block1_pool [-1 112 112 64] 0 false
	// block2_conv1 [-1 112 112 128] 73856 false
	// trainable params: 4864
}
