package display

import (
	"encoding/base64"
	"fmt"
	"image"
	"strings"
	"sync"
)

// Gallery is a row of captioned images (wrapping when the cell is narrow)
// that can grow in place in a notebook cell while a run adds images: style
// transfer's intermediate images. Show(g.HTML()) shows it once; Update redraws
// it in place.
type Gallery struct {
	mu     sync.Mutex
	out    inPlace
	title  string
	px     int
	images []galleryImage
}

type galleryImage struct {
	caption string
	png     PNG
}

// NewGallery starts an empty gallery whose images are drawn px pixels wide
// (0: their own width); small images are scaled up without smoothing.
func NewGallery(title string, px int) *Gallery {
	return &Gallery{out: newInPlace("vggnb-gallery"), title: title, px: px}
}

// Add appends img with its caption.
func (g *Gallery) Add(caption string, img image.Image) error {
	if img == nil {
		return fmt.Errorf("display: gallery %q: nil image for %q", g.title, caption)
	}
	p, err := encodePNG(img)
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.images = append(g.images, galleryImage{caption: caption, png: p})
	return nil
}

// HTML renders the gallery: the title, then the images side by side.
func (g *Gallery) HTML() HTML {
	g.mu.Lock()
	defer g.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, `<div class="vggnb-gallery"><div style="font-weight:bold;font-family:sans-serif;font-size:13px;padding:4px 0">%s</div>`, esc(g.title))
	b.WriteString(`<div style="display:flex;flex-wrap:wrap;gap:8px">`)
	for _, im := range g.images {
		width := ""
		if g.px > 0 {
			width = fmt.Sprintf(` width="%d"`, g.px)
		}
		fmt.Fprintf(&b, `<figure style="margin:0"><img alt="%s"%s style="image-rendering:pixelated" src="data:image/png;base64,%s">`+
			`<figcaption style="font-family:sans-serif;font-size:11px;max-width:%dpx">%s</figcaption></figure>`,
			esc(im.caption), width, base64.StdEncoding.EncodeToString(im.png), max(g.px, 120), esc(im.caption))
	}
	b.WriteString(`</div></div>`)
	return HTML(b.String())
}

// Update redraws the gallery in its notebook output, in place. Outside a
// notebook it does nothing (show HTML() at the end).
func (g *Gallery) Update() { g.out.update(func() string { return string(g.HTML()) }) }
