package hugepng

import (
	"bytes"
	"image"
	_ "image/png"
	"testing"
)

// The header says the size asked for, and decoding fails instead of
// producing pixels.
func TestNew(t *testing.T) {
	for _, c := range []struct{ w, h int }{{1, 1}, {451, 300}, {60000, 60000}} {
		b := New(c.w, c.h)
		cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
		if err != nil || format != "png" || cfg.Width != c.w || cfg.Height != c.h {
			t.Errorf("New(%d, %d): DecodeConfig = %+v, %q, %v", c.w, c.h, cfg, format, err)
		}
		if len(b) > 100 {
			t.Errorf("New(%d, %d) is %d bytes, want a few dozen", c.w, c.h, len(b))
		}
		if c.w*c.h <= 1 {
			continue
		}
		if _, _, err := image.Decode(bytes.NewReader(b)); err == nil {
			t.Errorf("New(%d, %d) decoded", c.w, c.h)
		}
	}
}
