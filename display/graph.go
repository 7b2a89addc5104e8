package display

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/weights"
)

// RenderDOT lays out a Graphviz DOT graph and returns it as SVG, with the
// vggnb-graphviz helper of Config.Graphviz (package graphviz: found on PATH,
// beside this executable or in the vggnb cache, else built there; its
// compiled Graphviz cached under the user's vggnb cache, never in a shared
// temp directory). Errors say which helper failed and how to install it.
func RenderDOT(dot string) (SVG, error) {
	svg, err := current().Graphviz.Render(context.Background(), dot)
	if err != nil {
		return "", fmt.Errorf("display: %w", err)
	}
	return SVG(fitWidth(stripProlog(svg))), nil
}

var svgOpen = regexp.MustCompile(`<svg\b`)

// fitWidth lets an SVG shrink to its container (a notebook column) instead of
// overflowing it: max-width 100% and an automatic height, with its viewBox (which
// Graphviz writes) keeping the proportions. Small drawings keep their size.
func fitWidth(svg string) string {
	return svgOpen.ReplaceAllLiteralString(svg, `<svg style="max-width:100%;height:auto"`)
}

var prolog = regexp.MustCompile(`(?s)^.*?(<svg)`)

// stripProlog drops the XML declaration and DOCTYPE so the SVG can be inlined.
func stripProlog(s string) string { return prolog.ReplaceAllString(s, "$1") }

func dotQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

var classColor = map[weights.Class]string{
	weights.InputLayer: "#eeeeee", weights.Conv2D: "#c6dbef", weights.MaxPooling2D: "#fdd0a2", weights.Flatten: "#eeeeee",
	weights.Dense: "#c7e9c0", weights.GlobalAveragePooling2D: "#fdd0a2", weights.GlobalMaxPooling2D: "#fdd0a2",
}

// LayerGraph draws the model's layers with their classes, output shapes and
// parameter counts, like keras.utils.plot_model(show_shapes=True), one row per
// Keras block (block1_..., block2_..., the top's layers) so that the whole
// network fits in a notebook's column and about one screen.
func LayerGraph(m *gomlx_vgg.Model) (SVG, error) {
	var b strings.Builder
	// Margins and a title in short lines: a browser's sans-serif is wider than
	// the Helvetica metrics Graphviz lays out with.
	b.WriteString("digraph vgg {\nrankdir=TB; pad=0.3; newrank=true; nodesep=0.25; ranksep=0.45;\n")
	b.WriteString("node [shape=box style=\"rounded,filled\" fontname=\"Helvetica\" fontsize=10 margin=\"0.2,0.06\"];\n")
	fmt.Fprintf(&b, "label=%s; labelloc=t; fontname=\"Helvetica\";\n", dotQuote(strings.Join(titleLines(m.Title()), "\\n")))
	layers := m.Layers()
	rows, labels, fills := make([]string, len(layers)), make([]string, len(layers)), make([]string, len(layers))
	for _, row := range layerRows(layers) {
		for _, i := range row.layers {
			l := layers[i]
			rows[i], fills[i] = row.name, classColor[l.Class]
			labels[i] = fmt.Sprintf("%s\\n%s\\n%s", l.Name, l.Class, gomlx_vgg.KerasShape(l.OutputShape))
			if l.Params > 0 {
				labels[i] += fmt.Sprintf("\\n%d params", l.Params)
			}
		}
	}
	first := dotRows(&b, rows, labels, fills)
	for i := 1; i < len(layers); i++ {
		attr := ""
		if first[i] {
			attr = " [constraint=false]"
		}
		fmt.Fprintf(&b, "n%d -> n%d%s;\n", i-1, i, attr)
	}
	b.WriteString("}\n")
	return RenderDOT(b.String())
}

// layerRow is the layers LayerGraph draws side by side: one Keras block.
type layerRow struct {
	name   string
	layers []int
}

