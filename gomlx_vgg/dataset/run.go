package dataset

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"slices"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/internal/kernels"
	"github.com/vggnb/vggnb/weights"
)

// Spec is what a run computes for each image.
type Spec struct {
	// Model runs the images (on its engine: the native kernels on the pure-Go
	// backend). Its input size is the images' size unless Height and Width say.
	Model *gomlx_vgg.Model
	// Layer is the layer whose output is a feature row (default the model's
	// output). Ignored when TopK is set.
	Layer string
	// Pooling, gomlx_vgg.PoolingAvg or PoolingMax, pools a 4-D output over
	// its pixels: a row of C values (512 for block5_pool, not 25,088).
	Pooling gomlx_vgg.Pooling
	// TopK, if positive, makes each row the k most likely ImageNet classes
	// (the model must include its top) instead of features.
	TopK int
	// Height and Width are the size images are resized to (default the
	// model's input size, else 224x224).
	Height, Width int
	// Interpolation is the resize filter (default imagenet.Nearest, Keras').
	Interpolation imagenet.Filter
	// MaxPixels bounds an image, checked from its header before decoding
	// (default imagenet.DefaultMaxPixels).
	MaxPixels int
	// BatchSize is how many images run together (default 8).
	BatchSize int
	// RowGroup is how many rows a Parquet row group holds (default 1024).
	RowGroup int
	// Progress, if set, is called after each batch.
	Progress func(Progress)
	// Open opens an image by its path (default os.Open): a pipeline reading
	// another filesystem (Beam's gs:// or s3://) gives its own.
	Open func(path string) (io.ReadCloser, error)
}

// Progress is how far a run is.
type Progress struct {
	Done, Total, Errors int
	Elapsed             time.Duration
}

// Row is one image's result: Shape and Values for features, or Classes,
// Labels and Scores (most likely first) for predictions.
type Row struct {
	Path    string
	Shape   []int32
	Values  []float32
	Classes []int32
	Labels  []string
	Scores  []float32
}

// ErrorRow is an image that could not be used, and why.
type ErrorRow struct {
	Path  string `parquet:"path"`
	Error string `parquet:"error"`
}

// withDefaults checks s and fills its defaults.
func (s Spec) withDefaults() (Spec, error) {
	if s.Model == nil {
		return s, errors.New("dataset: no model")
	}
	if s.Layer == "" {
		s.Layer = s.Model.Output()
	}
	switch s.Pooling {
	case gomlx_vgg.PoolingNone, gomlx_vgg.PoolingAvg, gomlx_vgg.PoolingMax:
	default:
		return s, fmt.Errorf("dataset: pooling %q: want avg or max", s.Pooling)
	}
	if s.TopK < 0 || s.TopK > 1000 {
		return s, fmt.Errorf("dataset: top %d: want 1 to 1000", s.TopK)
	}
	if s.Height <= 0 || s.Width <= 0 {
		s.Height, s.Width = gomlx_vgg.DefaultSize, gomlx_vgg.DefaultSize
		if in := s.Model.Layers()[0].OutputShape; len(in) == 4 {
			h, w := in[1], in[2]
			if s.Model.DataFormat() == weights.ChannelsFirst {
				h, w = in[2], in[3]
			}
			if h > 0 && w > 0 {
				s.Height, s.Width = h, w
			}
		}
	}
	if s.Interpolation == "" {
		s.Interpolation = imagenet.Nearest
	}
	if s.MaxPixels <= 0 {
		s.MaxPixels = imagenet.DefaultMaxPixels
	}
	if s.BatchSize <= 0 {
		s.BatchSize = 8
	}
	if s.RowGroup <= 0 {
		s.RowGroup = 1024
	}
	if s.Open == nil {
		s.Open = func(path string) (io.ReadCloser, error) { return os.Open(path) }
	}
	return s, nil
}

// Describe is the spec in words: what the files' metadata records, and what
// their checksum covers, so that a rerun with other options redoes them.
func (s Spec) Describe() string {
	s, _ = s.withDefaults()
	what := fmt.Sprintf("layer %s, pooling %q", s.Layer, s.Pooling)
	if s.TopK > 0 {
		what = fmt.Sprintf("top %d classes", s.TopK)
	}
	return fmt.Sprintf("%s, weights %s; %s; images %dx%d (%s)", s.Model, s.Model.WeightsSource(), what, s.Height, s.Width, s.Interpolation)
}

// batch is decoded images ready to run, and the ones that failed.
type batch struct {
	paths  []string
	x      *tensors.Tensor
	failed []ErrorRow
}

// Run computes a row for each of paths, in order, and calls emit with it; an
// image that cannot be loaded (or whose output is not finite) goes to fail
// instead, and the run goes on. Images are decoded one batch ahead of the
// model. It stops at ctx's end, or at the first error emit or fail returns.
func Run(ctx context.Context, spec Spec, paths []string, emit func(Row) error, fail func(ErrorRow) error) error {
	s, err := spec.withDefaults()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 1)
	go func() {
		defer close(batches)
		for at := 0; at < len(paths); at += s.BatchSize {
			b := s.decode(paths[at:min(at+s.BatchSize, len(paths))])
			select {
			case batches <- b:
			case <-ctx.Done():
				return
			}
		}
	}()
	start, done, failed := time.Now(), 0, 0
	for b := range batches {
		if err := ctx.Err(); err != nil {
			return err
		}
		for _, e := range b.failed {
			if err := fail(e); err != nil {
				return err
			}
		}
		rows, errs, err := s.run(b)
		if err != nil {
			return err
		}
		// Rows and failures in path order.
		for _, e := range errs {
			if err := fail(e); err != nil {
				return err
			}
		}
		for _, r := range rows {
			if err := emit(r); err != nil {
				return err
			}
		}
		done += len(b.paths) + len(b.failed)
		failed += len(b.failed) + len(errs)
		if s.Progress != nil {
			s.Progress(Progress{Done: done, Total: len(paths), Errors: failed, Elapsed: time.Since(start)})
		}
	}
	return ctx.Err()
}

