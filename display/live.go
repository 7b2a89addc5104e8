package display

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
)

// LivePlot is a set of line charts (loss, accuracy, ...) that redraws in place
// in a notebook cell as training adds points. Outside a notebook Show writes the
// final SVG with the other outputs.
type LivePlot struct {
	mu     sync.Mutex
	out    inPlace
	title  string
	order  []string
	series map[string][][2]float64
}

// NewLivePlot starts an empty plot.
func NewLivePlot(title string) *LivePlot {
	return &LivePlot{out: newInPlace("vggnb-live"), title: title, series: map[string][][2]float64{}}
}

// Add appends the point (x, y) to the named series.
func (p *LivePlot) Add(name string, x, y float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.series[name]; !ok {
		p.order = append(p.order, name)
	}
	p.series[name] = append(p.series[name], [2]float64{x, y})
}

// SVG renders one panel per series.
func (p *LivePlot) SVG() SVG {
	p.mu.Lock()
	defer p.mu.Unlock()
	const pw, ph, pad = 360, 220, 52 // pad: room for a tick label at 11 px
	w := max(1, len(p.order)) * pw
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, w, ph+30)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="10" y="16" font-size="13" font-weight="bold">%s</text>`, esc(p.title))
	for i, name := range p.order {
		pts := p.series[name]
		ox := float64(i*pw + pad)
		top, plotW, plotH := 40.0, float64(pw-pad-12), float64(ph-50)
		xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
		for _, q := range pts {
			xmin, xmax = math.Min(xmin, q[0]), math.Max(xmax, q[0])
			ymin, ymax = math.Min(ymin, q[1]), math.Max(ymax, q[1])
		}
		if xmax <= xmin {
			xmax = xmin + 1
		}
		if ymax <= ymin {
			ymax = ymin + 1e-9
		}
		fmt.Fprintf(&b, `<text x="%.0f" y="32" font-weight="bold">%s (last %.4g)</text>`, ox, esc(name), pts[len(pts)-1][1])
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%.0f" height="%.0f" fill="none" stroke="#999"/>`, ox, top, plotW, plotH)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%s</text><text x="%.0f" y="%.0f" text-anchor="end">%s</text>`,
			ox-3, top+8, tick(ymax), ox-3, top+plotH, tick(ymin))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%.0f</text><text x="%.0f" y="%.0f" text-anchor="end">%.0f</text>`,
			ox, top+plotH+14, xmin, ox+plotW, top+plotH+14, xmax)
		b.WriteString(`<polyline fill="none" stroke="#3b528b" stroke-width="1.5" points="`)
		for _, q := range pts {
			fmt.Fprintf(&b, "%.1f,%.1f ", ox+plotW*(q[0]-xmin)/(xmax-xmin), top+plotH*(1-(q[1]-ymin)/(ymax-ymin)))
		}
		b.WriteString(`"/>`)
	}
	b.WriteString(`</svg>`)
	return SVG(b.String())
}

// Update redraws the plot in its notebook output (in place; as an image so it
// also survives HTML export). Outside a notebook it does nothing.
func (p *LivePlot) Update() {
	p.out.update(func() string {
		return fmt.Sprintf(`<img alt="%s" src="data:image/svg+xml;charset=utf-8,%s">`, esc(p.title), url.PathEscape(string(p.SVG())))
	})
}

// inPlace is a notebook output that is drawn again in place (LivePlot,
// Gallery): its id is unique in the notebook.
type inPlace string

// newInPlace names a new output: prefix, then a unique id in a notebook.
func newInPlace(prefix string) inPlace {
	if InNotebook() {
		return inPlace(prefix + "-" + gonbui.UniqueId())
	}
	return inPlace(prefix)
}

// update draws the output html() in place; outside a notebook it does
// nothing, html not called.
func (o inPlace) update(html func() string) {
	if !InNotebook() {
		return
	}
	gonbui.UpdateHTML(string(o), html())
	gonbui.Sync()
}

// tick formats an axis value in at most 8 characters, so that it fits left of
// the plot: 1771, 0.123, 2.5e+05, 1.2e-05.
func tick(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1e5 || a < 1e-3:
		return fmt.Sprintf("%.1e", v)
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	}
	return strconv.FormatFloat(v, 'g', 3, 64)
}
