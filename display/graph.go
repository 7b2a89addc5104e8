package display

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// GraphvizHelper is the command RenderDOT runs (cmd/vggnb-graphviz).
const GraphvizHelper = "vggnb-graphviz"

// helperPackage is the Go package that builds GraphvizHelper.
const helperPackage = "github.com/vggnb/vggnb/cmd/" + GraphvizHelper

// RenderDOT lays out a Graphviz DOT graph and returns it as SVG. Graphviz runs
// as WebAssembly in its own process, the vggnb-graphviz command, so that nothing
// graphviz-related happens in this one until a graph is drawn: its compiled
// module is cached under the user's vggnb cache (download.CacheDir()/graphviz),
// never in a shared temp directory.
//
// The command is found as $VGGNB_GRAPHVIZ, on PATH, beside this executable, or
// in download.CacheDir()/bin; failing those it is built there with `go build`
// (from $VGGNB_CHECKOUT or the working directory, as in a GoNB cell or a
// checkout), and built again when that module selects other versions of
// go-graphviz or wazero than the cached one has. Errors say which and how to
// install it.
func RenderDOT(dot string) (SVG, error) {
	helper, err := graphvizCommand()
	if err != nil {
		return "", err
	}
	tmp := filepath.Join(download.CacheDir(), "graphviz")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return "", fmt.Errorf("display: graphviz cache: %w (set VGGNB_CACHE to a writable directory)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helper)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stdin = strings.NewReader(dot)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("display: graphviz (%s): %v: %s", helper, err, strings.TrimSpace(clip(stderr.String(), 1000)))
	}
	return SVG(fitWidth(stripProlog(stdout.String()))), nil
}

var svgOpen = regexp.MustCompile(`<svg\b`)

// fitWidth lets an SVG shrink to its container (a notebook column) instead of
// overflowing it: max-width 100% and an automatic height, with its viewBox (which
// Graphviz writes) keeping the proportions. Small drawings keep their size.
func fitWidth(svg string) string {
	return svgOpen.ReplaceAllLiteralString(svg, `<svg style="max-width:100%;height:auto"`)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// clip keeps the first and the last n bytes of s: a crash's reason (a Go
// runtime's "fatal error: ..." comes first) and its last words.
func clip(s string, n int) string {
	if len(s) > 2*n {
		return s[:n] + " … " + s[len(s)-n:]
	}
	return s
}

var (
	helperOnce sync.Once
	helperPath string
	helperErr  error
)

// graphvizCommand finds (or, once, builds) the vggnb-graphviz command.
func graphvizCommand() (string, error) {
	helperOnce.Do(func() { helperPath, helperErr = findOrBuildHelper() })
	return helperPath, helperErr
}

func findOrBuildHelper() (string, error) {
	if p := os.Getenv("VGGNB_GRAPHVIZ"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("display: VGGNB_GRAPHVIZ: %w", err)
		}
		return p, nil
	}
	if p, err := exec.LookPath(GraphvizHelper); err == nil {
		return p, nil
	}
	cached := filepath.Join(download.CacheDir(), "bin", GraphvizHelper)
	candidates := []string{cached}
	if exe, err := os.Executable(); err == nil {
		candidates = append([]string{filepath.Join(filepath.Dir(exe), GraphvizHelper)}, candidates...)
	}
	goBin, goErr := exec.LookPath("go")
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			// The cached copy is ours: rebuilt when the checkout has moved on.
			if p != cached || goErr != nil || !helperStale(goBin, p) {
				return p, nil
			}
		}
	}
	install := "go install " + helperPackage + " (vggnb kernel install does), or set VGGNB_GRAPHVIZ"
	if goErr != nil {
		return "", fmt.Errorf("display: drawing graphs needs the %s command, not found on PATH, beside %s or in %s, and no go to build it: %s",
			GraphvizHelper, os.Args[0], filepath.Dir(cached), install)
	}
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		return "", fmt.Errorf("display: building %s: %w; %s", GraphvizHelper, err, install)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", cached, os.Getpid())
	cmd := exec.Command(goBin, "build", "-o", tmp, helperPackage)
	cmd.Dir = os.Getenv("VGGNB_CHECKOUT")
	cmd.Env = append(os.Environ(), "GOEXPERIMENT=")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return "", fmt.Errorf("display: drawing graphs needs the %s command; building it failed (%v: %s); %s",
			GraphvizHelper, err, strings.TrimSpace(tail(string(out), 1000)), install)
	}
	if err := os.Rename(tmp, cached); err != nil {
		_ = os.Remove(tmp)
		return "", errors.Join(fmt.Errorf("display: installing %s", GraphvizHelper), err)
	}
	return cached, nil
}

// helperModules are the modules whose versions the built helper's behaviour
// depends on: go-graphviz and the WebAssembly runtime it runs Graphviz with
// (wazero 1.8 crashes on Go 1.24+ on Intel CPUs with fast string moves: its
// compiled code calls runtime.memmove, whose register use changed).
var helperModules = []string{"github.com/goccy/go-graphviz", "github.com/tetratelabs/wazero"}

// helperStale reports whether the helper at path was built with other versions
// of helperModules than the module `go build` would build it from now selects
// ($VGGNB_CHECKOUT or the working directory). When either cannot be read it
// reports false: the helper there is used as it is.
func helperStale(goBin, path string) bool {
	built, err := buildinfo.ReadFile(path)
	if err != nil {
		return false
	}
	list := exec.Command(goBin, append([]string{"list", "-m", "-f", "{{.Path}} {{.Version}}"}, helperModules...)...)
	list.Dir = os.Getenv("VGGNB_CHECKOUT")
	want, err := list.Output()
	if err != nil {
		return false
	}
	have := map[string]string{}
	for _, dep := range built.Deps {
		have[dep.Path] = dep.Version
	}
	for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		if mod, version, ok := strings.Cut(line, " "); ok && have[mod] != version {
			return true
		}
	}
	return false
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