// layerRows groups consecutive layers by block: "block3" for block3_conv1..
// block3_pool, "input" for the input layer, "top" for the classifier (flatten,
// fc1, fc2, predictions) or the global pooling.
func layerRows(layers []gomlx_vgg.Layer) []layerRow {
	var rows []layerRow
	for i, l := range layers {
		name := "top"
		if block, ok := blockOf(l.Name); ok {
			name = block
		} else if l.Class == weights.InputLayer {
			name = "input"
		}
		if len(rows) == 0 || rows[len(rows)-1].name != name {
			rows = append(rows, layerRow{name: name})
		}
		rows[len(rows)-1].layers = append(rows[len(rows)-1].layers, i)
	}
	return rows
}

// dotRows writes nodes n0, n1, ... (labels[i], filled fills[i]) in one cluster
// per run of equal rows[i], named after it, side by side, so that a network
// reads like lines of text: each run's first node is ranked under the previous
// run's (an invisible heavy edge). It returns the nodes that start a run: an
// edge into one from the run before must not move it ([constraint=false]).
func dotRows(b *strings.Builder, rows, labels, fills []string) map[int]bool {
	first := map[int]bool{}
	var starts []int
	for i := range rows {
		if i == 0 || rows[i-1] != rows[i] {
			if i > 0 {
				b.WriteString("}\n}\n")
			}
			fmt.Fprintf(b, "subgraph cluster_%d {\nlabel=%s; style=\"rounded\"; color=\"#bbbbbb\"; fontname=\"Helvetica\"; fontsize=10;\n{rank=same;\n", i, dotQuote(rows[i]))
			first[i] = true
			starts = append(starts, i)
		}
		fmt.Fprintf(b, "n%d [label=%s fillcolor=%s];\n", i, dotQuote(labels[i]), dotQuote(fills[i]))
	}
	if len(rows) > 0 {
		b.WriteString("}\n}\n")
	}
	for k := 1; k < len(starts); k++ {
		fmt.Fprintf(b, "n%d -> n%d [style=invis weight=100];\n", starts[k-1], starts[k])
	}
	return first
}

// blockOf is the Keras block a layer (or node) name belongs to: "block3" for
// block3_conv1 or block3_pool/nchw.
func blockOf(name string) (string, bool) {
	block, _, ok := strings.Cut(name, "_")
	return block, ok && strings.HasPrefix(block, "block")
}

// titleLines splits a call such as "VGG19(include_top=False, weights=f.h5,
// input_shape=(200, 300, 3))" into its name and one line per argument, so
// that a title is no wider than its drawing.
func titleLines(title string) []string {
	name, args, ok := strings.Cut(title, "(")
	if !ok || !strings.HasSuffix(args, ")") {
		return []string{title}
	}
	lines := []string{name}
	depth, start := 0, 0
	args = strings.TrimSuffix(args, ")")
	for i, r := range args {
		switch r {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case ',':
			if depth == 0 {
				lines = append(lines, strings.TrimSpace(args[start:i]))
				start = i + 1
			}
		}
	}
	if rest := strings.TrimSpace(args[start:]); rest != "" {
		lines = append(lines, rest)
	}
	return lines
}

