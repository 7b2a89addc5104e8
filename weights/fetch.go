package weights

import (
	"fmt"
	"strings"

	"github.com/vggnb/vggnb/weights/download"
)

const kerasBase = "https://storage.googleapis.com/tensorflow/keras-applications/"

// Catalog lists the official Keras ImageNet VGG files, with the MD5s
// keras.applications pins (file_hash) and their sizes.
var Catalog = map[string]download.Entry{
	"vgg16": {Name: "vgg16", URL: kerasBase + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels.h5",
		FileName: "vgg16_weights_tf_dim_ordering_tf_kernels.h5", MD5: "64373286793e3c8b2b4e3219cbf3544b", Size: 553467096, Magic: hdf5Signature},
	"vgg16_notop": {Name: "vgg16_notop", URL: kerasBase + "vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
		FileName: "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5", MD5: "6d6bbae143d832006294945121d1f1fc", Size: 58889256, Magic: hdf5Signature},
	"vgg19": {Name: "vgg19", URL: kerasBase + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5",
		FileName: "vgg19_weights_tf_dim_ordering_tf_kernels.h5", MD5: "cbe5617147190e668d6c5d5026f83318", Size: 574710816, Magic: hdf5Signature},
	"vgg19_notop": {Name: "vgg19_notop", URL: kerasBase + "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
		FileName: "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5", MD5: "253f8cb515780f3b799900260a226db6", Size: 80134624, Magic: hdf5Signature},
}

// ImageNet returns the catalog entry for a VGG model with or without its top.
func ImageNet(model string, includeTop bool) (download.Entry, error) {
	key := strings.ToLower(model)
	if !includeTop {
		key += "_notop"
	}
	e, ok := Catalog[key]
	if !ok {
		return download.Entry{}, fmt.Errorf("weights: no ImageNet weights for %q: want vgg16 or vgg19", model)
	}
	return e, nil
}
