package display

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/weights"
)

func TestRenderers(t *testing.T) {
	m := gomlx_vgg.VGG16().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil).MustDone()
	img, err := imagenet.DemoImage(imagenet.TargetSize(64, 96))
	if err != nil {
		t.Fatal(err)
	}
	x := imagenet.MustBatch(imagenet.MustPreprocessInput(imagenet.ImgToArray(img, 0), 0))
	outs, err := m.Outputs(x, gomlx_vgg.AllLayers)
	if err != nil {
		t.Fatal(err)
	}
	stats := m.Stats(outs)
	if len(stats) != 18 || stats[0].Layer != "block1_conv1" {
		t.Fatalf("stats rows %d, first %q", len(stats), stats[0].Layer)
	}
	tbl := StatsTable("VGG16", stats)
	for _, w := range []string{"<table", "block5_pool", "[1 2 3 512]"} {
		if !strings.Contains(string(tbl), w) {
			t.Errorf("stats table lacks %q", w)
		}
	}
	means := ChannelMeans(outs["block1_conv1"])
	if len(means) != 64 {
		t.Errorf("%d channel means", len(means))
	}
	grid, err := ActivationGrid(outs["block1_conv1"], Channels(16), Columns(4))
	if err != nil {
		t.Fatal(err)
	}
	pimg, err := png.Decode(bytes.NewReader(grid))
	if err != nil {
		t.Fatal(err)
	}
	// 4 columns of 96 px tiles (64x96 maps, scale 1) with 2 px gaps.
	if w := pimg.Bounds().Dx(); w != 4*(96+2)+2 {
		t.Errorf("grid width %d", w)
	}
	if _, err := ActivationGrid(tensors.FromFlatDataAndDimensions(make([]float32, 64*96*64), 64*96, 64)); err == nil {
		t.Error("2-D activation accepted")
	}
	for name, svg := range map[string]SVG{
		"histogram": Histogram("block5_conv3", outs["block5_conv3"], 40, true),
		"means":     LayerMeans("layer means", stats),
	} {
		if !strings.HasPrefix(string(svg), "<svg") || !strings.Contains(string(svg), "<rect") {
			t.Errorf("%s is not an SVG chart", name)
		}
	}
	sum := string(Summary(m))
	for _, w := range []string{"block1_conv1 (Conv2D)", "(None, None, None, 64)", "14714688"} {
		if !strings.Contains(sum, w) {
			t.Errorf("summary lacks %q", w)
		}
	}
	lg, err := LayerGraph(m)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(lg), "<svg") || !strings.Contains(string(lg), "block5_conv3") {
		t.Errorf("layer graph: %.200s", lg)
	}
	groups, err := m.Ops(1, 64, 96, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(lg), `<svg style="max-width:100%;height:auto"`) || !strings.Contains(string(lg), "viewBox=") {
		t.Error("the layer graph does not shrink to its column (max-width, viewBox)")
	}
	og, err := OpGraph(groups, 4)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(og), "DotGeneral") || !strings.Contains(string(og), "block1_pool") {
		t.Errorf("op graph lacks the conv matmul or the layer boxes")
	}
	// im2col's nine slices per 3x3 convolution are one node each, not nine side by side.
	if n := strings.Count(string(og), ">Slice ×9<"); n != 2 {
		t.Errorf("op graph draws %d merged nodes Slice ×9, want 2 (block1_conv1, block1_conv2)", n)
	}
	if n := strings.Count(string(og), ">Slice<"); n != 0 {
		t.Errorf("op graph still draws %d single Slice nodes", n)
	}
	if !strings.Contains(string(OpCounts(groups)), "DotGeneral") {
		t.Error("op counts lack DotGeneral")
	}
}

// TestConsistencyTable renders a report with failures, problems and a peer column.
func TestConsistencyTable(t *testing.T) {
	a := consistency.Activations{Name: "a", Layers: map[string]consistency.Activation{
		"l1": {Shape: []int{2}, Data: []float64{1, 2}},
		"l2": {Shape: []int{2}, Data: []float64{1, 2}},
	}}
	b := consistency.Activations{Name: "b", Layers: map[string]consistency.Activation{
		"l1": {Shape: []int{2}, Data: []float64{1, 2.00001}},
		"l2": {Shape: []int{1, 2}, Data: []float64{1, 2}},
	}}
	peer := consistency.Activations{Name: "PyTorch float32", Layers: map[string]consistency.Activation{
		"l1": {Shape: []int{2}, Data: []float64{1, 2.00003}},
	}}
	h := string(ConsistencyTable(consistency.Check(a, b, []string{"l1", "l2", "l3"}, 1e-4).Beside(peer)))
	chart := string(DifferenceChart(consistency.Check(a, b, []string{"l1", "l2", "l3"}, 1e-4)))
	for _, w := range []string{"a vs b: 2 of 3 layers differ", "tolerance 1e-04", "l1: 4.99998e-06", "l2 (shape [2] vs [1 2])", "<svg"} {
		if !strings.Contains(chart, w) {
			t.Errorf("difference chart lacks %q", w)
		}
	}
	for _, w := range []string{"PASS", "FAIL (2 layers)", "shape [2] vs [1 2]", "missing in", "rel (PyTorch float32)", "1.00e-05", "—"} {
		if !strings.Contains(h, w) {
			t.Errorf("report lacks %q", w)
		}
	}
}

