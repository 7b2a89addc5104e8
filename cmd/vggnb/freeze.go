package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/adapt"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/serve"
)

// vggFlags are the flags that pick the VGG model to freeze or serve.
type vggFlags struct {
	model, weights, layer, pooling string
	includeTop                     bool
	seed                           uint64
}

func (v *vggFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.model, "model", "", "vgg16 or vgg19")
	fs.BoolVar(&v.includeTop, "include-top", false, "include flatten, fc1, fc2 and predictions (input 224x224)")
	fs.StringVar(&v.layer, "layer", "", "cut the model after this layer (its output is the graph's output)")
	fs.StringVar(&v.pooling, "pooling", "", "avg or max global pooling (without --include-top)")
	fs.StringVar(&v.weights, "weights", "auto", "auto (ImageNet if on this machine, else SYNTHETIC), imagenet, synthetic, or a Keras .h5 file")
	fs.Uint64Var(&v.seed, "seed", 1, "seed of SYNTHETIC weights")
}

// net builds the model and its frozen network.
func (v *vggFlags) net(ctx context.Context, stderr io.Writer) (*freeze.Net, error) {
	switch {
	case v.model == "":
		return nil, errors.New("--model vgg16 or vgg19 is required")
	case v.weights == "":
		return nil, errors.New("--weights is empty: want auto, imagenet, synthetic or a Keras .h5 file")
	case v.pooling != "" && v.layer != "":
		return nil, fmt.Errorf("--pooling %s pools the whole base's output, --layer %s cuts the model before it: give one of them", v.pooling, v.layer)
	}
	m, err := gomlx_vgg.New(v.model).IncludeTop(v.includeTop).Pooling(gomlx_vgg.Pooling(v.pooling)).
		Weights(gomlx_vgg.WeightSource(v.weights)).Seed(v.seed).Notices(stderr).Context(ctx).Done()
	if err != nil {
		return nil, err
	}
	if v.layer != "" {
		if m, err = m.Truncate(v.layer); err != nil {
			return nil, err
		}
	}
	return adapt.VGG(m)
}

// freezeCmd writes a VGG model as one ONNX file, or lists a frozen file.
func freezeCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vggnb freeze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var v vggFlags
	v.register(fs)
	out := fs.String("out", "", "the ONNX file to write")
	list := fs.String("list", "", "list the nodes of this frozen ONNX file instead")
	if pos, err := parse(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("freeze: unexpected arguments %q", pos)
	}
	if *list != "" && *out != "" {
		return errors.New("freeze: --list reads a frozen file and --out writes one: give one of them")
	}
	if *list != "" {
		f, err := freeze.Open(*list)
		if err != nil {
			return err
		}
		fmt.Fprint(stdout, f.Summary())
		return nil
	}
	if *out == "" {
		return errors.New("freeze: --out FILE.onnx is required (or --list FILE.onnx)")
	}
	start := time.Now()
	n, err := v.net(ctx, stderr)
	if err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := n.WriteFile(*out); err != nil {
		return err
	}
	f, err := freeze.Open(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "froze %s into %s (%d weights, %.1f MB, %v)\n", f.Title(), *out, f.Params, float64(f.Size)/1e6, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "input:  %s\noutput: %s\nweights sha256 %s\n", f.Input, f.Output, f.Checksum)
	if f.Synthetic() {
		fmt.Fprintln(stderr, "WARNING:", f.Meta["vggnb.notice"])
	}
	return nil
}

