package imagenet

import (
	"bytes"
	_ "embed" // the demo photograph
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders Keras' load_img (PIL) also opens
	_ "image/jpeg"
	_ "image/png"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/shape"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/internal/pil"
	"github.com/vggnb/vggnb/internal/atomicfile"
	"github.com/vggnb/vggnb/internal/errkind"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

//go:embed demo/chelsea.png
var demoPNG []byte

//go:embed demo/coffee.png
var coffeePNG []byte

// DemoImagePNG returns the bytes of the demo photograph: "Chelsea the cat",
// 451x300, by Stefan van der Walt, CC0 (from scikit-image; see demo/README.md).
func DemoImagePNG() []byte { return bytes.Clone(demoPNG) }

// DemoImageFile returns the path of the demo photograph as a PNG file, written
// once into the vggnb cache: for tools that read files (PIL, PyTorch).
func DemoImageFile() (string, error) { return demoFile("chelsea.png", demoPNG) }

// DemoImage returns the demo photograph, loaded like LoadImg would load it.
func DemoImage(opts ...ImgOption) (*image.NRGBA, error) {
	return DecodeImg(bytes.NewReader(demoPNG), opts...)
}

// CoffeeImage returns the second bundled photograph, loaded like LoadImg would
// load it: "Coffee cup", 600x400, by Rachel Michetti, CC0 (from scikit-image;
// see demo/README.md). Style transfer paints the demo photograph in its colours
// and textures.
func CoffeeImage(opts ...ImgOption) (*image.NRGBA, error) {
	return DecodeImg(bytes.NewReader(coffeePNG), opts...)
}

// CoffeeImageFile is DemoImageFile for CoffeeImage's photograph.
func CoffeeImageFile() (string, error) { return demoFile("coffee.png", coffeePNG) }

// demoFile writes a bundled photograph once into the vggnb cache (atomically)
// and returns its path.
func demoFile(name string, data []byte) (string, error) {
	path := filepath.Join(download.CacheDir(), "demo", name)
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, data) {
		return path, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("gomlx_vgg: demo image: %w", err)
	}
	if err := atomicfile.WriteFile(path, data); err != nil {
		return "", fmt.Errorf("gomlx_vgg: demo image %s: %w", name, err)
	}
	return path, nil
}

// Filter is a resampling filter of LoadImg, as Keras' load_img names them
// (interpolation=...; PIL's filters).
type Filter string

// The filters.
const (
	Nearest  Filter = "nearest"
	Bilinear Filter = "bilinear"
	Bicubic  Filter = "bicubic"
	Lanczos  Filter = "lanczos"
	Box      Filter = "box"
	Hamming  Filter = "hamming"
)

// Filters lists the filters, Keras' order.
func Filters() []Filter { return []Filter{Nearest, Bilinear, Bicubic, Lanczos, Box, Hamming} }

// DefaultMaxPixels is how many pixels LoadImg and DecodeImg accept by default,
// in the decoded image and in the target size: 64 megapixels (8000x8000 is
// 256 MB decoded). Raise it with MaxPixels.
const DefaultMaxPixels = 64_000_000

type imgConfig struct {
	h, w      int
	interp    Filter
	maxPixels int
}

// ImgOption configures LoadImg.
type ImgOption func(*imgConfig)

// TargetSize resizes the image to height x width (Keras target_size=(h, w)).
// An image that already has this size is not resampled.
func TargetSize(height, width int) ImgOption {
	return func(c *imgConfig) { c.h, c.w = height, width }
}

// MaxPixels sets the largest image (width x height, read from the file's header
// before anything is decoded) and target size accepted; default
// DefaultMaxPixels. A larger one is an error that names both numbers.
func MaxPixels(n int) ImgOption {
	return func(c *imgConfig) { c.maxPixels = n }
}

// Interpolation selects the resampling filter: Nearest (Keras' default),
// Bilinear, Bicubic, Lanczos, Box or Hamming. Results are pixel-identical to
// PIL's Image.resize, which Keras' load_img calls.
func Interpolation(f Filter) ImgOption {
	return func(c *imgConfig) { c.interp = Filter(strings.ToLower(string(f))) }
}

// LoadImg reads a JPEG, PNG or GIF file as an RGB image the way Keras'
// load_img(path, target_size, interpolation) does: converted to RGB (alpha
// dropped, grey replicated, palettes expanded), then resized with PIL's exact
// arithmetic when TargetSize is given and differs from the image's size.
//
// JPEG decoding is Go's (image/jpeg): its pixels can differ from libjpeg's (PIL)
// by a few levels; PNG and GIF pixels are identical. Images and target sizes
// over DefaultMaxPixels are refused before decoding (see MaxPixels).
func LoadImg(path string, opts ...ImgOption) (*image.NRGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gomlx_vgg: load_img: %w", err)
	}
	defer f.Close()
	img, err := DecodeImg(f, opts...)
	if err != nil {
		return nil, fmt.Errorf("gomlx_vgg: load_img %s: %w", path, err)
	}
	return img, nil
}

