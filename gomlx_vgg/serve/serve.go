// Package serve is an HTTP server for a frozen model (package freeze), run on
// vggnb's native kernels where the graph allows (every frozen VGG), else by
// GoMLX (freeze.Runner): what `vggnb serve` starts.
//
//	POST /predict   an image (PNG or JPEG) or a tensor (JSON {"shape": [...],
//	                "data": [...]}, or raw little-endian float32 with
//	                ?shape=1,224,224,3); answers JSON: the top 5 classes of a
//	                classifier, else the output's shape and statistics
//	GET  /healthz   {"status": "ok", ...}
//	GET  /metadata  node names and shapes, the weights' SHA-256, the limits
//	GET  /metrics   Prometheus metrics (vggnb_serve_...)
//	/v2/...         the Open Inference Protocol (KServe v2, Triton): health,
//	                metadata and inference, with the binary tensor extension
//
// Requests are bounded (body size, image pixels, batch), concurrent requests
// are queued and run together in batches of up to Config.MaxBatch, a full queue
// answers 503, and Serve shuts down gracefully when its context ends (SIGTERM
// for the command): in-flight requests finish, new ones are refused.
package serve

import (
	"bytes"
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/internal/procstat"
	"github.com/vggnb/vggnb/weights"
)

// DefaultMaxPixels is Config.MaxPixels' default, 16,777,216 (4096x4096): a
// quarter of imagenet.DefaultMaxPixels, which bounds one image a user loads,
// as a server decodes MaxReading images at once.
const DefaultMaxPixels = 4096 * 4096

// Config bounds what the server accepts. Zero fields take the defaults
// (WithDefaults).
type Config struct {
	// MaxBodyBytes is the largest request body (default 32 MiB): more is 413.
	MaxBodyBytes int64
	// MaxPixels is the largest image, width x height, read from its header
	// before decoding (default DefaultMaxPixels): more is 413.
	MaxPixels int
	// MaxBatch is the most examples run together, from one request or several
	// (default 4: VGG19 at 224x224 gains nothing from larger batches on the
	// pure-Go backend, and its peak memory grows with them: about 2.5 GB at 2,
	// 7 GB at 8); a tensor request of a larger batch is 413.
	MaxBatch int
	// BatchWindow is how long the first queued request waits for others to
	// batch with (default 2 ms).
	BatchWindow time.Duration
	// QueueSize is how many requests may wait (default 64): more is 503.
	QueueSize int
	// ImageSize is the side images are resized to when the model's input size
	// is dynamic (default 224, VGG's).
	ImageSize int
	// Timeout bounds one request, queueing included (default 2 minutes).
	Timeout time.Duration
	// MaxReading is how many requests may read and decode their bodies at once
	// (default: the number of CPUs, at least 2); others wait their turn, so that
	// memory stays bounded by MaxReading x (MaxBodyBytes + a decoded MaxPixels image).
	MaxReading int
	// ReadTimeout bounds how long a request may take to send its whole body
	// once it holds a reading slot (default 30 s): a slower one gets 408 and
	// its slot goes to the next, so that slow clients cannot hold them all.
	ReadTimeout time.Duration
	// MaxMemory bounds the memory one batch's run may take, in bytes, as
	// estimated from the model before running (freeze.Runner.EstimateBytes:
	// its largest layer's input, output and im2col matrix): a request over it
	// is 413 before computing, and batches grow only up to it (default: half
	// of the memory this process may use, the machine's or its cgroup's).
	MaxMemory int64
	// Token, if set, is the bearer token every request but GET /healthz must
	// carry (Authorization: Bearer TOKEN); others get 401. A server reachable
	// beyond loopback should have one (vggnb serve insists).
	Token string
	// Interpolation is the filter images are resized with (default
	// imagenet.Nearest: Keras' load_img's and vggnb predict's).
	Interpolation imagenet.Filter
	// ModelName is the model's name in the Open Inference Protocol's paths,
	// /v2/models/NAME (default the graph's name, else "model").
	ModelName string
	// MaxGraphs is how many compiled graphs the server keeps, one per input
	// shape (default freeze.DefaultMaxGraphs): a new shape beyond it frees the
	// least recently used one (freeze.Runner.SetMaxGraphs), so that clients
	// sending many shapes cost compilations, never a server that refuses them.
	MaxGraphs int
}

