package display

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/goccy/go-graphviz"

	"github.com/vggnb/vggnb/gomlx_vgg"
)

// graphvizMu serialises renders: the embedded (WebAssembly) Graphviz is not
// safe for concurrent use.
var graphvizMu sync.Mutex

// RenderDOT lays out a Graphviz DOT graph with the embedded Graphviz (no
// system install needed) and returns it as SVG.
func RenderDOT(dot string) (SVG, error) {
	graphvizMu.Lock()
	defer graphvizMu.Unlock()
	ctx := context.Background()
	gv, err := graphviz.New(ctx)
	if err != nil {
		return "", fmt.Errorf("display: graphviz: %w", err)
	}
	defer gv.Close()
	g, err := graphviz.ParseBytes([]byte(dot))
	if err != nil {
		return "", fmt.Errorf("display: graphviz: parse DOT: %w", err)
	}
	defer g.Close()
	var buf bytes.Buffer
	if err := gv.Render(ctx, g, graphviz.SVG, &buf); err != nil {
		return "", fmt.Errorf("display: graphviz: render: %w", err)
	}
	return SVG(stripProlog(buf.String())), nil
}

var prolog = regexp.MustCompile(`(?s)^.*?(<svg)`)

// stripProlog drops the XML declaration and DOCTYPE so the SVG can be inlined.
func stripProlog(s string) string { return prolog.ReplaceAllString(s, "$1") }

func dotQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

var classColor = map[string]string{
	"InputLayer": "#eeeeee", "Conv2D": "#c6dbef", "MaxPooling2D": "#fdd0a2", "Flatten": "#eeeeee",
	"Dense": "#c7e9c0", "GlobalAveragePooling2D": "#fdd0a2", "GlobalMaxPooling2D": "#fdd0a2",
}

// LayerGraph draws the model's layers top to bottom with their classes, output
// shapes and parameter counts, like keras.utils.plot_model(show_shapes=True).
func LayerGraph(m *gomlx_vgg.Model) (SVG, error) {
	var b strings.Builder
	b.WriteString("digraph vgg {\nrankdir=TB; node [shape=box style=\"rounded,filled\" fontname=\"Helvetica\" fontsize=10];\n")
	fmt.Fprintf(&b, "label=%s; labelloc=t; fontname=\"Helvetica\";\n", dotQuote(m.String()))
	layers := m.Layers()
	for i, l := range layers {
		label := fmt.Sprintf("%s\\n%s\\n%s", l.Name, l.Class, KerasShape(l.OutputShape))
		if l.Params > 0 {
			label += fmt.Sprintf("\\n%d params", l.Params)
		}
		fmt.Fprintf(&b, "n%d [label=%s fillcolor=%s];\n", i, dotQuote(label), dotQuote(classColor[l.Class]))
		if i > 0 {
			fmt.Fprintf(&b, "n%d -> n%d;\n", i-1, i)
		}
	}
	b.WriteString("}\n")
	return RenderDOT(b.String())
}

// OpGraph draws the GoMLX ops of a model graph (gomlx_vgg.Model.Ops), grouped in
// one box per Keras layer. maxLayers > 0 keeps only the first layers, which
// keeps the drawing of a 400-op VGG19 readable.
func OpGraph(groups []gomlx_vgg.OpGroup, maxLayers int) (SVG, error) {
	if maxLayers > 0 && len(groups) > maxLayers {
		groups = groups[:maxLayers]
	}
	var b strings.Builder
	b.WriteString("digraph ops {\nrankdir=TB; compound=true; node [shape=box style=filled fillcolor=white fontname=\"Helvetica\" fontsize=9];\n")
	known := map[int]bool{}
	for gi, g := range groups {
		fmt.Fprintf(&b, "subgraph cluster_%d {\nlabel=%s; style=\"rounded,filled\"; fillcolor=\"#f3f6fb\"; fontname=\"Helvetica\";\n", gi, dotQuote(g.Layer))
		for _, op := range g.Ops {
			known[op.ID] = true
			fill := "white"
			switch op.Type {
			case "Parameter":
				fill = "#fff2cc"
			case "DotGeneral":
				fill = "#c6dbef"
			}
			fmt.Fprintf(&b, "op%d [label=%s fillcolor=%s];\n", op.ID, dotQuote(fmt.Sprintf("%s\\n%v", op.Type, op.Shape)), dotQuote(fill))
		}
		b.WriteString("}\n")
	}
	for _, g := range groups {
		for _, op := range g.Ops {
			for _, in := range op.Inputs {
				if known[in] {
					fmt.Fprintf(&b, "op%d -> op%d;\n", in, op.ID)
				}
			}
		}
	}
	b.WriteString("}\n")
	return RenderDOT(b.String())
}

// OpCounts renders a table of how many ops of each type each layer adds.
func OpCounts(groups []gomlx_vgg.OpGroup) HTML {
	types := []string{}
	seen := map[string]bool{}
	for _, g := range groups {
		for _, op := range g.Ops {
			if !seen[op.Type] {
				seen[op.Type] = true
				types = append(types, op.Type)
			}
		}
	}
	header := append([]string{"layer", "ops"}, types...)
	var rows [][]string
	total := 0
	for _, g := range groups {
		count := map[string]int{}
		for _, op := range g.Ops {
			count[op.Type]++
		}
		row := []string{esc(g.Layer), fmt.Sprint(len(g.Ops))}
		for _, t := range types {
			row = append(row, fmt.Sprint(count[t]))
		}
		total += len(g.Ops)
		rows = append(rows, row)
	}
	return table(fmt.Sprintf("GoMLX ops per layer (%d in all)", total), header, rows)
}
