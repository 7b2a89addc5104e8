package display

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
)

// Jet is matplotlib's "jet" colour map at v in [0, 1] (clamped): dark blue,
// blue, cyan, yellow, red, dark red.
func Jet(v float64) (r, g, b float64) {
	v = math.Min(math.Max(v, 0), 1)
	c := func(x float64) float64 { return math.Min(math.Max(1.5-math.Abs(4*v-x), 0), 1) }
	return c(3), c(2), c(1)
}

// GradCAMOverlay draws a Grad-CAM heat map (rows of values in [0, 1], e.g.
// gradcam.Map.Heat) over img as Keras' Grad-CAM example does: the map in the jet
// colours, scaled to the image's size (bilinear), times alpha (0.4 there) plus
// the image, the sum rescaled to 0..255 by its minimum and maximum.
func GradCAMOverlay(img image.Image, heat [][]float64, alpha float64) (PNG, error) {
	if len(heat) == 0 || len(heat[0]) == 0 {
		return nil, errors.New("display: GradCAMOverlay: empty heat map")
	}
	for _, row := range heat {
		if len(row) != len(heat[0]) {
			return nil, errors.New("display: GradCAMOverlay: heat map rows of different lengths")
		}
	}
	bnd := img.Bounds()
	w, h := bnd.Dx(), bnd.Dy()
	if w == 0 || h == 0 {
		return nil, fmt.Errorf("display: GradCAMOverlay: empty image %v", bnd)
	}
	sum := make([]float64, 3*w*h)
	lo, hi := math.Inf(1), math.Inf(-1)
	for y := range h {
		for x := range w {
			r, g, b := Jet(bilinear(heat, (float64(x)+0.5)/float64(w), (float64(y)+0.5)/float64(h)))
			pr, pg, pb, _ := img.At(bnd.Min.X+x, bnd.Min.Y+y).RGBA()
			i := 3 * (y*w + x)
			sum[i] = 255*r*alpha + float64(pr>>8)
			sum[i+1] = 255*g*alpha + float64(pg>>8)
			sum[i+2] = 255*b*alpha + float64(pb>>8)
			for _, v := range sum[i : i+3] {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	scale := 255 / math.Max(hi-lo, 1e-12)
	out := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			i := 3 * (y*w + x)
			q := func(v float64) uint8 { return uint8(math.Round((v - lo) * scale)) }
			out.SetNRGBA(x, y, color.NRGBA{q(sum[i]), q(sum[i+1]), q(sum[i+2]), 255})
		}
	}
	return encodePNG(out)
}

// HeatMap draws a heat map (values in [0, 1]) in the jet colours, each value a
// px x px square.
func HeatMap(heat [][]float64, px int) (PNG, error) {
	if len(heat) == 0 || len(heat[0]) == 0 || px <= 0 {
		return nil, errors.New("display: HeatMap: empty heat map or no pixel size")
	}
	out := image.NewNRGBA(image.Rect(0, 0, len(heat[0])*px, len(heat)*px))
	for y, row := range heat {
		for x, v := range row {
			r, g, b := Jet(v)
			c := color.NRGBA{uint8(math.Round(255 * r)), uint8(math.Round(255 * g)), uint8(math.Round(255 * b)), 255}
			for dy := range px {
				for dx := range px {
					out.SetNRGBA(x*px+dx, y*px+dy, c)
				}
			}
		}
	}
	return encodePNG(out)
}

// bilinear samples the grid m at (u, v) in [0, 1]^2, cell centres at (i+0.5)/n.
func bilinear(m [][]float64, u, v float64) float64 {
	rows, cols := len(m), len(m[0])
	fy, fx := v*float64(rows)-0.5, u*float64(cols)-0.5
	y0, x0 := int(math.Floor(fy)), int(math.Floor(fx))
	ty, tx := fy-float64(y0), fx-float64(x0)
	at := func(y, x int) float64 { return m[min(max(y, 0), rows-1)][min(max(x, 0), cols-1)] }
	top := at(y0, x0)*(1-tx) + at(y0, x0+1)*tx
	bottom := at(y0+1, x0)*(1-tx) + at(y0+1, x0+1)*tx
	return top*(1-ty) + bottom*ty
}

func encodePNG(img image.Image) (PNG, error) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("display: %w", err)
	}
	return PNG(buf.Bytes()), nil
}
