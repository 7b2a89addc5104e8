package display

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/gomlx/gomlx/core/tensors"
)

type gridConfig struct {
	channels, cols, tile, maxTile int
	global                        bool
}

// GridOption configures ActivationGrid.
type GridOption func(*gridConfig)

// Channels shows the first n channels (default 64).
func Channels(n int) GridOption { return func(c *gridConfig) { c.channels = n } }

// Columns sets the number of tiles per row (default 8).
func Columns(n int) GridOption { return func(c *gridConfig) { c.cols = n } }

// TileSize sets the minimum tile side in pixels; small maps are enlarged by an
// integer factor, without smoothing (default 64).
func TileSize(px int) GridOption { return func(c *gridConfig) { c.tile = px } }

// MaxTileSize sets the largest tile side in pixels; larger maps are subsampled
// (every k-th pixel) to fit (default 96), which keeps grids of early layers small.
func MaxTileSize(px int) GridOption { return func(c *gridConfig) { c.maxTile = px } }

// GlobalScale uses one colour scale (the layer's min..max) for all tiles instead
// of one per channel, so channels can be compared with each other.
func GlobalScale() GridOption { return func(c *gridConfig) { c.global = true } }

// ActivationGrid tiles the channels of the first image of a channels_last
// activation (batch, height, width, channels) into one PNG, coloured with the
// viridis colour map (dark: low, yellow: high).
func ActivationGrid(t *tensors.Tensor, opts ...GridOption) (PNG, error) {
	cfg := gridConfig{channels: 64, cols: 8, tile: 64, maxTile: 96}
	for _, o := range opts {
		o(&cfg)
	}
	d := t.Shape().Dimensions
	if len(d) != 4 {
		return nil, fmt.Errorf("display: activation grid needs a (batch, height, width, channels) activation, got shape %v", d)
	}
	h, w, c := d[1], d[2], d[3]
	n := min(cfg.channels, c)
	cols := min(cfg.cols, n)
	rows := (n + cols - 1) / cols
	scale := max(1, cfg.tile/max(h, w))
	step := max(1, (max(h, w)+cfg.maxTile-1)/cfg.maxTile)
	th, tw := (h+step-1)/step*scale, (w+step-1)/step*scale // tile size in pixels
	const gap = 2
	img := image.NewRGBA(image.Rect(0, 0, cols*(tw+gap)+gap, rows*(th+gap)+gap))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	tensors.ConstFlatData(t, func(v []float32) {
		glo, ghi := math.Inf(1), math.Inf(-1)
		for _, x := range v[:h*w*c] {
			glo, ghi = math.Min(glo, float64(x)), math.Max(ghi, float64(x))
		}
		for ch := range n {
			lo, hi := glo, ghi
			if !cfg.global {
				lo, hi = math.Inf(1), math.Inf(-1)
				for p := range h * w {
					x := float64(v[p*c+ch])
					lo, hi = math.Min(lo, x), math.Max(hi, x)
				}
			}
			ox := gap + (ch%cols)*(tw+gap)
			oy := gap + (ch/cols)*(th+gap)
			for y := 0; y < h; y += step {
				for x := 0; x < w; x += step {
					f := 0.0
					if hi > lo {
						f = (float64(v[(y*w+x)*c+ch]) - lo) / (hi - lo)
					}
					col := viridis(f)
					for dy := range scale {
						for dx := range scale {
							img.SetRGBA(ox+x/step*scale+dx, oy+y/step*scale+dy, col)
						}
					}
				}
			}
		}
	})
	return encodePNG(img)
}

// viridisStops are matplotlib's viridis at 0, 1/8, ..., 1.
var viridisStops = [9][3]float64{
	{68, 1, 84}, {71, 44, 122}, {59, 81, 139}, {44, 113, 142}, {33, 144, 141},
	{39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37},
}

// viridis maps f in [0, 1] to a colour.
func viridis(f float64) color.RGBA {
	f = math.Max(0, math.Min(1, f)) * 8
	i := min(int(f), 7)
	t := f - float64(i)
	a, b := viridisStops[i], viridisStops[i+1]
	mix := func(k int) uint8 { return uint8(math.Round(a[k] + (b[k]-a[k])*t)) }
	return color.RGBA{mix(0), mix(1), mix(2), 255}
}
