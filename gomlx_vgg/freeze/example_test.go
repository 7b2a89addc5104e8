package freeze_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/adapt"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/weights"
)

// Freezing VGG16 cut at block2_pool into one ONNX file, reading it back, and
// running it in GoMLX: the library behind `vggnb freeze`.
func ExampleNet_WriteFile() {
	m, err := gomlx_vgg.VGG16().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Notices(os.Stderr).Done()
	if err != nil {
		panic(err)
	}
	if m, err = m.Truncate("block2_pool"); err != nil {
		panic(err)
	}
	net, err := adapt.VGG(m)
	if err != nil {
		panic(err)
	}
	dir, _ := os.MkdirTemp("", "freeze-example-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "vgg16_block2.onnx")
	if err := net.WriteFile(path); err != nil {
		panic(err)
	}
	f, err := freeze.Open(path)
	if err != nil {
		panic(err)
	}
	fmt.Println("input: ", f.Input)
	fmt.Println("output:", f.Output)
	runner, err := f.Runner(nil)
	if err != nil {
		panic(err)
	}
	img := must(imagenet.DemoImage(imagenet.TargetSize(64, 96)))
	x := imagenet.MustBatch(imagenet.MustPreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast))
	y, err := runner.Run(x)
	if err != nil {
		panic(err)
	}
	fmt.Println("block2_pool of a 64x96 photo:", y.Shape().Dimensions)
	// `vggnb serve` serves such a file: serve.New(runner, serve.Config{}).Serve(ctx, listener, grace).

	// Output:
	// input:  input_1 float32 (N, H, W, 3)
	// output: block2_pool float32 (N, ?, ?, 128)
	// block2_pool of a 64x96 photo: [1 16 24 128]
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
