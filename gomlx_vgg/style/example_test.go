package style_test

import (
	"fmt"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/style"
	"github.com/vggnb/vggnb/weights"
)

// Paint the demo photograph in the colours of the coffee photograph: Keras'
// example's losses on VGG19 without its top, a few SGD steps on small images.
func Example() {
	path, _, err := weights.ImageNetOrSynthetic("vgg19", false, 1)
	if err != nil {
		panic(err)
	}
	m := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightSource(path)).Notices(nil).MustDone()
	photo, err := imagenet.DemoImage(imagenet.TargetSize(64, 64))
	if err != nil {
		panic(err)
	}
	cup, err := imagenet.CoffeeImage(imagenet.TargetSize(64, 64))
	if err != nil {
		panic(err)
	}
	content, err := imagenet.ImageInput(photo, weights.ChannelsLast)
	if err != nil {
		panic(err)
	}
	styleImg, err := imagenet.ImageInput(cup, weights.ChannelsLast)
	if err != nil {
		panic(err)
	}
	t, err := style.New(m).LearningRate(1000, 100, 0.96).Done(content, styleImg)
	if err != nil {
		panic(err)
	}
	first, err := t.Step()
	if err != nil {
		panic(err)
	}
	var last style.Losses
	for range 4 {
		if last, err = t.Step(); err != nil {
			panic(err)
		}
	}
	picture, err := style.Deprocess(t.Image())
	if err != nil {
		panic(err)
	}
	fmt.Println("steps:", t.Steps())
	fmt.Println("loss fell:", last.Total < first.Total)
	fmt.Println("picture:", picture.Bounds().Dx(), "x", picture.Bounds().Dy())
	// Output:
	// steps: 5
	// loss fell: true
	// picture: 64 x 64
}
