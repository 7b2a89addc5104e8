// Package imagenet is what goes into a VGG and comes out of it, as Keras
// writes it: load_img (LoadImg, DecodeImg, with PIL's resampling filters,
// pixel for pixel), img_to_array (ImgToArray), imagenet_utils'
// preprocess_input in caffe mode (PreprocessInput) and decode_predictions
// (DecodePredictions, with Keras' 1000 ImageNet classes), np.stack (Batch),
// and the two bundled CC0 photographs (DemoImage, CoffeeImage; sources and
// licences in demo/README.md).
//
// Images are bounded: a file or a target size over MaxPixels (64 megapixels
// by default) is refused from its header, before decoding (ErrTooManyPixels).
package imagenet
