// Package display renders what notebook cells show about a VGG model: activation
// statistics tables, activation-map grids, histograms, per-layer charts, Keras-style
// summaries, graph diagrams and consistency reports.
//
// Renderers return HTML, SVG or PNG values; Show sends them to the notebook when
// the program runs inside GoNB (calling gonbui.Sync so nothing is lost) and
// otherwise writes them as files under Config.Dir, printing their paths.
package display

import (
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/janpfeifer/gonb/gonbui"
	"github.com/janpfeifer/gonb/gonbui/protocol"

	"github.com/vggnb/vggnb/display/graphviz"
	"github.com/vggnb/vggnb/internal/atomicfile"
)

// HTML is an HTML fragment (a table, a report).
type HTML string

// SVG is an SVG document (a chart, a diagram). Show sends it as image/svg+xml.
type SVG string

// PNG is an encoded PNG image (an activation grid).
type PNG []byte

// Markdown is Markdown text.
type Markdown string

// Config is how this package shows things outside a notebook and draws
// graphs. The zero value is the default; commands and notebooks/nb fill it in
// from the environment (VGGNB_DISPLAY_DIR, VGGNB_GRAPHVIZ, VGGNB_CHECKOUT).
type Config struct {
	// Dir is where Show writes files outside a notebook (default
	// "vggnb-display" in the working directory).
	Dir string
	// Graphviz is the vggnb-graphviz helper RenderDOT runs.
	Graphviz graphviz.Helper
}

var (
	configMu sync.Mutex
	config   Config
)

// Configure sets the package's Config (for the whole program: call it once,
// before showing anything).
func Configure(c Config) {
	configMu.Lock()
	defer configMu.Unlock()
	config = c
}

// current returns the Config in use, defaults filled in.
func current() Config {
	configMu.Lock()
	defer configMu.Unlock()
	c := config
	if c.Dir == "" {
		c.Dir = "vggnb-display"
	}
	return c
}

var (
	mu      sync.Mutex
	counter int
)

// InNotebook reports whether the program runs inside a GoNB cell.
func InNotebook() bool { return gonbui.IsNotebook }

// Show displays each item: in GoNB as a display_data message with the item's MIME
// type (HTML text/html, SVG image/svg+xml, PNG image/png, Markdown text/markdown),
// elsewhere as a file under Config.Dir. Strings are shown as plain text; errors as errors.
func Show(items ...any) error {
	for _, it := range items {
		if err := show(it); err != nil {
			return err
		}
	}
	if InNotebook() {
		gonbui.Sync()
		return gonbui.Error()
	}
	return nil
}

// MustShow is Show for cells: it panics on error, which fails the cell.
func MustShow(items ...any) {
	if err := Show(items...); err != nil {
		panic(err)
	}
}

func show(it any) error {
	var mime protocol.MIMEType
	var data any
	var ext string
	switch v := it.(type) {
	case HTML:
		mime, data, ext = protocol.MIMETextHTML, string(v), "html"
	case SVG:
		mime, data, ext = protocol.MIMEImageSVG, string(v), "svg"
	case PNG:
		mime, data, ext = protocol.MIMEImagePNG, []byte(v), "png"
	case Markdown:
		mime, data, ext = protocol.MIMETextMarkdown, string(v), "md"
	case string:
		mime, data, ext = protocol.MIMETextPlain, v, "txt"
	case error:
		return v
	case nil:
		return fmt.Errorf("display: nothing to show (nil)")
	default:
		return fmt.Errorf("display: cannot show a %T", it)
	}
	if InNotebook() {
		bundle := map[protocol.MIMEType]any{mime: data}
		if mime == protocol.MIMEImageSVG {
			// Also inline in HTML, which Jupyter prefers, and where the SVG's own
			// style (max-width 100%) applies: Jupyter Notebook's image/svg+xml
			// renderer fixes the box to the SVG's width attribute, so a wide
			// drawing overflows the column. The image/svg+xml copy is for exports
			// (kernel's HTML template draws it as an image).
			bundle[protocol.MIMETextHTML] = data
		}
		if mime != protocol.MIMETextPlain {
			bundle[protocol.MIMETextPlain] = fmt.Sprintf("<%s, %d bytes>", mime, size(data))
		}
		gonbui.SendData(&protocol.DisplayData{Data: bundle})
		return nil
	}
	mu.Lock()
	counter++
	n := counter
	mu.Unlock()
	dir := current().Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("display: %w", err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%03d.%s", n, ext))
	var b []byte
	if s, ok := data.(string); ok {
		b = []byte(s)
	} else {
		b = data.([]byte)
	}
	if err := atomicfile.WriteFile(path, b); err != nil {
		return fmt.Errorf("display: %w", err)
	}
	fmt.Printf("[display: %s written to %s]\n", mime, path)
	return nil
}

func size(data any) int {
	if s, ok := data.(string); ok {
		return len(s)
	}
	return len(data.([]byte))
}

// esc escapes text for HTML.
func esc(s string) string { return html.EscapeString(s) }

// tableStyle keeps tables readable in notebooks and their HTML exports.
const tableStyle = `<style>.vggnb{border-collapse:collapse;font-family:monospace;font-size:12px}` +
	`.vggnb th,.vggnb td{border:1px solid #ccc;padding:2px 8px;text-align:right}.vggnb td{white-space:nowrap}` +
	`.vggnb th:first-child,.vggnb td:first-child{text-align:left}` +
	`.vggnb .pass{color:#080;font-weight:bold}.vggnb .fail{color:#c00;font-weight:bold}` +
	`.vggnb caption{text-align:left;font-weight:bold;padding:4px 0}</style>`

// table renders a caption, header and rows (cells already HTML) as an HTML table.
func table(caption string, header []string, rows [][]string) HTML {
	var b strings.Builder
	b.WriteString(tableStyle)
	b.WriteString(`<table class="vggnb">`)
	if caption != "" {
		fmt.Fprintf(&b, "<caption>%s</caption>", esc(caption))
	}
	b.WriteString("<tr>")
	for _, h := range header {
		fmt.Fprintf(&b, "<th>%s</th>", esc(h))
	}
	b.WriteString("</tr>")
	for _, r := range rows {
		b.WriteString("<tr>")
		for _, c := range r {
			fmt.Fprintf(&b, "<td>%s</td>", c)
		}
		b.WriteString("</tr>")
	}
	b.WriteString("</table>")
	return HTML(b.String())
}

// num formats a number for tables.
func num(v float64) string { return esc(fmt.Sprintf("%.6g", v)) }
