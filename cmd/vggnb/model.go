package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/internal/environ"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// netFlags are the flags that build a gomlx_vgg model and feed it an image.
type netFlags struct {
	model, weights, image, size, interp, backend, layer string
	engine                                              string
	includeTop, json                                    bool
	maxPixels                                           int
	// ctx stops the download and the native run (Ctrl-C, SIGTERM).
	ctx  context.Context
	seed uint64
}

func (n *netFlags) register(fs *flag.FlagSet, defaultWeights gomlx_vgg.WeightSource) {
	fs.StringVar(&n.model, "model", "vgg19", "vgg16 or vgg19")
	fs.BoolVar(&n.includeTop, "include-top", false, "include flatten, fc1, fc2 and predictions")
	fs.StringVar(&n.weights, "weights", string(defaultWeights),
		"auto (ImageNet if on this machine, else SYNTHETIC), imagenet, synthetic, none, or a Keras .h5 file")
	fs.StringVar(&n.image, "image", "demo", "JPEG/PNG/GIF file, or demo for the bundled photo (Chelsea the cat, CC0)")
	fs.StringVar(&n.size, "size", "", "resize the image to HxW first (default: its own size; 224x224 with --include-top)")
	fs.StringVar(&n.interp, "interpolation", string(imagenet.Nearest), "resize filter: nearest (Keras' default), bilinear, bicubic, lanczos, box, hamming")
	fs.StringVar(&n.backend, "backend", "go", "go, or xla:cpu / xla:cuda / xla:/path/plugin.so in a -tags xla build")
	fs.StringVar(&n.engine, "engine", string(gomlx_vgg.EngineAuto),
		"auto (native on the go backend), native (vggnb's fused CPU kernels) or graph (the GoMLX graph on the backend)")
	fs.BoolVar(&n.json, "json", false, "print one JSON object")
	fs.Uint64Var(&n.seed, "seed", 1, "seed of SYNTHETIC weights")
	fs.IntVar(&n.maxPixels, "max-pixels", imagenet.DefaultMaxPixels, "largest image (and --size) accepted, in pixels, checked before decoding")
}

func parseSize(s string) (h, w int, err error) {
	hs, ws, ok := strings.Cut(strings.ToLower(s), "x")
	if ok {
		h, err = strconv.Atoi(hs)
		if err == nil {
			w, err = strconv.Atoi(ws)
		}
	}
	if !ok || err != nil || h <= 0 || w <= 0 {
		return 0, 0, fmt.Errorf("--size %q: want HxW, e.g. 200x300", s)
	}
	return h, w, nil
}

// build constructs the model; notices (synthetic weights) go to stderr.
func (n *netFlags) build(stderr io.Writer) (*gomlx_vgg.Model, error) {
	if n.weights == "" {
		return nil, errors.New("--weights is empty: want auto, imagenet, synthetic, none or a Keras .h5 file")
	}
	backend, err := gomlx_vgg.NewBackend(n.backend)
	if err != nil {
		return nil, err
	}
	b := gomlx_vgg.New(n.model).IncludeTop(n.includeTop).Weights(gomlx_vgg.WeightSource(n.weights)).Seed(n.seed).
		Backend(backend).Engine(gomlx_vgg.Engine(n.engine)).Notices(stderr).FetchOptions(download.WithProgress(stderr))
	// Slower native kernels, to compare: $VGGNB_SIMD=AVX2|none, $VGGNB_CONV=direct.
	b = environ.NativeKernels(b)
	if n.ctx != nil {
		b = b.Context(n.ctx)
	}
	if n.includeTop { // --size only resizes the image: the classifier takes 224x224
		return b.Done()
	}
	return n.withSize(b)
}

// withSize sets --size, if given, as the input shape and builds the model.
func (n *netFlags) withSize(b *gomlx_vgg.Builder) (*gomlx_vgg.Model, error) {
	if n.size != "" {
		h, w, err := parseSize(n.size)
		if err != nil {
			return nil, err
		}
		// The image limit holds for the model's input too.
		if err := imagenet.CheckPixels("--size", h, w, n.maxPixels); err != nil {
			return nil, err
		}
		b = b.InputShape(h, w, 3)
	}
	return b.Done()
}

