package dataset_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/dataset"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/internal/parquetcheck"
	"github.com/vggnb/vggnb/weights"
)

// images writes n small PNGs (and a broken one) under dir/a and dir/b/c,
// returning their paths sorted, the broken one among them.
func images(t *testing.T, dir string, n int) []string {
	t.Helper()
	var paths []string
	for i := range n {
		sub := filepath.Join(dir, "a")
		if i%2 == 1 {
			sub = filepath.Join(dir, "b", "c")
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		img := image.NewNRGBA(image.Rect(0, 0, 20+i, 24))
		for y := range 24 {
			for x := range 20 + i {
				img.Set(x, y, color.NRGBA{uint8(x * 11 * (i + 1)), uint8(y * 7), uint8((x + y + i) * 5), 255})
			}
		}
		var b bytes.Buffer
		png.Encode(&b, img)
		p := filepath.Join(sub, fmt.Sprintf("img%02d.png", i))
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	broken := filepath.Join(dir, "a", "broken.png")
	if err := os.WriteFile(broken, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a", "notes.txt"), []byte("not an image"), 0o644)
	paths = append(paths, broken)
	slices.Sort(paths)
	return paths
}

var (
	modelOnce sync.Once
	model     *gomlx_vgg.Model
	modelErr  error
)

// block1 is VGG16 cut at block1_pool with synthetic weights, 32x32 inputs.
func block1(t *testing.T) *gomlx_vgg.Model {
	modelOnce.Do(func() {
		m, err := gomlx_vgg.VGG16().IncludeTop(false).InputShape(32, 32, 3).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil).Done()
		if err == nil {
			m, err = m.Truncate("block1_pool")
		}
		model, modelErr = m, err
	})
	if modelErr != nil {
		t.Fatal(modelErr)
	}
	return model
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	want := images(t, dir, 5)
	got, err := dataset.List(dir)
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("List(dir) = %v, %v; want %v", got, err, want)
	}
	manifest := filepath.Join(dir, "list.txt")
	os.WriteFile(manifest, []byte("# images\nb/c/img01.png\n\n"+want[0]+"\nb/c/img01.png\n"), 0o644)
	got, err = dataset.List("@"+manifest, filepath.Join(dir, "b", "c", "*.png"))
	if wantM := []string{want[0], filepath.Join(dir, "b", "c", "img01.png"), filepath.Join(dir, "b", "c", "img03.png")}; err != nil || !slices.Equal(got, wantM) {
		t.Errorf("List(manifest, glob) = %v, %v; want %v (sorted, no duplicates)", got, err, wantM)
	}
	if _, err := dataset.List(filepath.Join(dir, "*.jpg")); !errors.Is(err, dataset.ErrNoImages) {
		t.Errorf("an empty glob: %v, want ErrNoImages", err)
	}
	if _, err := dataset.List(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing directory: no error")
	}
}

func TestShards(t *testing.T) {
	paths := make([]string, 23)
	for i := range paths {
		paths[i] = fmt.Sprint(i)
	}
	for _, n := range []int{1, 2, 3, 7, 23, 30} {
		var all []string
		for i := range n {
			s, err := dataset.ParseShard(fmt.Sprintf("%d/%d", i, n))
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, s.Of(paths)...)
		}
		if !slices.Equal(all, paths) {
			t.Errorf("%d shards cover %v, want every path once, in order", n, all)
		}
	}
	for _, bad := range []string{"3/3", "-1/2", "1", "a/b", "0/0"} {
		if _, err := dataset.ParseShard(bad); err == nil {
			t.Errorf("ParseShard(%q): no error", bad)
		}
	}
	if got := (dataset.Shard{Index: 3, Count: 8}).Name(); got != "part-00003-of-00008.parquet" {
		t.Errorf("Name() = %s", got)
	}
}

// single is what a single-image run gives for path: load_img, preprocess,
// the layer's output, pooled by averaging over the pixels.
func single(t *testing.T, m *gomlx_vgg.Model, path string) []float32 {
	img, err := imagenet.LoadImg(path, imagenet.TargetSize(32, 32))
	if err != nil {
		t.Fatal(err)
	}
	x, err := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
	if err != nil {
		t.Fatal(err)
	}
	outs, err := m.Outputs(imagenet.MustBatch(x), "block1_pool")
	if err != nil {
		t.Fatal(err)
	}
	y := outs["block1_pool"]
	d := y.Shape().Dimensions
	v := tensors.MustCopyFlatData[float32](y)
	out := make([]float32, d[3])
	for c := range d[3] {
		var sum float64
		for p := range d[1] * d[2] {
			sum += float64(v[p*d[3]+c])
		}
		out[c] = float32(sum / float64(d[1]*d[2]))
	}
	return out
}