// decode loads paths as the model's inputs; the ones that fail are error rows.
func (s Spec) decode(paths []string) batch {
	var b batch
	df := s.Model.DataFormat()
	var xs []*tensors.Tensor
	for _, p := range paths {
		img, err := s.load(p)
		var x *tensors.Tensor
		if err == nil {
			x, err = imagenet.PreprocessInput(imagenet.ImgToArray(img, df), df)
		}
		if err != nil {
			b.failed = append(b.failed, ErrorRow{Path: p, Error: err.Error()})
			continue
		}
		b.paths, xs = append(b.paths, p), append(xs, x)
	}
	if len(xs) > 0 {
		b.x = imagenet.MustBatch(xs...)
	}
	return b
}

// load is imagenet.LoadImg through s.Open.
func (s Spec) load(path string) (*image.NRGBA, error) {
	f, err := s.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load_img: %w", err)
	}
	defer f.Close()
	img, err := imagenet.DecodeImg(f, imagenet.TargetSize(s.Height, s.Width), imagenet.Interpolation(s.Interpolation), imagenet.MaxPixels(s.MaxPixels))
	if err != nil {
		return nil, fmt.Errorf("load_img %s: %w", path, err)
	}
	return img, nil
}

// run computes one batch's rows.
func (s Spec) run(b batch) ([]Row, []ErrorRow, error) {
	if b.x == nil {
		return nil, nil, nil
	}
	var y *tensors.Tensor
	var err error
	if s.TopK > 0 {
		y, err = s.Model.Predict(b.x)
	} else {
		var outs map[string]*tensors.Tensor
		if outs, err = s.Model.Outputs(b.x, s.Layer); err == nil {
			y = outs[s.Layer]
		}
	}
	if err != nil {
		var nf *gomlx_vgg.NonFiniteError
		if errors.As(err, &nf) { // one image's output: run them one by one to find which
			return s.oneByOne(b)
		}
		return nil, nil, fmt.Errorf("dataset: images %s to %s: %w", b.paths[0], b.paths[len(b.paths)-1], err)
	}
	if s.TopK > 0 {
		preds, err := imagenet.DecodePredictions(y, s.TopK)
		if err != nil {
			return nil, nil, err
		}
		rows := make([]Row, len(b.paths))
		for i, ps := range preds {
			r := Row{Path: b.paths[i]}
			for _, p := range ps {
				r.Classes, r.Labels, r.Scores = append(r.Classes, int32(p.Index)), append(r.Labels, p.Name), append(r.Scores, p.Score)
			}
			rows[i] = r
		}
		return rows, nil, nil
	}
	dims := y.Shape().Dimensions
	per := y.Shape().Size() / dims[0]
	v := tensors.MustCopyFlatData[float32](y)
	rows := make([]Row, len(b.paths))
	for i := range rows {
		shape, values := dims[1:], v[i*per:(i+1)*per]
		if s.Pooling != gomlx_vgg.PoolingNone && len(shape) == 3 {
			shape, values = pool(shape, values, s.Model.DataFormat() == weights.ChannelsFirst, s.Pooling == gomlx_vgg.PoolingMax)
		}
		r := Row{Path: b.paths[i], Values: slices.Clone(values)}
		for _, d := range shape {
			r.Shape = append(r.Shape, int32(d))
		}
		rows[i] = r
	}
	return rows, nil, nil
}

// oneByOne runs a batch's images one at a time: the ones whose output is not
// finite become error rows.
func (s Spec) oneByOne(b batch) ([]Row, []ErrorRow, error) {
	var rows []Row
	var errs []ErrorRow
	per := b.x.Shape().Size() / b.x.Shape().Dimensions[0]
	all := tensors.MustCopyFlatData[float32](b.x)
	for i, p := range b.paths {
		one := tensors.FromFlatDataAndDimensions(all[i*per:(i+1)*per], append([]int{1}, b.x.Shape().Dimensions[1:]...)...)
		r, e, err := s.run(batch{paths: []string{p}, x: one})
		var nf *gomlx_vgg.NonFiniteError
		switch {
		case errors.As(err, &nf):
			errs = append(errs, ErrorRow{Path: p, Error: err.Error()})
		case err != nil:
			return nil, nil, err
		}
		rows, errs = append(rows, r...), append(errs, e...)
	}
	return rows, errs, nil
}

// pool averages (or takes the max of) an image's output over its pixels:
// (H, W, C), or (C, H, W) channels first, to (C), as Keras' global pooling.
func pool(shape []int, v []float32, channelsFirst, isMax bool) ([]int, []float32) {
	h, w, c := shape[0], shape[1], shape[2]
	if channelsFirst {
		c, h, w = shape[0], shape[1], shape[2]
		t := make([]float32, len(v))
		kernels.NCHWToNHWC(t, v, 1, c, h, w)
		v = t
	}
	out := make([]float32, c)
	kernels.GlobalPool(out, v, 1, h*w, c, isMax)
	return []int{c}, out
}