// OpGraph draws the GoMLX ops of a model graph (gomlx_vgg.Model.Ops), grouped in
// one box per Keras layer. maxLayers > 0 keeps only the first layers, which
// keeps the drawing of a 400-op VGG19 readable. Ops of one layer that do the
// same thing side by side (same type and shape, same inputs, same consumers:
// im2col's nine slices of a 3x3 convolution) are drawn as one node marked ×n,
// so that the drawing stays narrow enough to read in a notebook column.
func OpGraph(groups []gomlx_vgg.OpGroup, maxLayers int) (SVG, error) {
	if maxLayers > 0 && len(groups) > maxLayers {
		groups = groups[:maxLayers]
	}
	known := map[int]bool{}
	consumers := map[int][]int{}
	for _, g := range groups {
		for _, op := range g.Ops {
			known[op.ID] = true
			for _, in := range op.Inputs {
				consumers[in] = append(consumers[in], op.ID)
			}
		}
	}
	// rep maps every op to the op drawn for it; count is how many each drawn op stands for.
	rep, count := map[int]int{}, map[int]int{}
	for _, g := range groups {
		first := map[string]int{}
		for _, op := range g.Ops {
			key := fmt.Sprint(op.Type, op.Shape, sortedIDs(op.Inputs, known), sortedIDs(consumers[op.ID], known))
			if r, ok := first[key]; ok {
				rep[op.ID] = r
			} else {
				first[key], rep[op.ID] = op.ID, op.ID
			}
			count[rep[op.ID]]++
		}
	}
	var b strings.Builder
	b.WriteString("digraph ops {\nrankdir=TB; compound=true; pad=0.2; node [shape=box style=filled fillcolor=white fontname=\"Helvetica\" fontsize=9 margin=\"0.15,0.05\"];\n")
	for gi, g := range groups {
		fmt.Fprintf(&b, "subgraph cluster_%d {\nlabel=%s; style=\"rounded,filled\"; fillcolor=\"#f3f6fb\"; fontname=\"Helvetica\";\n", gi, dotQuote(g.Layer))
		for _, op := range g.Ops {
			if rep[op.ID] != op.ID {
				continue
			}
			fill := "white"
			switch op.Type {
			case "Parameter":
				fill = "#fff2cc"
			case "DotGeneral":
				fill = "#c6dbef"
			}
			name := op.Type
			if n := count[op.ID]; n > 1 {
				name = fmt.Sprintf("%s ×%d", op.Type, n)
			}
			fmt.Fprintf(&b, "op%d [label=%s fillcolor=%s];\n", op.ID, dotQuote(fmt.Sprintf("%s\\n%v", name, op.Shape)), dotQuote(fill))
		}
		b.WriteString("}\n")
	}
	edges := map[[2]int]bool{}
	for _, g := range groups {
		for _, op := range g.Ops {
			for _, in := range op.Inputs {
				e := [2]int{rep[in], rep[op.ID]}
				if known[in] && !edges[e] {
					edges[e] = true
					fmt.Fprintf(&b, "op%d -> op%d;\n", e[0], e[1])
				}
			}
		}
	}
	b.WriteString("}\n")
	return RenderDOT(b.String())
}