// CheckPixels returns an error naming what, its a x b size and the limit if
// it has more than maxPixels pixels (LoadImg's limit, or a model input's).
// The sizes are compared by division: a*b can overflow (9223372036854775807x2).
func CheckPixels(what string, a, b, maxPixels int) error {
	if a > 0 && b > maxPixels/a {
		return errkind.With(ErrTooManyPixels, fmt.Errorf("%s %dx%d is %s pixels, over the limit of %d (raise it with MaxPixels, or --max-pixels)",
			what, a, b, new(big.Int).Mul(big.NewInt(int64(a)), big.NewInt(int64(b))), maxPixels))
	}
	return nil
}

// DecodeImg is LoadImg reading from r.
func DecodeImg(r io.Reader, opts ...ImgOption) (*image.NRGBA, error) {
	cfg := imgConfig{interp: Nearest, maxPixels: DefaultMaxPixels}
	for _, o := range opts {
		o(&cfg)
	}
	tooBig := func(what string, w, h int) error { return CheckPixels(what, w, h, cfg.maxPixels) }
	if _, ok := filters[cfg.interp]; !ok && cfg.interp != Nearest {
		return nil, fmt.Errorf("gomlx_vgg: interpolation %q: want nearest, bilinear, bicubic, lanczos, box or hamming", cfg.interp)
	}
	if (cfg.h != 0 || cfg.w != 0) && (cfg.h <= 0 || cfg.w <= 0) {
		return nil, fmt.Errorf("gomlx_vgg: target size %dx%d must be positive", cfg.h, cfg.w)
	}
	if err := tooBig("gomlx_vgg: target size", cfg.w, cfg.h); err != nil {
		return nil, err
	}
	// The header first: an 8000x8000 PNG of a few hundred KB must not be decoded
	// into gigabytes before it is refused.
	var header bytes.Buffer
	conf, _, err := image.DecodeConfig(io.TeeReader(r, &header))
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	if err := tooBig("image", conf.Width, conf.Height); err != nil {
		return nil, err
	}
	src, _, err := image.Decode(io.MultiReader(&header, r))
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	img := toRGB(src)
	if cfg.h == 0 {
		return img, nil
	}
	return resize(img, cfg.h, cfg.w, cfg.interp), nil
}

// resize is PIL's resize of an RGB image to height x width with a known filter.
func resize(img *image.NRGBA, height, width int, filter Filter) *image.NRGBA {
	b := img.Bounds()
	switch {
	case b.Dx() == width && b.Dy() == height:
		return img
	case filter == Nearest:
		return pil.ResizeNearest(img, width, height)
	}
	return pil.Resample(img, width, height, filters[filter])
}

// ResizeImg converts img to RGB and resizes it to height x width with filter,
// as Keras' load_img(target_size=..., interpolation=...) does after reading a
// file (PIL's resize); for images that come from memory (a dataset's arrays).
func ResizeImg(img image.Image, height, width int, filter Filter) (*image.NRGBA, error) {
	if height <= 0 || width <= 0 {
		return nil, fmt.Errorf("gomlx_vgg: target size %dx%d must be positive", height, width)
	}
	if _, ok := filters[filter]; !ok && filter != Nearest {
		return nil, fmt.Errorf("gomlx_vgg: interpolation %q: want nearest, bilinear, bicubic, lanczos, box or hamming", filter)
	}
	return resize(toRGB(img), height, width, filter), nil
}