// TestWriteShard: a dataset written as one shard, and as three merged, give
// the same rows, each equal to a single-image run; the broken image is a row
// of the errors file; an independent reader (hyparquet) reads the same.
func TestWriteShard(t *testing.T) {
	m := block1(t)
	dir := t.TempDir()
	paths := images(t, filepath.Join(dir, "in"), 9)
	spec := dataset.Spec{Model: m, Pooling: gomlx_vgg.PoolingAvg, BatchSize: 4, RowGroup: 3}
	ctx := context.Background()
	res, err := dataset.WriteShard(ctx, filepath.Join(dir, "one"), dataset.Shard{}, spec, paths)
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 9 || res.Errors != 1 || res.Skipped {
		t.Fatalf("one shard: %+v, want 9 rows and 1 error", res)
	}
	rows, err := dataset.Read[dataset.FeatureRow](res.Path)
	if err != nil {
		t.Fatal(err)
	}
	errs, err := dataset.Read[dataset.ErrorRow](res.ErrorsPath)
	if err != nil || len(errs) != 1 || !strings.HasSuffix(errs[0].Path, "broken.png") || errs[0].Error == "" {
		t.Errorf("errors file: %+v, %v; want broken.png and its reason", errs, err)
	}
	for _, r := range rows {
		want := single(t, m, r.Path)
		if !slices.Equal(r.Shape, []int32{64}) || !close(r.Values, want) {
			t.Errorf("%s: shape %v, values differ from a single-image run", r.Path, r.Shape)
		}
	}
	var merged []dataset.FeatureRow
	for i := range 3 {
		res, err := dataset.WriteShard(ctx, filepath.Join(dir, "three"), dataset.Shard{Index: i, Count: 3}, spec, paths)
		if err != nil {
			t.Fatal(err)
		}
		part, err := dataset.Read[dataset.FeatureRow](res.Path)
		if err != nil {
			t.Fatal(err)
		}
		merged = append(merged, part...)
	}
	if !slices.EqualFunc(merged, rows, equalRows) {
		t.Errorf("three shards merged differ from one shard")
	}
	// hyparquet, in Node.js, reads the same rows and metadata.
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.parquet"))
	checked := 0
	for _, f := range readIndependently(t, files...) {
		if strings.HasSuffix(f.Path, "errors.parquet") && strings.Contains(f.Path, "/one/") && (len(f.Rows) != 1 || !strings.HasSuffix(f.Rows[0].Path, "broken.png")) {
			t.Errorf("hyparquet reads the errors file as %+v", f.Rows)
		}
		if !strings.Contains(f.Path, "/one/") || strings.HasSuffix(f.Path, "errors.parquet") {
			continue
		}
		checked++
		if len(f.Rows) != len(rows) || f.Metadata[dataset.MetaCount] != "9" || f.RowGroups != 3 {
			t.Fatalf("hyparquet: %d rows, %d row groups, metadata %v; want 9 rows in 3 groups", len(f.Rows), f.RowGroups, f.Metadata)
		}
		for i, r := range f.Rows {
			if r.Path != rows[i].Path || !slices.Equal(r.Shape, rows[i].Shape) || !slices.Equal(r.Values, rows[i].Values) {
				t.Errorf("hyparquet's row %d (%s) differs from vggnb's", i, r.Path)
			}
		}
	}
	if checked != 1 || len(files) != 8 {
		t.Errorf("hyparquet checked %d features files of %d files, want 1 of 8", checked, len(files))
	}
}

func equalRows(a, b dataset.FeatureRow) bool {
	return a.Path == b.Path && slices.Equal(a.Shape, b.Shape) && slices.Equal(a.Values, b.Values)
}

// close reports whether got is within float32 rounding of want.
func close(got, want []float32) bool {
	if len(got) != len(want) {
		return false
	}
	var diff, top float32
	for i := range want {
		diff, top = max(diff, abs(got[i]-want[i])), max(top, abs(want[i]))
	}
	return diff <= 1e-5*top
}

func abs(v float32) float32 { return max(v, -v) }