// sortedIDs returns the ids among ids that are drawn, sorted.
func sortedIDs(ids []int, known map[int]bool) []int {
	var out []int
	for _, id := range ids {
		if known[id] {
			out = append(out, id)
		}
	}
	slices.Sort(out)
	return out
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

// FrozenGraph draws a frozen ONNX file's graph (freeze.Open) as TensorBoard
// shows a frozen Keras graph, to find the input and output nodes by name: the
// input and output nodes highlighted with their shapes, every op node with
// its name (an activation drawn in the box of the Conv or Gemm it follows),
// one row per Keras block.
func FrozenGraph(f *freeze.File) (SVG, error) {
	g := f.Model.GetGraph()
	dims := map[string][]int64{}
	for _, t := range g.Initializer {
		dims[t.Name] = t.Dims
	}
	uses := map[string]int{}
	for _, n := range g.Node {
		for _, in := range n.Input {
			uses[in]++
		}
	}
	type box struct {
		name, label, row string
		inputs           []string
	}
	var boxes []*box
	producer := map[string]int{} // tensor -> box
	for _, n := range g.Node {
		if len(n.Output) == 0 {
			continue
		}
		if (n.OpType == "Relu" || n.OpType == "Softmax" || n.OpType == "Identity") && len(n.Input) == 1 {
			if i, ok := producer[n.Input[0]]; ok && uses[n.Input[0]] == 1 && strings.Contains(boxes[i].label, "\\n") {
				boxes[i].label += " → " + n.OpType
				boxes[i].name = n.Output[0]
				producer[n.Output[0]] = i
				continue
			}
		}
		layer, _, _ := strings.Cut(n.Name, "/")
		op := n.OpType
		switch {
		case n.OpType == "Conv" && len(n.Input) > 1 && len(dims[n.Input[1]]) == 4:
			w := dims[n.Input[1]]
			op = fmt.Sprintf("Conv %d×%d, %d", w[2], w[3], w[0])
		case n.OpType == "Gemm" && len(n.Input) > 1 && len(dims[n.Input[1]]) == 2:
			op = fmt.Sprintf("Gemm %d→%d", dims[n.Input[1]][0], dims[n.Input[1]][1])
		}
		row := "top"
		if block, ok := blockOf(layer); ok {
			row = block
		} else if layer == f.Input.Name {
			row = "input"
		}
		var ins []string
		for _, in := range n.Input {
			if _, weight := dims[in]; !weight {
				ins = append(ins, in)
			}
		}
		boxes = append(boxes, &box{name: n.Output[0], label: layer + "\\n" + op, row: row, inputs: ins})
		producer[n.Output[0]] = len(boxes) - 1
	}
	var b strings.Builder
	b.WriteString("digraph frozen {\nrankdir=TB; pad=0.3; newrank=true; nodesep=0.25; ranksep=0.4;\n")
	b.WriteString("node [shape=box style=\"rounded,filled\" fontname=\"Helvetica\" fontsize=10 margin=\"0.2,0.06\" fillcolor=\"#c6dbef\"];\n")
	var title []string
	for _, l := range titleLines(f.Title()) {
		title = append(title, wrap(l, 50)...)
	}
	title = append(title, fmt.Sprintf("ONNX opset %d, %d nodes", f.Model.OpsetImport[0].Version, len(g.Node)))
	fmt.Fprintf(&b, "label=%s; labelloc=t; fontname=\"Helvetica\";\n", dotQuote(strings.Join(title, "\\n")))
	fmt.Fprintf(&b, "in [shape=box style=\"filled\" fillcolor=\"#fde0dd\" label=%s];\n", dotQuote("INPUT\\n"+f.Input.String()))
	fmt.Fprintf(&b, "out [shape=box style=\"filled\" fillcolor=\"#fde0dd\" label=%s];\n", dotQuote("OUTPUT\\n"+f.Output.String()))
	rows, labels, fills := make([]string, len(boxes)), make([]string, len(boxes)), make([]string, len(boxes))
	for i, bx := range boxes {
		rows[i], labels[i], fills[i] = bx.row, bx.label, "#c6dbef"
		switch {
		case strings.Contains(bx.label, "MaxPool") || strings.Contains(bx.label, "Reduce"):
			fills[i] = "#fdd0a2"
		case strings.Contains(bx.label, "Gemm"):
			fills[i] = "#c7e9c0"
		case strings.Contains(bx.label, "Transpose") || strings.Contains(bx.label, "Flatten"):
			fills[i] = "#eeeeee"
		}
	}
	first := dotRows(&b, rows, labels, fills)
	for i, bx := range boxes {
		for _, in := range bx.inputs {
			from := "in"
			if p, ok := producer[in]; ok {
				from = fmt.Sprintf("n%d", p)
			}
			attr := ""
			if first[i] && from != "in" {
				attr = " [constraint=false]"
			}
			fmt.Fprintf(&b, "%s -> n%d%s;\n", from, i, attr)
		}
	}
	if p, ok := producer[f.Output.Name]; ok {
		fmt.Fprintf(&b, "n%d -> out;\n", p)
	}
	b.WriteString("}\n")
	return RenderDOT(b.String())
}

// wrap breaks s into lines of at most width characters at spaces (a longer
// word stays whole).
func wrap(s string, width int) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return append(lines, line)
}