// loadInput loads the image, resized to --size (224x224 for the classifier).
func loadInput(n *netFlags) (image.Image, error) {
	opts := []imagenet.ImgOption{imagenet.MaxPixels(n.maxPixels)}
	size := n.size
	if size == "" && n.includeTop {
		size = "224x224"
	}
	if size != "" {
		h, w, err := parseSize(size)
		if err != nil {
			return nil, err
		}
		opts = append(opts, imagenet.TargetSize(h, w), imagenet.Interpolation(imagenet.Filter(n.interp)))
	}
	if n.image == "demo" {
		return imagenet.DemoImage(opts...)
	}
	return imagenet.LoadImg(n.image, opts...)
}

// prepare builds the model and loads the image as a preprocessed batch of one.
func (n *netFlags) prepare(stderr io.Writer) (*gomlx_vgg.Model, image.Image, *tensors.Tensor, error) {
	img, err := loadInput(n)
	if err != nil {
		return nil, nil, nil, err
	}
	m, err := n.build(stderr)
	if err != nil {
		return nil, nil, nil, err
	}
	x, err := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
	if err != nil {
		return nil, nil, nil, err
	}
	return m, img, imagenet.MustBatch(x), nil
}

// layerJSON is one layer of `features --json`.
type layerJSON struct {
	Shape []int   `json:"shape"`
	Mean  float64 `json:"mean"`
	Std   float64 `json:"std"`
	Min   float64 `json:"min"`
	Max   float64 `json:"max"`
}

func featuresCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vggnb features", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := netFlags{ctx: ctx}
	n.register(fs, gomlx_vgg.WeightsAuto)
	fs.StringVar(&n.layer, "layer", "block5_pool", "layer name(s), comma-separated, or all")
	var d datasetFlags
	d.register(fs, true)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("features: unexpected arguments %q", pos)
	}
	if len(d.inputs) > 0 {
		if err := d.run(ctx, &n, 0, stdout, stderr); err != nil {
			return fmt.Errorf("features: %w", err)
		}
		return nil
	} else if d.out != "" || d.shard != "" || d.pooling != "" {
		return errors.New("features: --out, --shard and --pooling go with --dataset")
	}
	m, img, x, err := n.prepare(stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	outs, err := m.Outputs(x, strings.Split(n.layer, ",")...)
	if err != nil {
		return err
	}
	elapsed := time.Since(start)
	names := orderedNames(m, outs)
	if n.json {
		res := struct {
			Layers map[string]layerJSON `json:"layers"`
		}{map[string]layerJSON{}}
		for _, name := range names {
			s := gomlx_vgg.StatsOf(outs[name])
			for _, v := range []float64{s.Mean, s.Std, s.Min, s.Max} {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("features: layer %s has non-finite values (mean %v, min %v, max %v)", name, s.Mean, s.Min, s.Max)
				}
			}
			res.Layers[name] = layerJSON{Shape: s.Shape, Mean: s.Mean, Std: s.Std, Min: s.Min, Max: s.Max}
		}
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(stdout, "%s on %s %dx%d, weights %s\n", m, n.image, img.Bounds().Dy(), img.Bounds().Dx(), m.WeightsSource())
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "layer\tshape\tmean\tstd\tmin\tmax\tzeros\t")
		for _, name := range names {
			s := gomlx_vgg.StatsOf(outs[name])
			fmt.Fprintf(tw, "%s\t%v\t%.6g\t%.6g\t%.6g\t%.6g\t%.1f%%\t\n", name, s.Shape, s.Mean, s.Std, s.Min, s.Max, 100*s.Zeros)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	reportEngine(stderr, m, n.backend, elapsed)
	if m.Synthetic() {
		fmt.Fprintln(stderr, "WARNING:", weights.SyntheticNotice)
	}
	return nil
}

// reportEngine writes the line that says how long the model took and on
// which kernels, and one warning when the native engine runs the portable Go
// kernels (~40x slower than AVX-512) with what would make it faster.
func reportEngine(stderr io.Writer, m *gomlx_vgg.Model, backend string, elapsed time.Duration) {
	engine := string(m.Engine())
	if m.Engine() == gomlx_vgg.EngineNative {
		engine += " kernels, " + m.NativeKernels()
	}
	fmt.Fprintf(stderr, "vggnb: %s computed in %v on backend %s (engine %s)\n", m.Name, elapsed.Round(time.Millisecond), backend, engine)
	if m.Engine() == gomlx_vgg.EngineNative && m.NativeSIMD() == "none" {
		fix := m.NativeFix()
		if v := os.Getenv("VGGNB_SIMD"); v != "" && gomlx_vgg.NativeSIMD() != "none" {
			fix += " ($VGGNB_SIMD=" + v + ": unset it)"
		}
		if fix == "" {
			fix = "this CPU has none of AVX-512, AVX2+FMA or NEON"
		}
		fmt.Fprintln(stderr, "WARNING: the native kernels run portable Go, ~40x slower than AVX-512:", fix)
	}
}