// TestResume: a rerun skips a verified shard; a damaged file, a stale
// temporary file or other options make it write the shard again, byte for
// byte as the first time; a run stopped midway leaves no file.
func TestResume(t *testing.T) {
	m := block1(t)
	dir := t.TempDir()
	paths := images(t, filepath.Join(dir, "in"), 6)
	spec := dataset.Spec{Model: m, Pooling: gomlx_vgg.PoolingMax, BatchSize: 2}
	out := filepath.Join(dir, "out")
	ctx := context.Background()
	shard := dataset.Shard{Index: 1, Count: 2}
	first, err := dataset.WriteShard(ctx, out, shard, spec, paths)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(first.Path)
	again, err := dataset.WriteShard(ctx, out, shard, spec, paths)
	if err != nil || !again.Skipped || again.Rows != first.Rows {
		t.Errorf("a rerun: %+v, %v; want it skipped with %d rows", again, err, first.Rows)
	}
	// Damaged: a flipped byte in a value.
	b := slices.Clone(want)
	b[len(b)/3] ^= 0x40
	os.WriteFile(first.Path, b, 0o644)
	os.WriteFile(filepath.Join(out, "."+shard.Name()+".tmp-123"), []byte("partial"), 0o600)
	if _, err := dataset.Verify(first.Path, "x"); !errors.Is(err, dataset.ErrNotVerified) {
		t.Errorf("Verify of a damaged file: %v", err)
	}
	redone, err := dataset.WriteShard(ctx, out, shard, spec, paths)
	got, _ := os.ReadFile(first.Path)
	if err != nil || redone.Skipped || !bytes.Equal(got, want) {
		t.Errorf("a damaged shard: %+v, %v; want it written again, identical (%v)", redone, err, bytes.Equal(got, want))
	}
	if stale, _ := filepath.Glob(filepath.Join(out, ".*")); len(stale) > 0 {
		t.Errorf("stale temporary files left: %v", stale)
	}
	spec.Pooling = gomlx_vgg.PoolingAvg
	if other, err := dataset.WriteShard(ctx, out, shard, spec, paths); err != nil || other.Skipped {
		t.Errorf("other options: %+v, %v; want the shard written again", other, err)
	}
	// Stopped midway (Ctrl-C): no file at all, and nothing hidden left.
	stopped := filepath.Join(dir, "stopped")
	cctx, cancel := context.WithCancel(ctx)
	spec.Progress = func(p dataset.Progress) {
		if p.Done >= 2 {
			cancel()
		}
	}
	if _, err := dataset.WriteShard(cctx, stopped, dataset.Shard{}, spec, paths); !errors.Is(err, context.Canceled) {
		t.Errorf("a stopped run: %v, want context.Canceled", err)
	}
	if left, _ := os.ReadDir(stopped); len(left) > 0 {
		t.Errorf("a stopped run left %v", left)
	}
}

// TestPredictions: top-k rows hold the classifier's k best classes, as
// DecodePredictions gives them for the same image alone.
func TestPredictions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds VGG16 with its top (synthetic weights)")
	}
	m, err := gomlx_vgg.VGG16().Weights(gomlx_vgg.WeightsSynthetic).Notices(nil).Done()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	paths := images(t, filepath.Join(dir, "in"), 3)
	res, err := dataset.WriteShard(context.Background(), filepath.Join(dir, "out"), dataset.Shard{}, dataset.Spec{Model: m, TopK: 3}, paths)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := dataset.Read[dataset.PredictionRow](res.Path)
	if err != nil || len(rows) != 3 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	if _, err := dataset.Verify(res.Path, "wrong key"); !errors.Is(err, dataset.ErrNotVerified) {
		t.Errorf("Verify with another key: %v", err)
	}
	for _, r := range rows {
		img, _ := imagenet.LoadImg(r.Path, imagenet.TargetSize(224, 224))
		x, _ := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
		y, err := m.Predict(imagenet.MustBatch(x))
		if err != nil {
			t.Fatal(err)
		}
		want, _ := imagenet.DecodePredictions(y, 3)
		for i, p := range want[0] {
			if r.Classes[i] != int32(p.Index) || r.Labels[i] != p.Name || abs(r.Scores[i]-p.Score) > 1e-6 {
				t.Errorf("%s: class %d is %d %s %g, want %d %s %g", r.Path, i, r.Classes[i], r.Labels[i], r.Scores[i], p.Index, p.Name, p.Score)
			}
		}
	}
	for _, f := range readIndependently(t, res.Path) {
		if len(f.Rows) != 3 || len(f.Rows[0].Labels) != 3 || f.Rows[0].Labels[0] != rows[0].Labels[0] {
			t.Errorf("hyparquet reads %+v", f.Rows)
		}
	}
}

// readIndependently reads files with hyparquet (internal/parquetcheck).
func readIndependently(t *testing.T, files ...string) []parquetcheck.File {
	t.Helper()
	res, err := parquetcheck.Read(context.Background(), filepath.Join("..", "..", "scripts", "parquet"), t.TempDir(), files...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}