// WithDefaults returns c with its zero (or negative) fields set to their
// defaults: what New serves with, and the defaults a command's flags show.
func (c Config) WithDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.MaxPixels <= 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 4
	}
	if c.BatchWindow <= 0 {
		c.BatchWindow = 2 * time.Millisecond
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 64
	}
	if c.ImageSize <= 0 {
		c.ImageSize = gomlx_vgg.DefaultSize
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.MaxReading <= 0 {
		c.MaxReading = max(2, runtime.NumCPU())
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = 30 * time.Second
	}
	if c.MaxGraphs <= 0 {
		c.MaxGraphs = freeze.DefaultMaxGraphs
	}
	if c.Interpolation == "" {
		c.Interpolation = imagenet.Nearest
	}
	if c.MaxMemory <= 0 {
		c.MaxMemory = 4 << 30 // where the machine's is unknown
		if b, ok := procstat.MemoryLimit(); ok {
			c.MaxMemory = b / 2
		}
	}
	return c
}

// Server answers requests for one frozen model.
type Server struct {
	file   *freeze.File
	runner *freeze.Runner
	cfg    Config

	queue   chan *job
	reading chan struct{} // a slot per request reading and decoding its body
	stop    chan struct{}
	done    chan struct{}
	closing sync.Once

	served, rejected, batches atomic.Int64
	metrics                   *metrics

	// readers are the requests reading their bodies now; draining closes
	// when Serve shuts down, which cuts their reads.
	readMu   sync.Mutex
	readers  map[*http.ResponseController]bool
	draining bool
}

// New starts the batching worker for runner's model; Close stops it.
func New(runner *freeze.Runner, cfg Config) *Server {
	cfg = cfg.WithDefaults()
	runner.SetMaxGraphs(cfg.MaxGraphs)
	if cfg.ModelName == "" {
		cfg.ModelName = "model"
		if g := runner.File().Model.GetGraph(); g != nil && g.Name != "" {
			cfg.ModelName = g.Name
		}
	}
	s := &Server{file: runner.File(), runner: runner, cfg: cfg, metrics: newMetrics(), readers: map[*http.ResponseController]bool{},
		queue: make(chan *job, cfg.QueueSize), reading: make(chan struct{}, cfg.MaxReading), stop: make(chan struct{}), done: make(chan struct{})}
	go s.work()
	return s
}

// Check runs the model once on a sample input, zeros of its input's shape
// (a batch of 1; an image's dynamic sides ImageSize, other dynamic dimensions
// 1), and checks that the output is finite and of the declared rank. vggnb
// serve calls it before it listens, so that a damaged or crafted file fails
// at start with its reason instead of answering 500 to every request.
func (s *Server) Check() error {
	in := s.file.Input
	dims := make([]int, len(in.Dims))
	h, w, image := s.imageSize()
	for i, d := range in.Dims {
		switch {
		case d > 0:
			dims[i] = d
		case image && len(dims) == 4 && i == 1:
			dims[i] = h
		case image && len(dims) == 4 && i == 2:
			dims[i] = w
		default:
			dims[i] = 1
		}
	}
	y, err := s.runner.Run(tensors.FromShape(shapes.Make(dtypes.Float32, dims...)))
	if err != nil {
		return fmt.Errorf("serve: the model fails on a sample input %v: %w", dims, err)
	}
	if y.Rank() != len(s.file.Output.Dims) || y.Shape().Size() == 0 {
		return fmt.Errorf("serve: the model's output on a sample input %v is %v, not the declared %s", dims, y.Shape(), s.file.Output)
	}
	if err := gomlx_vgg.CheckFinite(s.file.Output.Name, "output", y); err != nil {
		return fmt.Errorf("serve: on a sample input %v: %w", dims, err)
	}
	return nil
}

// Close stops the worker after the queued requests (call it after the HTTP
// server's Shutdown).
func (s *Server) Close() {
	s.closing.Do(func() { close(s.stop) })
	<-s.done
}

