// Package pipeline is vggnb's dataset run (package gomlx_vgg/dataset) as an
// Apache Beam pipeline: match the images with Beam's fileio (so gs:// and
// s3:// work where Beam's filesystems do), sort and split them into shards as
// `vggnb features --dataset --shard i/N` does, spread the shards over the
// workers, and in each run the same library function (dataset.WritePart, or
// dataset.Encode for a remote output) with the model loaded once per worker
// (Setup). Every shard's Parquet file has the rows the CLI's has.
package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/gcs"   // gs://
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/local" // paths
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/s3"    // s3://
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/dataset"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
)

// Options are the pipeline's: what `vggnb features|predict --dataset` takes.
type Options struct {
	// Pattern is the images' glob (fileio.MatchFiles'): /data/*/*.jpg,
	// gs://bucket/images/**, ...; files without an image extension are skipped.
	Pattern string
	// Out is the output directory (a path, gs://... or s3://...).
	Out string
	// Shards is how many shards (and files) the images are split into.
	Shards int
	// Model (vgg16, vgg19), Weights (auto, imagenet, synthetic, an .h5 file),
	// Seed (of synthetic weights) and IncludeTop build the model.
	Model, Weights string
	Seed           uint64
	IncludeTop     bool
	// Layer, Pooling, TopK, Height, Width, Interpolation, Batch and RowGroup
	// are dataset.Spec's.
	Layer, Pooling, Interpolation string
	TopK, Height, Width           int
	Batch, RowGroup               int
}

func init() {
	register.Function2x1(pathOf)
	register.DoFn3x0[int, func(*string) bool, func(int, []string)]((*splitFn)(nil))
	register.DoFn4x1[context.Context, int, []string, func(string), error]((*shardFn)(nil))
	register.Emitter1[string]()
	register.Emitter2[int, []string]()
	register.Iter1[string]()
}

// Build adds the pipeline to s and returns one line per shard written.
func Build(s beam.Scope, o Options) beam.PCollection {
	s = s.Scope("vggnb.dataset")
	files := fileio.MatchFiles(s, o.Pattern)
	paths := beam.ParDo(s, pathOf, files)
	keyed := beam.AddFixedKey(s, paths)
	shards := beam.ParDo(s, &splitFn{Shards: o.Shards}, beam.GroupByKey(s, keyed))
	lines := beam.ParDo(s, &shardFn{Options: o}, beam.Reshuffle(s, shards))
	// The lines leave the shards' stage through a shuffle: Prism (Beam 2.78)
	// spins a core for the whole of a bundle whose stage has no output, which
	// that stage would be with a sink (debug.Print, a file write) fused into
	// it; measured, 60% more time than the same run without Beam.
	return beam.Reshuffle(s, lines)
}

// pathOf is a matched file's path if it is an image (else none).
func pathOf(m fileio.FileMetadata, emit func(string)) error {
	if slices.Contains(dataset.Extensions, strings.ToLower(path.Ext(m.Path))) {
		emit(m.Path)
	}
	return nil
}

// splitFn sorts every path and emits each shard's part, as dataset.Shard
// splits them.
type splitFn struct {
	Shards int
}

func (f *splitFn) ProcessElement(_ int, iter func(*string) bool, emit func(int, []string)) {
	var all []string
	var p string
	for iter(&p) {
		all = append(all, p)
	}
	slices.Sort(all)
	all = slices.Compact(all)
	for i := range max(f.Shards, 1) {
		emit(i, dataset.Shard{Index: i, Count: max(f.Shards, 1)}.Of(all))
	}
}

// shardFn writes shards with a model built once per worker.
type shardFn struct {
	Options Options
	model   *gomlx_vgg.Model
}

// Setup builds the model: once per worker, whatever the shards it runs.
func (f *shardFn) Setup(ctx context.Context) error {
	o := f.Options
	b := gomlx_vgg.New(o.Model).IncludeTop(o.IncludeTop).Weights(gomlx_vgg.WeightSource(o.Weights)).Seed(o.Seed).Notices(nil).Context(ctx)
	if !o.IncludeTop && o.Height > 0 && o.Width > 0 {
		b = b.InputShape(o.Height, o.Width, 3)
	}
	m, err := b.Done()
	if err != nil {
		return fmt.Errorf("vggnb pipeline: %w", err)
	}
	f.model = m
	return nil
}

func (f *shardFn) spec() dataset.Spec {
	o := f.Options
	return dataset.Spec{Model: f.model, Layer: o.Layer, Pooling: gomlx_vgg.Pooling(o.Pooling), TopK: o.TopK, Height: o.Height, Width: o.Width,
		Interpolation: imagenet.Filter(o.Interpolation), BatchSize: o.Batch, RowGroup: o.RowGroup}
}

func (f *shardFn) ProcessElement(ctx context.Context, index int, part []string, emit func(string)) error {
	shard := dataset.Shard{Index: index, Count: max(f.Options.Shards, 1)}
	spec := f.spec()
	spec.Open = func(p string) (io.ReadCloser, error) { return open(ctx, p) }
	if !strings.Contains(f.Options.Out, "://") { // a path: whole files, resumable
		res, err := dataset.WritePart(ctx, f.Options.Out, shard, spec, part)
		if err != nil {
			return fmt.Errorf("vggnb pipeline: shard %s: %w", shard, err)
		}
		emit(fmt.Sprintf("%s: %d rows, %d broken (skipped: %v)", res.Path, res.Rows, res.Errors, res.Skipped))
		return nil
	}
	var rows, errs bytes.Buffer
	res, err := dataset.Encode(ctx, &rows, &errs, spec, shard, part)
	if err != nil {
		return fmt.Errorf("vggnb pipeline: shard %s: %w", shard, err)
	}
	dir := strings.TrimSuffix(f.Options.Out, "/")
	for _, w := range []struct {
		name string
		b    []byte
	}{{shard.ErrorsName(), errs.Bytes()}, {shard.Name(), rows.Bytes()}} {
		if err := create(ctx, dir+"/"+w.name, w.b); err != nil {
			return fmt.Errorf("vggnb pipeline: shard %s: %w", shard, err)
		}
	}
	emit(fmt.Sprintf("%s/%s: %d rows, %d broken", dir, shard.Name(), res.Rows, res.Errors))
	return nil
}

// open reads p through Beam's filesystem for its scheme.
func open(ctx context.Context, p string) (io.ReadCloser, error) {
	fs, err := filesystem.New(ctx, p)
	if err != nil {
		return nil, err
	}
	r, err := fs.OpenRead(ctx, p)
	if err != nil {
		fs.Close()
		return nil, err
	}
	return readCloser{r, fs}, nil
}

type readCloser struct {
	io.ReadCloser
	fs filesystem.Interface
}

func (r readCloser) Close() error {
	err := r.ReadCloser.Close()
	r.fs.Close()
	return err
}

// create writes b as the file p through Beam's filesystem for its scheme.
func create(ctx context.Context, p string, b []byte) error {
	fs, err := filesystem.New(ctx, p)
	if err != nil {
		return err
	}
	defer fs.Close()
	w, err := fs.OpenWrite(ctx, p)
	if err != nil {
		return err
	}
	if _, err := w.Write(b); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}
