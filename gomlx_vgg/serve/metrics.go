package serve

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metric names GET /metrics exposes, in Prometheus' text format (0.0.4).
const (
	MetricRequests        = "vggnb_serve_requests_total"
	MetricRequestDuration = "vggnb_serve_request_duration_seconds"
	MetricQueueDuration   = "vggnb_serve_queue_duration_seconds"
	MetricComputeDuration = "vggnb_serve_compute_duration_seconds"
	MetricBatchSize       = "vggnb_serve_batch_size"
	MetricInFlight        = "vggnb_serve_in_flight_requests"
	MetricQueued          = "vggnb_serve_queued_requests"
	MetricModelLoad       = "vggnb_serve_model_load_duration_seconds"
	MetricInfo            = "vggnb_serve_info"
)

// durationBuckets are the upper bounds (seconds) of the duration histograms:
// from a cached small model's milliseconds to a large batch's minutes.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120}

// batchBuckets are the batch size histogram's upper bounds.
var batchBuckets = []float64{1, 2, 4, 8, 16, 32, 64}

// histogram is a Prometheus histogram: cumulative counts per upper bound.
type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	count  uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // the first bound >= v
	h.counts[i]++
	h.sum += v
	h.count++
}

// metrics are the server's counters, histograms and gauges.
type metrics struct {
	mu       sync.Mutex
	requests map[[2]string]uint64  // by endpoint and status code
	duration map[string]*histogram // request durations by endpoint
	queue    *histogram
	compute  *histogram
	batch    *histogram
	inFlight int
	load     time.Duration
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, duration: map[string]*histogram{},
		queue: newHistogram(durationBuckets), compute: newHistogram(durationBuckets), batch: newHistogram(batchBuckets)}
}

// request records one answered request.
func (m *metrics) request(endpoint string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[[2]string{endpoint, strconv.Itoa(code)}]++
	if endpoint == endpointPredict || endpoint == endpointInfer {
		h := m.duration[endpoint]
		if h == nil {
			h = newHistogram(durationBuckets)
			m.duration[endpoint] = h
		}
		h.observe(d.Seconds())
	}
}

// ran records one batch: its size, its compute time and its jobs' waits.
func (m *metrics) ran(size int, compute time.Duration, waits []time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.batch.observe(float64(size))
	m.compute.observe(compute.Seconds())
	for _, w := range waits {
		m.queue.observe(w.Seconds())
	}
}

func (m *metrics) flight(delta int) {
	m.mu.Lock()
	m.inFlight += delta
	m.mu.Unlock()
}

// The endpoints requests are counted by.
const (
	endpointPredict  = "predict"
	endpointInfer    = "infer"
	endpointMetadata = "metadata"
	endpointHealth   = "health"
	endpointMetrics  = "metrics"
	endpointOther    = "other"
)

// endpointOf names the endpoint of a request's path, for the metrics' labels
// (a fixed set: a client's paths never become label values).
func endpointOf(path string) string {
	switch {
	case path == "/predict":
		return endpointPredict
	case strings.HasPrefix(path, "/v2/models/") && strings.HasSuffix(path, "/infer"):
		return endpointInfer
	case path == "/healthz" || strings.HasPrefix(path, "/v2/health/") || strings.HasSuffix(path, "/ready"):
		return endpointHealth
	case path == "/metadata" || path == "/v2" || strings.HasPrefix(path, "/v2/models/"):
		return endpointMetadata
	case path == "/metrics":
		return endpointMetrics
	}
	return endpointOther
}

// write writes the metrics in Prometheus' text format; info's labels go on
// vggnb_serve_info, queued is the queue's length now.
func (m *metrics) write(w io.Writer, info map[string]string, queued int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	header := func(name, typ, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	header(MetricRequests, "counter", "Requests answered, by endpoint and HTTP status code.")
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range keys {
		fmt.Fprintf(w, "%s{endpoint=%q,code=%q} %d\n", MetricRequests, k[0], k[1], m.requests[k])
	}
	header(MetricRequestDuration, "histogram", "Time from a request's arrival to its answer, by endpoint.")
	for _, e := range []string{endpointInfer, endpointPredict} {
		if h := m.duration[e]; h != nil {
			writeHistogram(w, MetricRequestDuration, fmt.Sprintf("endpoint=%q", e), h)
		}
	}
	header(MetricQueueDuration, "histogram", "Time a request's examples waited in the queue before their batch ran.")
	writeHistogram(w, MetricQueueDuration, "", m.queue)
	header(MetricComputeDuration, "histogram", "Time the model took to run one batch.")
	writeHistogram(w, MetricComputeDuration, "", m.compute)
	header(MetricBatchSize, "histogram", "Examples run together in one batch.")
	writeHistogram(w, MetricBatchSize, "", m.batch)
	header(MetricInFlight, "gauge", "Requests being read, queued or run now.")
	fmt.Fprintf(w, "%s %d\n", MetricInFlight, m.inFlight)
	header(MetricQueued, "gauge", "Requests waiting in the queue now.")
	fmt.Fprintf(w, "%s %d\n", MetricQueued, queued)
	header(MetricModelLoad, "gauge", "Time taken to load (or freeze) the model and check it on a sample input before serving.")
	fmt.Fprintf(w, "%s %s\n", MetricModelLoad, formatFloat(m.load.Seconds()))
	header(MetricInfo, "gauge", "The model served and how (always 1).")
	names := make([]string, 0, len(info))
	for k := range info {
		names = append(names, k)
	}
	slices.Sort(names)
	var labels []string
	for _, k := range names {
		labels = append(labels, fmt.Sprintf("%s=%q", k, info[k]))
	}
	fmt.Fprintf(w, "%s{%s} 1\n", MetricInfo, strings.Join(labels, ","))
}

// writeHistogram writes h's buckets, sum and count under name with labels.
func writeHistogram(w io.Writer, name, labels string, h *histogram) {
	sep := ""
	if labels != "" {
		sep = ","
	}
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{%s%sle=%q} %d\n", name, labels, sep, formatFloat(b), cum)
	}
	fmt.Fprintf(w, "%s_bucket{%s%sle=\"+Inf\"} %d\n", name, labels, sep, h.count)
	braces := ""
	if labels != "" {
		braces = "{" + labels + "}"
	}
	fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, braces, formatFloat(h.sum), name, braces, h.count)
}

func formatFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// statusWriter remembers the status code a handler answered.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (read deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// SetLoadDuration records how long the model took to load and check, which
// GET /metrics reports as vggnb_serve_model_load_duration_seconds.
func (s *Server) SetLoadDuration(d time.Duration) {
	s.metrics.mu.Lock()
	s.metrics.load = d
	s.metrics.mu.Unlock()
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		s.writeError(w, &httpError{http.StatusMethodNotAllowed, "GET /metrics"})
		return
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.write(w, map[string]string{"model": s.cfg.ModelName, "engine": string(s.runner.Engine()), "weights_sha256": s.file.Checksum,
		"synthetic": strconv.FormatBool(s.file.Synthetic())}, len(s.queue))
}
