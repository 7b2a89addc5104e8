package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/dataset"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/internal/environ"
	"github.com/vggnb/vggnb/weights"
)

// datasetFlags are the flags of `vggnb features|predict --dataset`.
type datasetFlags struct {
	inputs          []string
	out, shard      string
	pooling         string
	batch, rowGroup int
}

func (d *datasetFlags) register(fs *flag.FlagSet, pooling bool) {
	fs.Func("dataset", "images to run instead of --image: a directory (recursive), a glob, or @FILE (a manifest, one path per line); repeatable. Writes Parquet to --out", func(s string) error {
		d.inputs = append(d.inputs, s)
		return nil
	})
	fs.StringVar(&d.out, "out", "", "with --dataset: the directory the Parquet files go to (one per shard, and its errors file)")
	fs.StringVar(&d.shard, "shard", "", "with --dataset: run shard i/N of the sorted images (default from $JOB_COMPLETION_INDEX/$JOB_COMPLETIONS or $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT, else all)")
	fs.IntVar(&d.batch, "batch", 8, "with --dataset: images run together")
	fs.IntVar(&d.rowGroup, "row-group", 1024, "with --dataset: rows per Parquet row group")
	if pooling {
		fs.StringVar(&d.pooling, "pooling", "", "with --dataset: avg or max pools a 4-D output over its pixels (a row of C values: 512 for block5_pool)")
	}
}

// run runs the dataset: features of n.layer, or the top classes if top > 0.
func (d *datasetFlags) run(ctx context.Context, n *netFlags, top int, stdout, stderr io.Writer) error {
	switch {
	case d.out == "":
		return errors.New("--dataset needs --out DIR (the Parquet files' directory)")
	case n.image != "demo":
		return errors.New("give --dataset or --image, not both")
	case n.json:
		return errors.New("--json prints one image's result: --dataset writes Parquet")
	case d.batch < 1 || d.rowGroup < 1:
		return fmt.Errorf("--batch %d, --row-group %d: want at least 1", d.batch, d.rowGroup)
	case top == 0 && (n.layer == "all" || strings.Contains(n.layer, ",")):
		return fmt.Errorf("--layer %s: a dataset run writes one layer", n.layer)
	}
	shardSpec := d.shard
	if shardSpec == "" {
		var err error
		if shardSpec, err = environ.Shard(); err != nil {
			return err
		}
	}
	var shard dataset.Shard
	if shardSpec != "" {
		var err error
		if shard, err = dataset.ParseShard(shardSpec); err != nil {
			return err
		}
	}
	paths, err := dataset.List(d.inputs...)
	if err != nil {
		return err
	}
	if n.size == "" {
		n.size = "224x224" // images of many sizes run in batches of one size
	}
	h, w, err := parseSize(n.size)
	if err != nil {
		return err
	}
	m, err := n.build(stderr)
	if err != nil {
		return err
	}
	spec := dataset.Spec{Model: m, Layer: n.layer, Pooling: gomlx_vgg.Pooling(d.pooling), TopK: top, Height: h, Width: w,
		Interpolation: imagenet.Filter(n.interp), MaxPixels: n.maxPixels, BatchSize: d.batch, RowGroup: d.rowGroup,
		Progress: progressBar(stderr)}
	if top > 0 {
		spec.Layer = ""
	}
	start := time.Now()
	part := shard.Of(paths)
	fmt.Fprintf(stderr, "%s: %d images of %d (shard %s) to %s\n", spec.Describe(), len(part), len(paths), shardOr(shard), d.out)
	res, err := dataset.WriteShard(ctx, d.out, shard, spec, paths)
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	took := time.Since(start)
	state := fmt.Sprintf("in %v (%.1f images/s)", took.Round(time.Millisecond), float64(res.Rows+res.Errors)/took.Seconds())
	if res.Skipped {
		state = "already complete and verified: skipped"
	}
	fmt.Fprintf(stdout, "%s: %d rows, %s: %d broken images; %s\n", res.Path, res.Rows, res.ErrorsPath, res.Errors, state)
	if m.Synthetic() {
		fmt.Fprintln(stderr, "WARNING:", weights.SyntheticNotice)
	}
	return nil
}

func shardOr(s dataset.Shard) string {
	if s.Count == 0 {
		return "all"
	}
	return s.String()
}

// progressBar draws a run's progress on one line of w: images, images/s,
// broken ones and the time left.
func progressBar(w io.Writer) func(dataset.Progress) {
	return func(p dataset.Progress) {
		rate := float64(p.Done) / max(p.Elapsed.Seconds(), 1e-9)
		left := time.Duration(float64(p.Total-p.Done) / max(rate, 1e-9) * float64(time.Second))
		const width = 30
		filled := width * p.Done / max(p.Total, 1)
		fmt.Fprintf(w, "\r[%s%s] %d/%d images, %.1f/s, %d broken, %v left   ", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			p.Done, p.Total, rate, p.Errors, left.Round(time.Second))
	}
}
