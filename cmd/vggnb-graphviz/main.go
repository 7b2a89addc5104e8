// Command vggnb-graphviz lays out a Graphviz DOT graph read from standard input
// and writes it as SVG to standard output, with Graphviz compiled to
// WebAssembly (github.com/goccy/go-graphviz): no system Graphviz needed.
//
// display.RenderDOT runs it in its own process, so that no vggnb program or
// notebook cell links go-graphviz, whose package initialisation compiles the
// WebAssembly module into a cache under $TMPDIR and panics when that cache is
// not writable (another user's, a full disk). RenderDOT points TMPDIR at the
// user's own vggnb cache. Build it with `go install
// github.com/vggnb/vggnb/cmd/vggnb-graphviz`; `vggnb kernel install` and
// `make run` do, and RenderDOT builds it on first use when go is available.
package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"

	"github.com/goccy/go-graphviz"
)

func main() {
	if len(os.Args) > 1 {
		fmt.Fprintln(os.Stderr, "usage: vggnb-graphviz < graph.dot > graph.svg")
		os.Exit(2)
	}
	if err := render(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "vggnb-graphviz:", err)
		os.Exit(1)
	}
}

func render(r io.Reader, w io.Writer) error {
	dot, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ctx := context.Background()
	gv, err := graphviz.New(ctx)
	if err != nil {
		return err
	}
	defer gv.Close()
	g, err := graphviz.ParseBytes(dot)
	if err != nil {
		return fmt.Errorf("parse DOT: %w", err)
	}
	defer g.Close()
	var buf bytes.Buffer
	if err := gv.Render(ctx, g, graphviz.SVG, &buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}
