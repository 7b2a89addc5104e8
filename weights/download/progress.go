package download

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// Progress draws a progress bar for long work (downloads, conversions).
//
// On a terminal it redraws one line ("\r") at most ten times a second; elsewhere
// (notebooks, CI logs) it prints a line at every 10% so logs stay short.
type Progress struct {
	w        io.Writer
	label    string
	total    int64
	terminal bool

	mu       sync.Mutex
	done     int64
	start    time.Time
	last     time.Time
	lastTick int64
	finished bool
	unit     string // "" for bytes, else what is counted ("steps", "images")
}

// NewProgress starts a bar on w for total units (bytes); total <= 0 means unknown.
// A nil w gives a bar that draws nothing.
func NewProgress(w io.Writer, label string, total int64) *Progress {
	p := &Progress{w: w, label: label, total: total, start: time.Now(), lastTick: -1}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.terminal = true
		}
	}
	return p
}

// NewCountProgress is NewProgress for total things that are not bytes (training
// steps, images): the bar shows "n/total unit", the rate per second and the
// time left.
func NewCountProgress(w io.Writer, label string, total int64, unit string) *Progress {
	p := NewProgress(w, label, total)
	p.unit = unit
	return p
}

// Set records that n units are done and redraws when due.
func (p *Progress) Set(n int64) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setLocked(n)
}

// setLocked records n and redraws when due; p.mu is held.
func (p *Progress) setLocked(n int64) {
	p.done = n
	now := time.Now()
	if p.terminal {
		if now.Sub(p.last) >= 100*time.Millisecond {
			p.last = now
			fmt.Fprintf(p.w, "\r%s", p.line(now))
		}
		return
	}
	tick := int64(-1)
	if p.total > 0 {
		tick = 10 * n / p.total
	} else {
		tick = n >> 24 // every 16 MiB
	}
	if tick > p.lastTick {
		p.lastTick = tick
		fmt.Fprintln(p.w, p.line(now))
	}
}

// Add records n more units.
func (p *Progress) Add(n int64) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.setLocked(p.done + n)
}

// Write counts len(b) units, so a Progress can sit behind an io.TeeReader.
func (p *Progress) Write(b []byte) (int, error) {
	p.Add(int64(len(b)))
	return len(b), nil
}

// Done draws the final state and ends the line.
func (p *Progress) Done() {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.finished {
		return
	}
	p.finished = true
	if p.terminal {
		fmt.Fprintf(p.w, "\r%s\n", p.line(time.Now()))
	} else if p.total <= 0 || 10*p.done/p.total > p.lastTick {
		fmt.Fprintln(p.w, p.line(time.Now()))
	}
}

func (p *Progress) line(now time.Time) string {
	el := now.Sub(p.start).Seconds()
	amount, rate := humanBytes, ""
	if p.unit != "" {
		amount = func(n int64) string { return fmt.Sprint(n) }
		if el > 0 && p.done > 0 {
			r := float64(p.done) / el
			rate = fmt.Sprintf(" %.3g %s/s", r, p.unit)
			if p.total > p.done {
				rate += fmt.Sprintf(", %v left", (time.Duration(float64(p.total-p.done)/r) * time.Second).Round(time.Second))
			}
		}
	} else if el > 0 {
		rate = fmt.Sprintf(" %s/s", humanBytes(int64(float64(p.done)/el)))
	}
	if p.total <= 0 {
		return fmt.Sprintf("%s %s%s", p.label, amount(p.done), rate)
	}
	const width = 30
	frac := float64(p.done) / float64(p.total)
	if frac > 1 {
		frac = 1
	}
	fill := int(frac * width)
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	if p.unit != "" {
		return fmt.Sprintf("%s [%s] %3.0f%% %d/%d %s%s", p.label, bar, 100*frac, p.done, p.total, p.unit, rate)
	}
	return fmt.Sprintf("%s [%s] %3.0f%% %s/%s%s", p.label, bar, 100*frac, humanBytes(p.done), humanBytes(p.total), rate)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f kB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
