package weights_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// Describe the layers Keras' VGG19(include_top=False) has and count its parameters.
func ExampleVGG() {
	spec, err := weights.VGG("vgg19", false, 0)
	if err != nil {
		panic(err)
	}
	params := 0
	for _, l := range spec.Weighted() {
		for _, s := range l.Shapes {
			params += weights.Size(s)
		}
	}
	fmt.Println(spec, len(spec.Layers), "layers,", params, "parameters")
	fmt.Println(spec.Layers[len(spec.Layers)-1].Name)
	// Output:
	// vgg19(include_top=False) 21 layers, 20024384 parameters
	// block5_pool
}

// Load a Keras weight file of any generation, checked against the model and
// converted to channels_last. Here the file is written first, with synthetic weights.
func ExampleLoadVGG() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	spec := weights.MustVGG("vgg16", false, 0)
	path := filepath.Join(dir, "vgg16_notop.h5")
	if err := weights.WriteKeras2(path, weights.Synthetic(spec, 1)); err != nil {
		panic(err)
	}
	f, err := weights.LoadVGG(path, spec, weights.WithCacheDir(filepath.Join(dir, "cache")))
	if err != nil {
		panic(err)
	}
	conv := f.Layer("block5_conv3")
	fmt.Println(f.Format, conv.Weights[0].Name, conv.Weights[0].Shape, conv.Weights[1].Shape)
	// Output:
	// Keras 2 full model kernel [3 3 512 512] [512]
}

// Fetch the official Keras file, or explain where to put it when offline.
func ExampleFetch() {
	e, _ := weights.ImageNet("vgg19", false)
	path, err := download.Fetch(context.Background(), e, download.WithProgress(os.Stderr))
	if err != nil {
		fmt.Println(err) // names the URL and the path to place the file at by hand
		return
	}
	fmt.Println(path)
}
