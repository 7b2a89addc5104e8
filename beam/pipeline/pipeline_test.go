package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/vggnb/vggnb/beam/pipeline"
	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/dataset"
	"github.com/vggnb/vggnb/internal/parquetcheck"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// TestPrism: the pipeline on Prism (Beam's in-process runner) writes shards
// whose rows, merged, equal one `vggnb features --dataset` process's.
func TestPrism(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o755)
	for i := range 11 {
		img := image.NewNRGBA(image.Rect(0, 0, 40+i, 36))
		for y := range 36 {
			for x := range 40 + i {
				img.Set(x, y, color.NRGBA{uint8(x * (i + 2)), uint8(y * 5), uint8(i * 17), 255})
			}
		}
		var b bytes.Buffer
		png.Encode(&b, img)
		os.WriteFile(filepath.Join(in, fmt.Sprintf("%02d.png", i)), b.Bytes(), 0o644)
	}
	os.WriteFile(filepath.Join(in, "broken.png"), []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	os.WriteFile(filepath.Join(in, "notes.txt"), []byte("skipped"), 0o644)

	o := pipeline.Options{Pattern: filepath.Join(in, "*"), Out: filepath.Join(dir, "beam"), Shards: 3, Model: "vgg16", Weights: "synthetic", Seed: 1,
		Layer: "block1_pool", Pooling: "avg", Height: 32, Width: 32, Interpolation: "nearest", Batch: 4, RowGroup: 5}
	if r := ptest.DefaultRunner(); r != "prism" {
		t.Fatalf("ptest runs on %s, want prism (Beam's in-process runner)", r)
	}
	p, s := beam.NewPipelineWithRoot()
	lines := pipeline.Build(s, o)
	passert.Count(s, lines, "shards", 3)
	if err := ptest.Run(p); err != nil {
		t.Fatalf("the pipeline: %v", err)
	}
	var beamRows []dataset.FeatureRow
	var beamErrs []dataset.ErrorRow
	for i := range 3 {
		sh := dataset.Shard{Index: i, Count: 3}
		rows, err := dataset.Read[dataset.FeatureRow](filepath.Join(o.Out, sh.Name()))
		if err != nil {
			t.Fatal(err)
		}
		errs, err := dataset.Read[dataset.ErrorRow](filepath.Join(o.Out, sh.ErrorsName()))
		if err != nil {
			t.Fatal(err)
		}
		beamRows, beamErrs = append(beamRows, rows...), append(beamErrs, errs...)
	}

	// One process, as the CLI runs it.
	m, err := gomlx_vgg.VGG16().IncludeTop(false).InputShape(32, 32, 3).Weights(gomlx_vgg.WeightsSynthetic).Seed(1).Notices(nil).Done()
	if err != nil {
		t.Fatal(err)
	}
	paths, err := dataset.List(in)
	if err != nil {
		t.Fatal(err)
	}
	res, err := dataset.WriteShard(context.Background(), filepath.Join(dir, "cli"), dataset.Shard{},
		dataset.Spec{Model: m, Layer: "block1_pool", Pooling: gomlx_vgg.PoolingAvg, Height: 32, Width: 32, BatchSize: 4}, paths)
	if err != nil {
		t.Fatal(err)
	}
	want, err := dataset.Read[dataset.FeatureRow](res.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(want) != 11 || len(beamRows) != len(want) {
		t.Fatalf("beam wrote %d rows, one process %d; want 11", len(beamRows), len(want))
	}
	for i := range want {
		if beamRows[i].Path != want[i].Path || !slices.Equal(beamRows[i].Shape, want[i].Shape) || !slices.Equal(beamRows[i].Values, want[i].Values) {
			t.Errorf("row %d: beam's %s differs from one process's %s", i, beamRows[i].Path, want[i].Path)
		}
	}
	// hyparquet reads Beam's files as vggnb's reader does.
	var files []string
	for i := range 3 {
		sh := dataset.Shard{Index: i, Count: 3}
		files = append(files, filepath.Join(o.Out, sh.Name()))
	}
	read, err := parquetcheck.Read(context.Background(), filepath.Join("..", "..", "scripts", "parquet"), t.TempDir(), files...)
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	for _, f := range read {
		for _, r := range f.Rows {
			if at >= len(want) || r.Path != want[at].Path || !slices.Equal(r.Values, want[at].Values) {
				t.Fatalf("hyparquet's row %d of Beam's files (%s) differs from one process's", at, r.Path)
			}
			at++
		}
	}
	if at != len(want) {
		t.Errorf("hyparquet read %d rows of Beam's files, want %d", at, len(want))
	}
	if len(beamErrs) != 1 || !strings.HasSuffix(beamErrs[0].Path, "broken.png") {
		t.Errorf("beam's errors: %+v, want broken.png", beamErrs)
	}
}
