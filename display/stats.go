package display

import (
	"fmt"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
)

// StatsTable renders layer statistics: shape, mean, std, min, max and the
// fraction of exact zeros (dead ReLUs).
func StatsTable(caption string, rows []gomlx_vgg.LayerStats) HTML {
	var cells [][]string
	for _, r := range rows {
		cells = append(cells, []string{esc(r.Layer), esc(fmt.Sprint(r.Shape)), num(r.Mean), num(r.Std),
			num(r.Min), num(r.Max), esc(fmt.Sprintf("%.1f%%", 100*r.Zeros))})
	}
	return table(caption, []string{"layer", "shape", "mean", "std", "min", "max", "zeros"}, cells)
}

// ChannelMeans returns the mean of each channel of a channels_last activation
// (the last axis), over the batch and spatial positions.
func ChannelMeans(t *tensors.Tensor) []float64 {
	d := t.Shape().Dimensions
	c := d[len(d)-1]
	sums := make([]float64, c)
	tensors.ConstFlatData(t, func(v []float32) {
		for i, x := range v {
			sums[i%c] += float64(x)
		}
		n := float64(len(v) / max(c, 1))
		for i := range sums {
			sums[i] /= n
		}
	})
	return sums
}

// ChannelMeansTable renders ChannelMeans as rows of 8 channels.
func ChannelMeansTable(caption string, means []float64) HTML {
	const per = 8
	header := []string{"channels"}
	for i := range per {
		header = append(header, fmt.Sprintf("+%d", i))
	}
	var rows [][]string
	for start := 0; start < len(means); start += per {
		row := []string{fmt.Sprintf("%d–%d", start, min(start+per, len(means))-1)}
		for i := start; i < min(start+per, len(means)); i++ {
			row = append(row, num(means[i]))
		}
		rows = append(rows, row)
	}
	return table(caption, header, rows)
}
