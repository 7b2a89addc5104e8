package display

import (
	"fmt"
	"strconv"

	"github.com/vggnb/vggnb/gomlx_vgg"
)

// Summarized is a model Summary can render: *gomlx_vgg.Model, or a VGG with a
// new head (*transfer.Stacked).
type Summarized interface {
	Layers() []gomlx_vgg.Layer
	CountParams() (total, trainable int)
	Title() string
}

// Summary renders Keras' model.summary(): layer (type), output shape, params,
// trainable; then the totals.
func Summary(m Summarized) HTML {
	var rows [][]string
	for _, l := range m.Layers() {
		rows = append(rows, []string{esc(fmt.Sprintf("%s (%s)", l.Name, l.Class)), esc(gomlx_vgg.KerasShape(l.OutputShape)),
			esc(strconv.Itoa(l.Params)), esc(strconv.FormatBool(l.Trainable && l.Params > 0))})
	}
	total, trainable := m.CountParams()
	rows = append(rows,
		[]string{"<b>Total params</b>", "", esc(strconv.Itoa(total)), ""},
		[]string{"<b>Trainable params</b>", "", esc(strconv.Itoa(trainable)), ""},
		[]string{"<b>Non-trainable params</b>", "", esc(strconv.Itoa(total - trainable)), ""})
	return table(m.Title(), []string{"Layer (type)", "Output Shape", "Param #", "Trainable"}, rows)
}