// job is one request's examples waiting to run.
type job struct {
	x    *tensors.Tensor
	ctx  context.Context
	out  chan result
	size int // examples in the batch it ran in
	// queued is when it entered the queue.
	queued time.Time
	// perExample is the estimated memory of running one of its examples.
	perExample int64
}

type result struct {
	y     *tensors.Tensor
	batch int
	err   error
}

// work runs the queue: it takes a job, waits BatchWindow for more of the same
// example shape up to MaxBatch examples, runs them as one batch and answers each.
func (s *Server) work() {
	defer close(s.done)
	var pending *job
	for {
		first := pending
		pending = nil
		if first == nil {
			select {
			case first = <-s.queue:
			case <-s.stop:
				// Drain what is queued, then stop.
				for {
					select {
					case j := <-s.queue:
						s.run([]*job{j})
					default:
						return
					}
				}
			}
		}
		jobs := []*job{first}
		n := first.x.Shape().Dimensions[0]
		mem := first.perExample * int64(n)
		timer := time.NewTimer(s.cfg.BatchWindow)
	gather:
		for n < s.cfg.MaxBatch {
			select {
			case j := <-s.queue:
				jn := j.x.Shape().Dimensions[0]
				if !slices.Equal(j.x.Shape().Dimensions[1:], first.x.Shape().Dimensions[1:]) ||
					n+jn > s.cfg.MaxBatch || mem+j.perExample*int64(jn) > s.cfg.MaxMemory {
					pending = j // the next batch starts with it
					break gather
				}
				jobs = append(jobs, j)
				n += jn
				mem += j.perExample * int64(jn)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		s.run(jobs)
	}
}

// run computes jobs as one batch and answers them.
func (s *Server) run(jobs []*job) {
	live := jobs[:0]
	for _, j := range jobs {
		if j.ctx.Err() == nil {
			live = append(live, j)
		} else {
			j.out <- result{err: j.ctx.Err()}
		}
	}
	if len(live) == 0 {
		return
	}
	xs := make([]*tensors.Tensor, len(live))
	for i, j := range live {
		xs[i] = j.x
	}
	x := concat(xs)
	start := time.Now()
	waits := make([]time.Duration, len(live))
	for i, j := range live {
		waits[i] = start.Sub(j.queued)
	}
	y, err := s.runner.Run(x)
	s.batches.Add(1)
	n := x.Shape().Dimensions[0]
	s.metrics.ran(n, time.Since(start), waits)
	if err != nil {
		for _, j := range live {
			j.out <- result{err: err}
		}
		return
	}
	parts := split(y, live)
	for i, j := range live {
		j.out <- result{y: parts[i], batch: n}
	}
}

// concat joins batches along axis 0.
func concat(xs []*tensors.Tensor) *tensors.Tensor {
	if len(xs) == 1 {
		return xs[0]
	}
	dims := slices.Clone(xs[0].Shape().Dimensions)
	var all []float32
	dims[0] = 0
	for _, x := range xs {
		dims[0] += x.Shape().Dimensions[0]
		tensors.MustConstFlatData(x, func(v []float32) { all = append(all, v...) })
	}
	return tensors.FromFlatDataAndDimensions(all, dims...)
}

// split cuts y (the batch of jobs, in order) into one tensor per job.
func split(y *tensors.Tensor, jobs []*job) []*tensors.Tensor {
	if len(jobs) == 1 {
		return []*tensors.Tensor{y}
	}
	dims := y.Shape().Dimensions
	per := y.Shape().Size() / dims[0]
	out := make([]*tensors.Tensor, len(jobs))
	tensors.MustConstFlatData(y, func(v []float32) {
		at := 0
		for i, j := range jobs {
			n := j.x.Shape().Dimensions[0]
			d := slices.Clone(dims)
			d[0] = n
			out[i] = tensors.FromFlatDataAndDimensions(slices.Clone(v[at*per:(at+n)*per]), d...)
			at += n
		}
	})
	return out
}

// Predict runs x (a batch matching the model's input) through the queue, as a
// request does, and returns the model's output.
func (s *Server) Predict(ctx context.Context, x *tensors.Tensor) (*tensors.Tensor, int, error) {
	if err := s.checkInput(x.Shape().Dimensions); err != nil {
		return nil, 0, err
	}
	if n := x.Shape().Dimensions[0]; n > s.cfg.MaxBatch {
		return nil, 0, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("a batch of %d: this server runs at most %d at once", n, s.cfg.MaxBatch)}
	}
	one := slices.Clone(x.Shape().Dimensions)
	one[0] = 1
	per, err := s.runner.EstimateBytes(one)
	if err != nil {
		return nil, 0, err
	}
	if total := per * int64(x.Shape().Dimensions[0]); total > s.cfg.MaxMemory {
		return nil, 0, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("an input of %v would take about %d MB to run: this server's limit is %d MB",
			x.Shape().Dimensions, total>>20, s.cfg.MaxMemory>>20)}
	}
	j := &job{x: x, ctx: ctx, out: make(chan result, 1), perExample: per, queued: time.Now()}
	select {
	case <-s.stop:
		return nil, 0, &httpError{http.StatusServiceUnavailable, "the server is shutting down"}
	default:
	}
	select {
	case s.queue <- j:
	default:
		s.rejected.Add(1)
		return nil, 0, &httpError{http.StatusServiceUnavailable, fmt.Sprintf("busy: %d requests are queued; retry later", s.cfg.QueueSize)}
	}
	select {
	case r := <-j.out:
		return r.y, r.batch, r.err
	case <-ctx.Done():
		return nil, 0, &httpError{http.StatusServiceUnavailable, "timed out waiting for the model: " + ctx.Err().Error()}
	}
}

