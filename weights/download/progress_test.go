package download

import (
	"strings"
	"testing"
	"time"
)

// TestCountProgress: counts, not bytes, with a rate and the time left.
func TestCountProgress(t *testing.T) {
	var b strings.Builder
	p := NewCountProgress(&b, "train", 10, "steps")
	p.start = p.start.Add(-2 * time.Second)
	p.Add(4)
	p.Done()
	out := b.String()
	for _, want := range []string{"train [", "4/10 steps", "steps/s", "left"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, " B") {
		t.Errorf("progress %q counts bytes", out)
	}
}
