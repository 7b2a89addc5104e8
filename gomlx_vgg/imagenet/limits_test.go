package imagenet

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"runtime"
	"strings"
	"testing"

	"github.com/vggnb/vggnb/internal/hugepng"
)

// TestDecodeImgLimits: images and target sizes over the pixel limit are refused
// from the header, before any decoding allocates their pixels.
func TestDecodeImgLimits(t *testing.T) {
	// A real, small file (a few hundred KB) that decodes to 8001x8000 pixels.
	var big bytes.Buffer
	if err := png.Encode(&big, image.NewGray(image.Rect(0, 0, 8001, 8000))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		opts []ImgOption
		want string
	}{
		{"60000x60000 header", hugepng.New(60000, 60000), nil, "image 60000x60000 is 3600000000 pixels, over the limit of 64000000"},
		{"8001x8000 png", big.Bytes(), nil, "image 8001x8000"},
		{"target 100000x100000", DemoImagePNG(), []ImgOption{TargetSize(100000, 100000)}, "target size 100000x100000"},
		{"lower limit", DemoImagePNG(), []ImgOption{MaxPixels(1000)}, "image 451x300 is 135300 pixels, over the limit of 1000"},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := DecodeImg(bytes.NewReader(c.data), c.opts...)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTooManyPixels) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrTooManyPixels containing %q", c.name, err, c.want)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("%s: refusing it allocated %d MB", c.name, alloc>>20)
		}
	}
	// Raised, the same 8001x8000 file decodes.
	img, err := DecodeImg(bytes.NewReader(big.Bytes()), MaxPixels(65_000_000))
	if err != nil || img.Bounds().Dx() != 8001 {
		t.Errorf("with MaxPixels(65e6): %v", err)
	}
}