// serveCmd serves a frozen file (or a VGG frozen on the spot) over HTTP.
func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("vggnb serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var v vggFlags
	v.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (loopback by default)")
	def := serve.Config{}.WithDefaults() // the flags' defaults are the server's
	var cfg serve.Config
	fs.Int64Var(&cfg.MaxBodyBytes, "max-body", def.MaxBodyBytes, "largest request body, in bytes")
	fs.IntVar(&cfg.MaxPixels, "max-pixels", def.MaxPixels, "largest image, in pixels, checked from its header before decoding")
	fs.IntVar(&cfg.MaxBatch, "max-batch", def.MaxBatch, "most examples run together (peak memory grows with it)")
	fs.IntVar(&cfg.QueueSize, "queue", def.QueueSize, "most requests waiting; more get 503")
	fs.IntVar(&cfg.ImageSize, "image-size", def.ImageSize, "side images are resized to when the input size is dynamic")
	fs.IntVar(&cfg.MaxReading, "max-reading", def.MaxReading, "most requests reading and decoding their bodies at once")
	fs.DurationVar(&cfg.ReadTimeout, "read-timeout", def.ReadTimeout, "longest a request may take to send its body once it may (slower: 408)")
	fs.DurationVar(&cfg.Timeout, "timeout", def.Timeout, "longest a request may take, queueing included")
	fs.IntVar(&cfg.MaxGraphs, "max-graphs", def.MaxGraphs, "most compiled graphs kept, one per input shape (least recently used freed)")
	fs.Int64Var(&cfg.MaxMemory, "max-memory", def.MaxMemory, "most memory one batch may take, in bytes, estimated from the model before running (default half of this machine's)")
	fs.StringVar(&cfg.Token, "token", os.Getenv("VGGNB_SERVE_TOKEN"), "bearer token every request but GET /healthz must carry (default $VGGNB_SERVE_TOKEN)")
	insecure := fs.Bool("insecure-no-auth", false, "serve beyond loopback without a token")
	interp := fs.String("interpolation", string(def.Interpolation), "resize filter for images: nearest (Keras' default, as vggnb predict), bilinear, bicubic, lanczos, box, hamming")
	grace := fs.Duration("grace", 30*time.Second, "how long in-flight requests get to finish on SIGTERM")
	engine := fs.String("engine", string(gomlx_vgg.EngineAuto), "what runs the model: auto (the native kernels where the graph allows, every VGG), native or graph (GoMLX)")
	fs.StringVar(&cfg.ModelName, "model-name", "", "the model's name in the Open Inference Protocol's /v2/models/NAME (default the graph's name)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	// Every limit is a positive number: 0 or less would mean the default
	// inside serve.Config, silently.
	for _, l := range []struct {
		name string
		v    int64
	}{{"max-body", cfg.MaxBodyBytes}, {"max-pixels", int64(cfg.MaxPixels)}, {"max-batch", int64(cfg.MaxBatch)},
		{"queue", int64(cfg.QueueSize)}, {"image-size", int64(cfg.ImageSize)}, {"max-reading", int64(cfg.MaxReading)},
		{"max-graphs", int64(cfg.MaxGraphs)}, {"max-memory", cfg.MaxMemory}} {
		if l.v < 1 {
			return fmt.Errorf("serve: --%s %d: want at least 1", l.name, l.v)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read-timeout", cfg.ReadTimeout}, {"timeout", cfg.Timeout}} {
		if d.v <= 0 {
			return fmt.Errorf("serve: --%s %v: want more than 0", d.name, d.v)
		}
	}
	if *grace < 0 {
		return fmt.Errorf("serve: --grace %v: want 0 or more", *grace)
	}
	cfg.Interpolation = imagenet.Filter(*interp)
	if !slices.Contains(imagenet.Filters(), cfg.Interpolation) {
		return fmt.Errorf("serve: --interpolation %q: want one of %v", *interp, imagenet.Filters())
	}
	if cfg.Token == "" && !*insecure && !loopback(*addr) {
		return fmt.Errorf("serve: --addr %s is reachable beyond this machine and the server has no token: give --token (or VGGNB_SERVE_TOKEN), or --insecure-no-auth", *addr)
	}
	start := time.Now()
	var f *freeze.File
	switch {
	case len(pos) == 1 && v.model == "":
		if f, err = freeze.Open(pos[0]); err != nil {
			return err
		}
	case len(pos) == 0 && v.model != "":
		n, err := v.net(ctx, stderr)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		if f, err = n.File(); err != nil {
			return err
		}
	default:
		return errors.New("serve: give one frozen FILE.onnx, or --model vgg16|vgg19 [...]")
	}
	runner, err := f.Runner(nil)
	if err != nil {
		return err
	}
	if err := runner.SetEngine(gomlx_vgg.Engine(*engine)); err != nil {
		return fmt.Errorf("serve: --engine: %w", err)
	}
	s := serve.New(runner, cfg)
	if err := s.Check(); err != nil {
		s.Close()
		return err
	}
	s.SetLoadDuration(time.Since(start))
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		s.Close()
		return fmt.Errorf("serve: %w", err)
	}
	md := s.Metadata()
	fmt.Fprintf(stdout, "serving %s\n  %s\n  input %s, output %s, on the %s engine (loaded and checked in %v)\n"+
		"  on http://%s: POST /predict, GET /healthz, GET /metadata, GET /metrics, /v2/models/%s (SIGTERM or Ctrl-C stops)\n",
		f.Path, f.Title(), f.Input, f.Output, md.Engine, time.Since(start).Round(time.Millisecond), ln.Addr(), md.ModelName)
	if why := runner.NativeReason(); md.Engine != string(gomlx_vgg.EngineNative) && why != "" {
		fmt.Fprintln(stderr, "note: the GoMLX graph runs this model, not the native kernels:", why)
	}
	if f.Synthetic() {
		fmt.Fprintln(stderr, "WARNING:", f.Meta["vggnb.notice"])
	}
	err = s.Serve(ctx, ln, *grace)
	fmt.Fprintln(stdout, "stopped")
	if err == nil && ctx.Err() != nil {
		return nil // a clean shutdown on SIGTERM/SIGINT
	}
	return err
}

// loopback reports whether addr (host:port) listens on loopback only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false // ":8080" listens on every interface
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
