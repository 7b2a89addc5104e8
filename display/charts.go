package display

import (
	"fmt"
	"math"
	"strings"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
)

// Histogram renders the distribution of a tensor's values in bins (default 50
// when bins <= 0) as an SVG bar chart, with a log-scaled count axis option for
// ReLU outputs dominated by zeros.
func Histogram(title string, t *tensors.Tensor, bins int, logCounts bool) SVG {
	if bins <= 0 {
		bins = 50
	}
	counts := make([]float64, bins)
	lo, hi := math.Inf(1), math.Inf(-1)
	tensors.ConstFlatData(t, func(v []float32) {
		for _, x := range v {
			lo, hi = math.Min(lo, float64(x)), math.Max(hi, float64(x))
		}
		width := (hi - lo) / float64(bins)
		for _, x := range v {
			i := bins - 1
			if width > 0 {
				i = min(int((float64(x)-lo)/width), bins-1)
			}
			counts[i]++
		}
	})
	if logCounts {
		for i, c := range counts {
			counts[i] = math.Log10(1 + c)
		}
	}
	labels := make([]string, bins)
	for i := range labels {
		labels[i] = fmt.Sprintf("%.3g", lo+(hi-lo)*float64(i)/float64(bins))
	}
	yLabel := "count"
	if logCounts {
		yLabel = "log10(1+count)"
	}
	return barChart(title, labels, counts, yLabel, fmt.Sprintf("value (%.4g … %.4g)", lo, hi), false)
}

// LayerMeans renders one bar per layer (the seed's per-layer "hash").
func LayerMeans(title string, stats []gomlx_vgg.LayerStats) SVG {
	labels := make([]string, len(stats))
	values := make([]float64, len(stats))
	for i, s := range stats {
		labels[i], values[i] = s.Layer, s.Mean
	}
	return barChart(title, labels, values, "mean activation", "layer", true)
}

// barChart draws labelled bars; rotated labels name every bar.
func barChart(title string, labels []string, values []float64, yLabel, xLabel string, nameBars bool) SVG {
	const (
		w, h           = 760, 320
		left, right    = 70, 20
		top, bottomPad = 36, 110
	)
	plotW, plotH := float64(w-left-right), float64(h-top-bottomPad)
	vmax := 0.0
	for _, v := range values {
		vmax = math.Max(vmax, v)
	}
	if vmax == 0 {
		vmax = 1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%d" y="20" font-size="14" font-weight="bold">%s</text>`, left, esc(title))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`, left, top, left, top+int(plotH))
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>`, left, top+int(plotH), w-right, top+int(plotH))
	for i := 0; i <= 4; i++ {
		v := vmax * float64(i) / 4
		y := float64(top) + plotH*(1-float64(i)/4)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%.3g</text><line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`,
			left-4, y+4, v, left, y, w-right, y)
	}
	bw := plotW / float64(max(len(values), 1))
	for i, v := range values {
		bh := plotH * math.Max(v, 0) / vmax
		x := float64(left) + float64(i)*bw
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#3b528b"><title>%s: %.6g</title></rect>`,
			x+bw*0.1, float64(top)+plotH-bh, bw*0.8, bh, esc(labels[i]), v)
		if nameBars || i%max(1, len(values)/10) == 0 {
			fmt.Fprintf(&b, `<text transform="translate(%.1f,%d) rotate(-60)" text-anchor="end">%s</text>`, x+bw/2, top+int(plotH)+12, esc(labels[i]))
		}
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">%s</text>`, left+int(plotW)/2, h-6, esc(xLabel))
	fmt.Fprintf(&b, `<text transform="translate(14,%d) rotate(-90)" text-anchor="middle">%s</text>`, top+int(plotH)/2, esc(yLabel))
	b.WriteString(`</svg>`)
	return SVG(b.String())
}