func TestShowWritesFilesOutsideNotebooks(t *testing.T) {
	dir := t.TempDir()
	Configure(Config{Dir: dir})
	defer Configure(Config{})
	if err := Show(HTML("<b>x</b>"), SVG("<svg/>"), PNG([]byte{1}), "text"); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(files) != 4 {
		t.Fatalf("files %v", files)
	}
	if b, _ := os.ReadFile(files[0]); string(b) != "<b>x</b>" {
		t.Errorf("first file %q", b)
	}
	if err := Show(42); err == nil {
		t.Error("showing an int succeeded")
	}
}

func TestLivePlot(t *testing.T) {
	p := NewLivePlot("training")
	for i := range 10 {
		p.Add("loss", float64(i), 1/float64(i+1))
		p.Add("accuracy", float64(i), float64(i)/10)
	}
	p.Update() // no-op outside a notebook
	svg := string(p.SVG())
	if strings.Count(svg, "<polyline") != 2 || !strings.Contains(svg, "loss (last 0.1)") || !strings.Contains(svg, "accuracy (last 0.9)") {
		t.Errorf("live plot: %.300s", svg)
	}
}

func TestTitleLines(t *testing.T) {
	for _, c := range []struct {
		title string
		want  []string
	}{
		{"VGG19(include_top=False, weights=f.h5, input_shape=(200, 300, 3))",
			[]string{"VGG19", "include_top=False", "weights=f.h5", "input_shape=(200, 300, 3)"}},
		{"VGG16(pooling=[a, b])", []string{"VGG16", "pooling=[a, b]"}},
		{"VGG16()", []string{"VGG16"}},
		{"plain title", []string{"plain title"}},
		{"unclosed(a, b", []string{"unclosed(a, b"}},
	} {
		if got := titleLines(c.title); !slices.Equal(got, c.want) {
			t.Errorf("titleLines(%q) = %q, want %q", c.title, got, c.want)
		}
	}
}

func TestLayerRows(t *testing.T) {
	layers := []gomlx_vgg.Layer{
		{Name: "input_1", Class: weights.InputLayer},
		{Name: "block1_conv1"}, {Name: "block1_pool"},
		{Name: "block2_conv1"}, {Name: "block2_pool"},
		{Name: "flatten"}, {Name: "fc1"}, {Name: "predictions"},
	}
	var got []string
	for _, r := range layerRows(layers) {
		got = append(got, fmt.Sprint(r.name, r.layers))
	}
	want := []string{"input[0]", "block1[1 2]", "block2[3 4]", "top[5 6 7]"}
	if !slices.Equal(got, want) {
		t.Errorf("layerRows = %q, want %q", got, want)
	}
}

func TestTick(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{{1771.3, "1771"}, {416.1, "416"}, {0.5703, "0.57"}, {12.34, "12.3"}, {0, "0"}, {250000, "2.5e+05"},
		{-0.0000123, "-1.2e-05"}, {99999, "99999"}, {-345.6, "-346"}} {
		if got := tick(c.v); got != c.want || len(got) > 8 {
			t.Errorf("tick(%g) = %q, want %q", c.v, got, c.want)
		}
	}
}

// TestGallery: the gallery shows every image with its caption, in order, at
// the width asked; a nil image is refused.
func TestGallery(t *testing.T) {
	g := NewGallery("style <transfer>", 96)
	for i, c := range []string{"step 0", "step 5 & more"} {
		img := image.NewNRGBA(image.Rect(0, 0, 4+i, 3))
		if err := g.Add(c, img); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.Add("none", nil); err == nil || !strings.Contains(err.Error(), `nil image for "none"`) {
		t.Errorf("Add(nil): %v", err)
	}
	h := string(g.HTML())
	for _, want := range []string{"style &lt;transfer&gt;", `alt="step 0" width="96"`, "step 5 &amp; more"} {
		if !strings.Contains(h, want) {
			t.Errorf("gallery HTML lacks %q", want)
		}
	}
	if n := strings.Count(h, "data:image/png;base64,"); n != 2 {
		t.Errorf("%d images, want 2", n)
	}
	if strings.Index(h, "step 0") > strings.Index(h, "step 5") {
		t.Error("images out of order")
	}
}