// orderedNames lists the computed layers in network order.
func orderedNames[T any](m *gomlx_vgg.Model, outs map[string]T) []string {
	var names []string
	for _, l := range m.Layers() {
		if _, ok := outs[l.Name]; ok {
			names = append(names, l.Name)
		}
	}
	return names
}

func layersCmd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vggnb layers", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var n netFlags
	n.register(fs, gomlx_vgg.WeightsImageNet)
	pooling := fs.String("pooling", "", "none, avg or max (without --include-top)")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("layers: unexpected arguments %q", pos)
	}
	// The structure needs no weight values: build with weights=None, frozen like
	// the pretrained model unless --weights none.
	b := gomlx_vgg.New(n.model).IncludeTop(n.includeTop).Weights(gomlx_vgg.WeightsNone).Pooling(gomlx_vgg.Pooling(*pooling)).
		Trainable(gomlx_vgg.WeightSource(n.weights) == gomlx_vgg.WeightsNone)
	m, err := n.withSize(b)
	if err != nil {
		return err
	}
	total, trainable := m.CountParams()
	if n.json {
		type row struct {
			Name        string        `json:"name"`
			Class       weights.Class `json:"class"`
			OutputShape []int         `json:"output_shape"`
			Params      int           `json:"params"`
			Trainable   bool          `json:"trainable"`
		}
		var rows []row
		for _, l := range m.Layers() {
			rows = append(rows, row{l.Name, l.Class, l.OutputShape, l.Params, l.Trainable})
		}
		return json.NewEncoder(stdout).Encode(map[string]any{"model": m.Name, "layers": rows,
			"total_params": total, "trainable_params": trainable})
	}
	fmt.Fprintf(stdout, "Model: %q\n", m.Name)
	tw := tabwriter.NewWriter(stdout, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "Layer (type)\tOutput Shape\tParam #\tTrainable")
	for _, l := range m.Layers() {
		fmt.Fprintf(tw, "%s (%s)\t%s\t%d\t%v\n", l.Name, l.Class, gomlx_vgg.KerasShape(l.OutputShape), l.Params, l.Trainable && l.Params > 0)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Total params: %d\nTrainable params: %d\nNon-trainable params: %d\n", total, trainable, total-trainable)
	return nil
}

func predictCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vggnb predict", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := netFlags{ctx: ctx}
	n.register(fs, gomlx_vgg.WeightsAuto)
	top := fs.Int("top", 5, "number of classes to print")
	var d datasetFlags
	d.register(fs, false)
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("predict: unexpected arguments %q", pos)
	}
	if *top < 1 || *top > 1000 {
		return fmt.Errorf("predict: --top %d: want 1 to 1000 (ImageNet's classes)", *top)
	}
	n.includeTop = true
	if n.size != "" && n.size != "224x224" {
		return errors.New("predict: the classifier needs 224x224 inputs (omit --size)")
	}
	if len(d.inputs) > 0 {
		if err := d.run(ctx, &n, *top, stdout, stderr); err != nil {
			return fmt.Errorf("predict: %w", err)
		}
		return nil
	} else if d.out != "" || d.shard != "" {
		return errors.New("predict: --out and --shard go with --dataset")
	}
	m, _, x, err := n.prepare(stderr)
	if err != nil {
		return err
	}
	start := time.Now()
	preds, err := m.Predict(x)
	if err != nil {
		return err
	}
	reportEngine(stderr, m, n.backend, time.Since(start))
	decoded, err := imagenet.DecodePredictions(preds, *top)
	if err != nil {
		return err
	}
	if n.json {
		type p struct {
			Index int     `json:"index"`
			WNID  string  `json:"wnid"`
			Name  string  `json:"name"`
			Score float32 `json:"score"`
		}
		var ps []p
		for _, d := range decoded[0] {
			ps = append(ps, p{d.Index, d.WNID, d.Name, d.Score})
		}
		if err := json.NewEncoder(stdout).Encode(map[string]any{"predictions": ps, "synthetic": m.Synthetic()}); err != nil {
			return err
		}
	} else {
		for i, d := range decoded[0] {
			fmt.Fprintf(stdout, "%d. %-30s %s  %.4f\n", i+1, d.Name, d.WNID, d.Score)
		}
	}
	if m.Synthetic() {
		fmt.Fprintln(stderr, "WARNING:", weights.SyntheticNotice)
	}
	return nil
}
