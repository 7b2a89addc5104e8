package imagenet

import (
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/internal/python"
	"github.com/vggnb/vggnb/weights"
)

// TestLoadImgMatchesPIL compares LoadImg with what Keras' load_img (PIL) returns
// for PNG (RGB, grey, RGBA, palette), GIF and JPEG files, at their own size and
// resized with every filter: identical bytes, except JPEG, whose decoders differ.
func TestLoadImgMatchesPIL(t *testing.T) {
	if err := torchref.Check(python.FromEnv()); err != nil { // Debian's python3 with PIL (and torch)
		t.Fatal(err)
	}
	py := python.FromEnv()
	dir := t.TempDir()
	if b, err := exec.Command(py, filepath.Join("testdata", "pil_reference.py"), filepath.Join("demo", "chelsea.png"), dir).CombinedOutput(); err != nil {
		t.Fatalf("pil_reference.py: %v\n%s", err, b)
	}
	var cases []struct {
		Image         string
		Size          []int
		Filter        string
		Width, Height int
		File          string
	}
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 30 {
		t.Fatalf("only %d reference cases", len(cases))
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s/%v/%s", c.Image, c.Size, c.Filter)
		var opts []ImgOption
		if c.Size != nil {
			opts = append(opts, TargetSize(c.Size[0], c.Size[1]), Interpolation(Filter(c.Filter)))
		}
		img, err := LoadImg(filepath.Join(dir, c.Image), opts...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if img.Bounds().Dx() != c.Width || img.Bounds().Dy() != c.Height {
			t.Fatalf("%s: size %v, PIL %dx%d", name, img.Bounds().Size(), c.Width, c.Height)
		}
		want, err := os.ReadFile(filepath.Join(dir, c.File))
		if err != nil {
			t.Fatal(err)
		}
		maxDiff, nDiff := 0, 0
		for i := range c.Width * c.Height {
			for ch := range 3 {
				d := int(img.Pix[4*i+ch]) - int(want[3*i+ch])
				d = max(d, -d)
				if d > 0 {
					nDiff++
				}
				maxDiff = max(maxDiff, d)
			}
		}
		limit := 0
		if filepath.Ext(c.Image) == ".jpg" {
			// Go's image/jpeg replicates subsampled chroma where libjpeg interpolates
			// it ("fancy upsampling"); measured up to 14 levels on this photo.
			limit = 16
		}
		if maxDiff > limit {
			t.Errorf("%s: %d of %d values differ from PIL, by up to %d", name, nDiff, 3*c.Width*c.Height, maxDiff)
		} else if maxDiff > 0 {
			t.Logf("%s: %d of %d values differ from PIL (libjpeg), by up to %d", name, nDiff, 3*c.Width*c.Height, maxDiff)
		}
	}
}

// TestToRGB: an RGBA image (premultiplied) converts like any image through
// color.NRGBA64Model, opaque pixels and translucent ones, with the origin
// moved to (0, 0).
func TestToRGB(t *testing.T) {
	src := image.NewRGBA(image.Rect(3, 5, 7, 8))
	for i := range src.Pix {
		src.Pix[i] = uint8(i * 37)
	}
	for i := 3; i < len(src.Pix); i += 4 {
		src.Pix[i] = []uint8{255, 128, 0, 255, 7}[i/4%5]
		for c := range 3 { // premultiplied: no channel above alpha
			src.Pix[i-3+c] = min(src.Pix[i-3+c], src.Pix[i])
		}
	}
	got := toRGB(src)
	if got.Bounds() != image.Rect(0, 0, 4, 3) {
		t.Fatalf("bounds %v, want (0,0)-(4,3)", got.Bounds())
	}
	for y := range 3 {
		for x := range 4 {
			r, g, b := straight(src.At(3+x, 5+y))
			want := color.NRGBA{r, g, b, 255}
			if c := got.NRGBAAt(x, y); c != want {
				t.Errorf("(%d, %d): %v, want %v (from %v)", x, y, c, want, src.At(3+x, 5+y))
			}
		}
	}
}

func TestLoadImgNoResizeAtSameSize(t *testing.T) {
	a, err := DemoImage()
	if err != nil {
		t.Fatal(err)
	}
	if a.Bounds().Dx() != 451 || a.Bounds().Dy() != 300 {
		t.Fatalf("demo image is %v, want 451x300", a.Bounds())
	}
	for _, f := range []Filter{Nearest, Bilinear, Lanczos} {
		b, err := DemoImage(TargetSize(300, 451), Interpolation(f))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(a.Pix, b.Pix) {
			t.Errorf("%s: an image already at the target size was resampled", f)
		}
	}
	if _, err := DemoImage(TargetSize(10, 10), Interpolation("area")); err == nil {
		t.Error("unknown interpolation accepted")
	}
	if _, err := LoadImg("/nonexistent.png"); err == nil {
		t.Error("missing file accepted")
	}
}

func TestPreprocessInput(t *testing.T) {
	// One pixel (R, G, B) = (10, 20, 30) in both layouts.
	last := tensors.FromFlatDataAndDimensions([]float32{10, 20, 30, 40, 50, 60}, 1, 2, 3)
	first := tensors.FromFlatDataAndDimensions([]float32{10, 40, 20, 50, 30, 60}, 3, 1, 2)
	// numpy: float32 array minus a Python float, in float32.
	sub := func(v float32, mean float64) float32 { return v - float32(mean) }
	wantLast := []float32{sub(30, 103.939), sub(20, 116.779), sub(10, 123.68), sub(60, 103.939), sub(50, 116.779), sub(40, 123.68)}
	wantFirst := []float32{sub(30, 103.939), sub(60, 103.939), sub(20, 116.779), sub(50, 116.779), sub(10, 123.68), sub(40, 123.68)}
	for _, c := range []struct {
		x    *tensors.Tensor
		df   weights.DataFormat
		want []float32
	}{{last, weights.ChannelsLast, wantLast}, {first, weights.ChannelsFirst, wantFirst}} {
		got, err := PreprocessInput(c.x, c.df)
		if err != nil {
			t.Fatal(err)
		}
		tensors.ConstFlatData(got, func(v []float32) {
			if !slices.Equal(v, c.want) {
				t.Errorf("%s: %v, want %v", c.df, v, c.want)
			}
		})
	}
	bad := tensors.FromFlatDataAndDimensions([]float32{1, 2, 3, 4}, 1, 2, 2)
	if _, err := PreprocessInput(bad, weights.ChannelsLast); err == nil {
		t.Error("2 channels accepted")
	}
}

// TestPhotoInput: PhotoInput is the bundled photo at the asked size through
// ImageInput, and passes on the loader's error.
func TestPhotoInput(t *testing.T) {
	for _, photo := range []struct {
		name string
		load func(...ImgOption) (*image.NRGBA, error)
	}{{"demo", DemoImage}, {"coffee", CoffeeImage}} {
		t.Run(photo.name, func(t *testing.T) {
			x, err := PhotoInput(photo.load, 30, 40)
			if err != nil {
				t.Fatal(err)
			}
			img, err := photo.load(TargetSize(30, 40))
			if err != nil {
				t.Fatal(err)
			}
			want, err := ImageInput(img, weights.ChannelsLast)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(x.Shape().Dimensions, []int{1, 30, 40, 3}) || !slices.Equal(tensors.MustCopyFlatData[float32](x), tensors.MustCopyFlatData[float32](want)) {
				t.Fatalf("PhotoInput = %s, not ImageInput of the photo at 30x40", x.Shape())
			}
		})
	}
	failing := func(...ImgOption) (*image.NRGBA, error) { return nil, errors.New("no such photo") }
	if _, err := PhotoInput(failing, 30, 40); err == nil || err.Error() != "no such photo" {
		t.Fatalf("PhotoInput with a failing loader: error %v", err)
	}
}

// TestToDataFormat: channels_last to channels_first moves each value to
// np.transpose's place, back again gives x, for a batch and one image; the
// same format is x itself; other ranks are ErrImage.
func TestToDataFormat(t *testing.T) {
	const n, h, w, c = 2, 3, 4, 5
	v := make([]float32, n*h*w*c)
	for i := range v {
		v[i] = float32(i)
	}
	x := tensors.FromFlatDataAndDimensions(v, n, h, w, c)
	first, err := ToDataFormat(x, weights.ChannelsLast, weights.ChannelsFirst)
	if err != nil {
		t.Fatal(err)
	}
	if got := first.Shape().Dimensions; !slices.Equal(got, []int{n, c, h, w}) {
		t.Fatalf("channels_first shape %v", got)
	}
	fv := tensors.MustCopyFlatData[float32](first)
	for _, p := range [][4]int{{0, 0, 0, 0}, {1, 2, 3, 4}, {1, 0, 2, 3}, {0, 1, 1, 2}} {
		i, y, xx, ch := p[0], p[1], p[2], p[3]
		if got, want := fv[((i*c+ch)*h+y)*w+xx], v[((i*h+y)*w+xx)*c+ch]; got != want {
			t.Errorf("x[%d,%d,%d,%d] = %v in channels_first, want %v", i, y, xx, ch, got, want)
		}
	}
	back, err := ToDataFormat(first, weights.ChannelsFirst, weights.ChannelsLast)
	if err != nil || !slices.Equal(tensors.MustCopyFlatData[float32](back), v) || !slices.Equal(back.Shape().Dimensions, []int{n, h, w, c}) {
		t.Errorf("back to channels_last: %v, %v", back, err)
	}
	one := tensors.FromFlatDataAndDimensions(v[:h*w*c], h, w, c)
	img, err := ToDataFormat(one, weights.ChannelsLast, weights.ChannelsFirst)
	if err != nil || !slices.Equal(img.Shape().Dimensions, []int{c, h, w}) || !slices.Equal(tensors.MustCopyFlatData[float32](img), fv[:h*w*c]) {
		t.Errorf("one image: %v, %v", img, err)
	}
	if same, err := ToDataFormat(x, weights.ChannelsLast, weights.ChannelsLast); same != x || err != nil {
		t.Errorf("the same format: %v, %v; want x", same, err)
	}
	if _, err := ToDataFormat(tensors.FromFlatDataAndDimensions(v[:6], 2, 3), weights.ChannelsLast, weights.ChannelsFirst); !errors.Is(err, ErrImage) {
		t.Errorf("rank 2: %v, want ErrImage", err)
	}
}