// checkInput is the runner's CheckInput as a 422 that names no file (a
// damaged graph: the error itself, a 500).
func (s *Server) checkInput(dims []int) error {
	err := s.runner.CheckInput(dims)
	switch {
	case errors.Is(err, freeze.ErrBadFile):
		return err // the model's fault: 500
	case errors.Is(err, freeze.ErrInputTooSmall):
		return &httpError{http.StatusUnprocessableEntity, fmt.Sprintf("shape %v is too small for this model: its pooling would leave no pixels", dims)}
	case err != nil:
		return &httpError{http.StatusUnprocessableEntity, fmt.Sprintf("shape %v does not fit the input %s", dims, s.file.Input)}
	}
	return nil
}

// httpError is an error with the status code to answer it with.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

// Handler is the server's HTTP API: with Config.Token, every request but the
// health checks (GET /healthz, /v2/health/live, /v2/health/ready: what
// Kubernetes' probes ask) carries it. Every request is counted in the metrics.
func (s *Server) Handler() http.Handler {
	mux := s.routes()
	want := []byte("Bearer " + s.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		s.metrics.flight(1)
		defer func() {
			s.metrics.flight(-1)
			s.metrics.request(endpointOf(r.URL.Path), cmp.Or(sw.code, http.StatusOK), time.Since(start))
		}()
		if s.cfg.Token != "" && !openPaths[r.URL.Path] && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="vggnb"`)
			s.writeError(sw, &httpError{http.StatusUnauthorized, "this server wants Authorization: Bearer TOKEN"})
			return
		}
		mux.ServeHTTP(sw, r)
	})
}

// openPaths need no token: the health checks.
var openPaths = map[string]bool{"/healthz": true, "/v2/health/live": true, "/v2/health/ready": true}

// routes is the API without authentication.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/predict", s.handlePredict)
	mux.HandleFunc("/healthz", s.handleHealth)
	mux.HandleFunc("/metadata", s.handleMetadata)
	mux.HandleFunc("/metrics", s.handleMetrics)
	s.routesV2(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, &httpError{http.StatusNotFound, "no such endpoint: POST /predict, GET /healthz, GET /metadata, GET /metrics, /v2/..."})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// writeError answers err as JSON, with its httpError's status (else 500),
// naming the model's file by its base name only: a client learns nothing of
// the server's directories.
func (s *Server) writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	var he *httpError
	if errors.As(err, &he) {
		code = he.code
	}
	msg := err.Error()
	if p := s.file.Path; p != "" {
		msg = strings.ReplaceAll(msg, p, filepath.Base(p))
	}
	writeJSON(w, code, map[string]any{"error": msg, "status": code}) // {"error": ...} as the Open Inference Protocol's
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeError(w, &httpError{http.StatusMethodNotAllowed, "GET /healthz"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "served": s.served.Load(), "batches": s.batches.Load(),
		"rejected": s.rejected.Load(), "queued": len(s.queue)})
}

// Metadata is what GET /metadata answers.
type Metadata struct {
	Title         string   `json:"title"`
	Input         Node     `json:"input"`
	Output        Node     `json:"output"`
	InputDoc      string   `json:"input_doc,omitempty"`
	WeightsSHA256 string   `json:"weights_sha256"`
	Params        int      `json:"params"`
	Opset         int64    `json:"opset"`
	IRVersion     int64    `json:"ir_version"`
	Producer      string   `json:"producer"`
	Classes       int      `json:"classes,omitempty"`
	Synthetic     bool     `json:"synthetic"`
	Notice        string   `json:"notice,omitempty"`
	ImageSize     []int    `json:"image_size,omitempty"`
	Limits        Limits   `json:"limits"`
	Endpoints     []string `json:"endpoints"`
	// Interpolation is the filter images are resized with; Auth says whether
	// requests need the bearer token.
	Interpolation string `json:"interpolation"`
	Auth          bool   `json:"auth"`
	// Engine is what runs the model: "native" (vggnb's kernels) or "graph"
	// (GoMLX); ModelName is its name under /v2/models/.
	Engine    string `json:"engine"`
	ModelName string `json:"model_name"`
}

// Node is a graph input or output.
type Node struct {
	Name  string `json:"name"`
	Shape []any  `json:"shape"` // ints, or the names of dynamic dimensions
}

// Limits are the server's bounds.
type Limits struct {
	MaxBodyBytes       int64   `json:"max_body_bytes"`
	MaxPixels          int     `json:"max_pixels"`
	MaxBatch           int     `json:"max_batch"`
	QueueSize          int     `json:"queue_size"`
	MaxReading         int     `json:"max_reading"`
	ReadTimeoutSeconds float64 `json:"read_timeout_seconds"`
	TimeoutSeconds     float64 `json:"timeout_seconds"`
	MaxGraphs          int     `json:"max_graphs"`
	MaxMemoryBytes     int64   `json:"max_memory_bytes"`
}

func node(t freeze.TensorInfo) Node {
	n := Node{Name: t.Name}
	for i, d := range t.Dims {
		if d < 0 {
			n.Shape = append(n.Shape, t.Params[i])
		} else {
			n.Shape = append(n.Shape, d)
		}
	}
	return n
}

// Metadata describes the model served.
func (s *Server) Metadata() Metadata {
	f := s.file
	m := Metadata{Title: f.Title(), Input: node(f.Input), Output: node(f.Output), InputDoc: f.Meta[freeze.MetaLayout],
		WeightsSHA256: f.Checksum, Params: f.Params, IRVersion: f.Model.IrVersion,
		Producer: f.Model.ProducerName + " " + f.Model.ProducerVersion, Classes: len(f.Labels),
		Synthetic: f.Synthetic(), Notice: f.Meta["vggnb.notice"],
		Limits: Limits{MaxBodyBytes: s.cfg.MaxBodyBytes, MaxPixels: s.cfg.MaxPixels, MaxBatch: s.cfg.MaxBatch, QueueSize: s.cfg.QueueSize,
			MaxReading: s.cfg.MaxReading, ReadTimeoutSeconds: s.cfg.ReadTimeout.Seconds(), TimeoutSeconds: s.cfg.Timeout.Seconds(),
			MaxGraphs: s.cfg.MaxGraphs, MaxMemoryBytes: s.cfg.MaxMemory},
		Endpoints: []string{"POST /predict", "GET /healthz", "GET /metadata", "GET /metrics", "GET /v2", "GET /v2/health/live", "GET /v2/health/ready",
			"GET /v2/models/" + s.cfg.ModelName, "GET /v2/models/" + s.cfg.ModelName + "/ready", "POST /v2/models/" + s.cfg.ModelName + "/infer"},
		Interpolation: string(s.cfg.Interpolation), Auth: s.cfg.Token != "", Engine: string(s.runner.Engine()), ModelName: s.cfg.ModelName}
	for _, o := range f.Model.OpsetImport {
		if o.Domain == "" {
			m.Opset = o.Version
		}
	}
	if h, w, ok := s.imageSize(); ok {
		m.ImageSize = []int{h, w}
	}
	return m
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeError(w, &httpError{http.StatusMethodNotAllowed, "GET /metadata"})
		return
	}
	writeJSON(w, http.StatusOK, s.Metadata())
}

// imageSize is the size images are resized to, and whether the model takes
// images at all: (N, H, W, 3) in caffe preprocessing, or (N, 784) as 28x28 grey.
func (s *Server) imageSize() (h, w int, ok bool) {
	d := s.file.Input.Dims
	switch {
	case len(d) == 4 && d[3] == 3:
		h, w = d[1], d[2]
		if h < 0 {
			h = s.cfg.ImageSize
		}
		if w < 0 {
			w = s.cfg.ImageSize
		}
		return h, w, true
	case len(d) == 2 && d[1] == 28*28:
		return 28, 28, true
	}
	return 0, 0, false
}

// Answer is what POST /predict returns.
type Answer struct {
	Output string `json:"output"`
	Shape  []int  `json:"shape"`
	// Top5 per example, for a classifier.
	Top5 [][]Class `json:"top5,omitempty"`
	// Stats of the output, for features.
	Stats *gomlx_vgg.Stats `json:"stats,omitempty"`
	// Values is the whole output, row-major, when asked for with ?values=1
	// (outputs of up to MaxValues numbers).
	Values []float32 `json:"values,omitempty"`
	// Batch is how many examples ran together (this request's and others').
	Batch     int     `json:"batch"`
	Millis    float64 `json:"ms"`
	Synthetic bool    `json:"synthetic,omitempty"`
	Notice    string  `json:"notice,omitempty"`
}

// MaxValues is the largest output ?values=1 returns.
const MaxValues = 1 << 20

// Class is one of a classifier's top classes.
type Class struct {
	Index       int     `json:"index"`
	Label       string  `json:"label,omitempty"`
	Probability float32 `json:"probability"`
}

// Describe turns an output into an Answer: top-5 classes for a classifier,
// statistics otherwise.
func (s *Server) Describe(y *tensors.Tensor) Answer {
	a := Answer{Output: s.file.Output.Name, Shape: y.Shape().Dimensions, Synthetic: s.file.Synthetic(), Notice: s.file.Meta["vggnb.notice"]}
	dims := y.Shape().Dimensions
	if len(s.file.Labels) > 0 && len(dims) == 2 && dims[1] == len(s.file.Labels) {
		tensors.MustConstFlatData(y, func(v []float32) {
			for b := range dims[0] {
				row := v[b*dims[1] : (b+1)*dims[1]]
				var top []Class
				for _, i := range imagenet.TopIndices(row, 5) {
					top = append(top, Class{Index: i, Label: s.file.Labels[i], Probability: row[i]})
				}
				a.Top5 = append(a.Top5, top)
			}
		})
		return a
	}
	st := gomlx_vgg.StatsOf(y)
	a.Stats = &st
	return a
}

func (s *Server) handlePredict(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		s.writeError(w, &httpError{http.StatusMethodNotAllowed, "POST an image or a tensor to /predict"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	x, err := readInput(ctx, s, w, r, func(body []byte) (*tensors.Tensor, error) {
		return s.Input(r.Header.Get("Content-Type"), r.URL.Query(), body)
	})
	if err != nil {
		s.writeError(w, err)
		return
	}
	values := r.URL.Query().Get("values") == "1"
	y, batch, err := s.compute(ctx, x, values, "leave out values=1")
	if err != nil {
		s.writeError(w, err)
		return
	}
	a := s.Describe(y)
	if values {
		if y.Shape().Size() > MaxValues {
			s.writeError(w, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the output %v has over %d values: leave out values=1", y.Shape().Dimensions, MaxValues)})
			return
		}
		a.Values = tensors.MustCopyFlatData[float32](y)
	}
	a.Batch, a.Millis = batch, float64(time.Since(start).Microseconds())/1000
	writeJSON(w, http.StatusOK, a)
}

// compute runs x through the queue and counts it served. With allValues (the
// whole output goes back), an output of over MaxValues values is refused
// before computing, with advice.
func (s *Server) compute(ctx context.Context, x *tensors.Tensor, allValues bool, advice string) (*tensors.Tensor, int, error) {
	if allValues {
		if out, _, err := s.runner.OutputShape(x.Shape().Dimensions); err == nil && sizeOf(out) > MaxValues {
			return nil, 0, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the output %v would have over %d values: %s", out, MaxValues, advice)}
		}
	}
	y, batch, err := s.Predict(ctx, x)
	if err != nil {
		return nil, 0, err
	}
	s.served.Add(1)
	return y, batch, nil
}

// readInput reads a request's body, bounded by MaxBodyBytes and ReadTimeout,
// and makes it the model's input with parse, in one of the MaxReading slots:
// memory stays bounded by MaxReading bodies and their decoded inputs.
func readInput[T any](ctx context.Context, s *Server, w http.ResponseWriter, r *http.Request, parse func(body []byte) (T, error)) (T, error) {
	var zero T
	if r.ContentLength > s.cfg.MaxBodyBytes {
		return zero, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("a body of %d bytes: the limit is %d", r.ContentLength, s.cfg.MaxBodyBytes)}
	}
	select {
	case s.reading <- struct{}{}:
	case <-ctx.Done():
		return zero, &httpError{http.StatusServiceUnavailable, "timed out waiting to read the request: " + ctx.Err().Error()}
	}
	defer func() { <-s.reading }()
	body, err := s.readBody(w, r)
	if err != nil {
		return zero, err
	}
	return parse(body)
}

// readBody reads a request's body, bounded by MaxBodyBytes and ReadTimeout.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	rc := http.NewResponseController(w)
	deadline := rc.SetReadDeadline(time.Now().Add(s.cfg.ReadTimeout)) == nil
	s.readMu.Lock()
	draining := s.draining
	s.readers[rc] = true
	s.readMu.Unlock()
	if draining {
		_ = rc.SetReadDeadline(time.Now())
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	s.readMu.Lock()
	delete(s.readers, rc)
	draining = s.draining
	s.readMu.Unlock()
	if err != nil {
		// The rest of the body is not read: closed, the connection closes
		// after the answer (net/http would otherwise wait for the rest).
		r.Body.Close()
	} else if deadline {
		_ = rc.SetReadDeadline(time.Time{})
	}
	if err != nil {
		var mbe *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mbe):
			return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is over the limit of %d bytes", s.cfg.MaxBodyBytes)}
		case errors.As(err, &ne) && ne.Timeout() && draining:
			return nil, &httpError{http.StatusServiceUnavailable, fmt.Sprintf("the server is shutting down and the body had not arrived (%d bytes read)", len(body))}
		case errors.As(err, &ne) && ne.Timeout():
			return nil, &httpError{http.StatusRequestTimeout, fmt.Sprintf("the body took over %v to arrive (%d bytes read): send it at once", s.cfg.ReadTimeout, len(body))}
		}
		return nil, &httpError{http.StatusBadRequest, "reading the body: " + err.Error()}
	}
	return body, nil
}

// Input is the model input a POST /predict body of the given content type and
// query becomes (what a direct call to the model should be given).
func (s *Server) Input(contentType string, query url.Values, body []byte) (*tensors.Tensor, error) {
	ct, _, _ := mime.ParseMediaType(contentType)
	if ct == "" || ct == "application/x-www-form-urlencoded" { // curl --data-binary's default
		ct = http.DetectContentType(body)
	}
	switch {
	case ct == "application/json":
		return s.parseJSON(body)
	case ct == "application/octet-stream" && query.Has("shape"):
		return s.parseRaw(query.Get("shape"), body)
	case strings.HasPrefix(ct, "image/") || ct == "application/octet-stream":
		return s.parseImage(body)
	}
	return nil, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q: send image/png, image/jpeg, application/json or application/octet-stream", ct)}
}

// parseImage decodes a PNG or JPEG after checking its header's size, and
// makes it the model's input.
func (s *Server) parseImage(body []byte) (*tensors.Tensor, error) {
	h, w, ok := s.imageSize()
	if !ok {
		return nil, &httpError{http.StatusUnprocessableEntity, fmt.Sprintf("this model's input is %s, not an image: send a tensor", s.file.Input)}
	}
	conf, format, err := image.DecodeConfig(bytes.NewReader(body))
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, "not a PNG or JPEG image: " + err.Error()}
	}
	if conf.Width <= 0 || conf.Height <= 0 || int64(conf.Width)*int64(conf.Height) > int64(s.cfg.MaxPixels) {
		return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("the %s image is %dx%d (%d pixels): the limit is %d pixels",
			format, conf.Width, conf.Height, int64(conf.Width)*int64(conf.Height), s.cfg.MaxPixels)}
	}
	img, err := imagenet.DecodeImg(bytes.NewReader(body), imagenet.TargetSize(h, w), imagenet.MaxPixels(s.cfg.MaxPixels), imagenet.Interpolation(s.cfg.Interpolation))
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, err.Error()}
	}
	if len(s.file.Input.Dims) == 2 { // the MLP: grey, [0, 1], flattened
		v := make([]float32, h*w)
		for i := range v {
			p := img.Pix[4*i : 4*i+3]
			v[i] = (0.299*float32(p[0]) + 0.587*float32(p[1]) + 0.114*float32(p[2])) / 255
		}
		return tensors.FromFlatDataAndDimensions(v, 1, h*w), nil
	}
	x, err := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
	if err != nil {
		return nil, &httpError{http.StatusBadRequest, err.Error()}
	}
	return imagenet.Batch(x)
}

// tensorRequest is a JSON tensor.
type tensorRequest struct {
	Shape []int     `json:"shape"`
	Data  []float32 `json:"data"`
}

func (s *Server) parseJSON(body []byte) (*tensors.Tensor, error) {
	var req tensorRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, &httpError{http.StatusBadRequest, `malformed JSON tensor (want {"shape": [...], "data": [...]}): ` + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &httpError{http.StatusBadRequest, `malformed JSON tensor: something follows the object (want one {"shape": [...], "data": [...]})`}
	}
	return s.tensor(req.Shape, req.Data)
}

func (s *Server) parseRaw(shape string, body []byte) (*tensors.Tensor, error) {
	var dims []int
	for _, f := range strings.Split(shape, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("shape %q: want comma-separated integers", shape)}
		}
		dims = append(dims, d)
	}
	if len(body)%4 != 0 {
		return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("%d bytes is not a whole number of float32 values", len(body))}
	}
	return s.tensor(dims, weights.Float32sFromLE(body))
}

// tensor checks a tensor's shape and values against the model's input.
func (s *Server) tensor(dims []int, v []float32) (*tensors.Tensor, error) {
	n := 1
	for _, d := range dims {
		if d <= 0 || d > 1<<20 {
			return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("shape %v: dimensions must be positive", dims)}
		}
		n *= d
		if n > 1<<28 {
			return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("shape %v is too large", dims)}
		}
	}
	if err := s.checkInput(dims); err != nil {
		return nil, err
	}
	if len(dims) == 4 && dims[1]*dims[2] > s.cfg.MaxPixels {
		return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("%dx%d is over the limit of %d pixels", dims[1], dims[2], s.cfg.MaxPixels)}
	}
	if n != len(v) {
		return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("shape %v needs %d values, got %d", dims, n, len(v))}
	}
	for i, f := range v {
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return nil, &httpError{http.StatusBadRequest, fmt.Sprintf("value %d is %v: inputs must be finite", i, f)}
		}
	}
	return tensors.FromFlatDataAndDimensions(v, dims...), nil
}

// cutReads ends the body reads in progress, and any that start, at once:
// a request still sending its body when the server shuts down gets 503
// rather than holding the shutdown for its ReadTimeout.
func (s *Server) cutReads() {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	s.draining = true
	for rc := range s.readers {
		_ = rc.SetReadDeadline(time.Now())
	}
}

// Serve answers on ln until ctx ends, then shuts down gracefully: the listener
// closes, requests still sending their bodies are cut (503), the others in
// flight get up to grace to finish, the worker stops.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10,
		IdleTimeout: time.Minute}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		s.Close()
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	s.cutReads()
	err := srv.Shutdown(sctx)
	s.Close()
	if err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	return nil
}