// toRGB converts like PIL's convert("RGB"): straight (not premultiplied) colour,
// alpha dropped, opaque result with origin (0, 0).
func toRGB(src image.Image) *image.NRGBA {
	b := src.Bounds()
	out := image.NewNRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		o := (y - b.Min.Y) * out.Stride
		for x := b.Min.X; x < b.Max.X; x++ {
			var r, g, bl uint8
			switch im := src.(type) {
			case *image.NRGBA:
				p := im.PixOffset(x, y)
				r, g, bl = im.Pix[p], im.Pix[p+1], im.Pix[p+2]
			case *image.RGBA: // image/png's RGB photographs: opaque, so straight
				p := im.PixOffset(x, y)
				if im.Pix[p+3] != 255 {
					r, g, bl = straight(im.RGBAAt(x, y))
					break
				}
				r, g, bl = im.Pix[p], im.Pix[p+1], im.Pix[p+2]
			case *image.Gray:
				v := im.GrayAt(x, y).Y
				r, g, bl = v, v, v
			case *image.Gray16:
				// PIL opens 16-bit grey PNGs in mode "I" (32-bit integers), and
				// convert("RGB") clips those to 0..255 rather than scaling.
				v := uint8(min(im.Gray16At(x, y).Y, 255))
				r, g, bl = v, v, v
			case *image.YCbCr:
				c := im.YCbCrAt(x, y)
				r, g, bl = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			default:
				r, g, bl = straight(src.At(x, y))
			}
			out.Pix[o], out.Pix[o+1], out.Pix[o+2], out.Pix[o+3] = r, g, bl, 255
			o += 4
		}
	}
	return out
}

// straight is c's straight (not premultiplied) colour, 8 bits a channel.
func straight(c color.Color) (r, g, b uint8) {
	n := color.NRGBA64Model.Convert(c).(color.NRGBA64)
	return uint8(n.R >> 8), uint8(n.G >> 8), uint8(n.B >> 8)
}

// filters maps Keras' interpolation names to PIL's filters (Nearest is a
// separate path, as in PIL).
var filters = map[Filter]pil.Filter{
	Box: pil.Box, Bilinear: pil.Bilinear, Hamming: pil.Hamming, Bicubic: pil.Bicubic, Lanczos: pil.Lanczos,
}

// ImgToArray converts an image to a float32 tensor of RGB values in [0, 255]:
// (height, width, 3) for channels_last, (3, height, width) for channels_first
// (Keras img_to_array). A nil image gives a nil tensor.
func ImgToArray(img image.Image, df weights.DataFormat) *tensors.Tensor {
	if img == nil {
		return nil // PreprocessInput and Batch then say so
	}
	rgb, ok := img.(*image.NRGBA)
	if !ok || rgb.Bounds().Min != (image.Point{}) {
		rgb = toRGB(img)
	}
	w, h := rgb.Bounds().Dx(), rgb.Bounds().Dy()
	dims := []int{h, w, 3}
	if df == weights.ChannelsFirst {
		dims = []int{3, h, w}
	}
	t := tensors.FromShape(shapes.Make(dtypes.Float32, dims...))
	tensors.MutableFlatData(t, func(v []float32) {
		for y := range h {
			for x := range w {
				p := rgb.Pix[y*rgb.Stride+4*x:]
				for c := range 3 {
					if df == weights.ChannelsFirst {
						v[(c*h+y)*w+x] = float32(p[c])
					} else {
						v[(y*w+x)*3+c] = float32(p[c])
					}
				}
			}
		}
	})
	return t
}

// CaffeMean is the per-channel ImageNet mean, in BGR order, that Keras'
// preprocess_input(mode="caffe") subtracts (VGG's preprocessing).
var CaffeMean = [3]float32{103.939, 116.779, 123.68}

// PreprocessInput is Keras' vgg16/vgg19 preprocess_input (caffe mode) on RGB
// values in [0, 255]: channels reordered to BGR, then CaffeMean subtracted, in
// float32 like numpy. x has rank 3 or 4 with channels last or first as df says;
// a new tensor is returned.
func PreprocessInput(x *tensors.Tensor, df weights.DataFormat) (*tensors.Tensor, error) {
	if x == nil {
		return nil, errors.New("gomlx_vgg: preprocess_input of a nil tensor")
	}
	dims := x.Shape().Dimensions
	if x.DType() != dtypes.Float32 || (len(dims) != 3 && len(dims) != 4) {
		return nil, fmt.Errorf("gomlx_vgg: preprocess_input wants a float32 image or batch (rank 3 or 4), got %s", x.Shape())
	}
	chAxis := len(dims) - 1
	if df == weights.ChannelsFirst {
		chAxis = len(dims) - 3
	}
	if dims[chAxis] != 3 {
		return nil, fmt.Errorf("gomlx_vgg: preprocess_input wants 3 channels on axis %d (%s), got shape %v", chAxis, df, dims)
	}
	inner := 1
	for _, d := range dims[chAxis+1:] {
		inner *= d
	}
	out := tensors.FromShape(x.Shape())
	tensors.ConstFlatData(x, func(src []float32) {
		tensors.MutableFlatData(out, func(dst []float32) {
			block := 3 * inner
			for base := 0; base < len(src); base += block {
				for c := range 3 {
					s := src[base+(2-c)*inner:][:inner]
					d := dst[base+c*inner:][:inner]
					for i, v := range s {
						d[i] = v - CaffeMean[c]
					}
				}
			}
		})
	})
	return out, nil
}

// ImageInput is a loaded image as VGG takes it: ImgToArray, PreprocessInput
// (caffe) and a batch of one, (1, H, W, 3) or (1, 3, H, W) as df says.
func ImageInput(img image.Image, df weights.DataFormat) (*tensors.Tensor, error) {
	x, err := PreprocessInput(ImgToArray(img, df), df)
	if err != nil {
		return nil, err
	}
	return Batch(x)
}

// PhotoInput is ImageInput, channels_last, of a bundled photograph (DemoImage
// or CoffeeImage) loaded at height x width: VGG's input, a batch of one.
func PhotoInput(photo func(...ImgOption) (*image.NRGBA, error), height, width int) (*tensors.Tensor, error) {
	img, err := photo(TargetSize(height, width))
	if err != nil {
		return nil, err
	}
	return ImageInput(img, weights.ChannelsLast)
}

// MustPreprocessInput is PreprocessInput for inputs known to be valid; it panics otherwise.
func MustPreprocessInput(x *tensors.Tensor, df weights.DataFormat) *tensors.Tensor {
	t, err := PreprocessInput(x, df)
	if err != nil {
		panic(err)
	}
	return t
}

// Batch stacks images of the same shape (each (H, W, C) or (C, H, W), as
// ImgToArray returns) into one batch tensor (N, ...), like np.stack / expand_dims.
func Batch(images ...*tensors.Tensor) (*tensors.Tensor, error) {
	if len(images) == 0 {
		return nil, errkind.With(ErrImage, errors.New("imagenet: Batch of no images"))
	}
	for i, im := range images {
		if im == nil {
			return nil, errkind.With(ErrImage, fmt.Errorf("imagenet: Batch: image %d is nil", i))
		}
	}
	dims := images[0].Shape().Dimensions
	size := images[0].Size()
	out := tensors.FromShape(shapes.Make(dtypes.Float32, append([]int{len(images)}, dims...)...))
	var err error
	tensors.MutableFlatData(out, func(dst []float32) {
		for i, im := range images {
			if !slices.Equal(im.Shape().Dimensions, dims) || im.DType() != dtypes.Float32 {
				err = errkind.With(ErrImage, fmt.Errorf("imagenet: Batch: image %d has shape %s, image 0 has (Float32)%v", i, im.Shape(), dims))
				return
			}
			tensors.ConstFlatData(im, func(src []float32) { copy(dst[i*size:], src) })
		}
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MustBatch is Batch for images known to have one shape; it panics otherwise.
func MustBatch(images ...*tensors.Tensor) *tensors.Tensor {
	t, err := Batch(images...)
	if err != nil {
		panic(err)
	}
	return t
}

// ToDataFormat returns the float32 image (rank 3) or batch of images (rank 4)
// x, laid out in from, in the layout to: NumPy's np.transpose(x, (0, 3, 1, 2))
// from channels_last to channels_first, (0, 2, 3, 1) back. x itself where
// the formats are the same; an error of kind ErrImage for another rank or
// dtype.
func ToDataFormat(x *tensors.Tensor, from, to weights.DataFormat) (*tensors.Tensor, error) {
	if x == nil || x.DType() != dtypes.Float32 || (x.Rank() != 3 && x.Rank() != 4) {
		return nil, errkind.With(ErrImage, fmt.Errorf("imagenet: ToDataFormat: want a float32 image or batch of images, got %v", shape.Of(x)))
	}
	if from == to {
		return x, nil
	}
	d := x.Shape().Dimensions
	if x.Rank() == 3 {
		d = append([]int{1}, d...)
	}
	// (n, a, b, c) -> (n, c, a, b) to channels_first; (n, a, b, c) -> (n, b, c, a) back.
	n, a, b, c := d[0], d[1], d[2], d[3]
	out := make([]float32, x.Size())
	tensors.ConstFlatData(x, func(v []float32) {
		for i := range n {
			for p := range a {
				for q := range b {
					for r := range c {
						src := ((i*a+p)*b+q)*c + r
						if to == weights.ChannelsFirst {
							out[((i*c+r)*a+p)*b+q] = v[src]
						} else {
							out[((i*b+q)*c+r)*a+p] = v[src]
						}
					}
				}
			}
		}
	})
	dims := []int{n, c, a, b}
	if to != weights.ChannelsFirst {
		dims = []int{n, b, c, a}
	}
	if x.Rank() == 3 {
		dims = dims[1:]
	}
	return tensors.FromFlatDataAndDimensions(out, dims...), nil
}
