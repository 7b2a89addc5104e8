// Package loadtest drives a running vggnb model server (package serve) with
// concurrent clients sending valid and malformed requests, and reports
// requests/s, latencies, memory and every answer that differs from a direct
// call or a malformed request that was not refused: bench/serve's load test
// and serve's own short one.
package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/serve"
	"github.com/vggnb/vggnb/internal/hugepng"
	"github.com/vggnb/vggnb/internal/procstat"
)

// Request is one request a load test sends.
type Request struct {
	// Name says what it is ("png 224", "truncated png", ...).
	Name string
	// Method (default POST), Path (default /predict?values=1) and ContentType.
	Method, Path, ContentType string
	Body                      []byte
	// Want is the output a valid request must answer (from a direct call);
	// nil for a malformed request, which must get a 4xx.
	Want *tensors.Tensor
}

// Config is a load test: Clients concurrent clients send requests for
// Duration or until MaxRequests are sent, every MalformedEvery-th one (0:
// none) malformed, the others valid, round-robin.
type Config struct {
	URL            string
	Clients        int
	Duration       time.Duration
	MaxRequests    int
	Valid          []Request
	Malformed      []Request
	MalformedEvery int
	// Tolerance is how far a valid answer may be from Want: max|diff| <=
	// Tolerance * max|Want| (default 1e-5).
	Tolerance float64
}

// Report is what a load test measured.
type Report struct {
	Clients            int
	Seconds            float64
	Requests           int
	Valid, Malformed   int
	PerSecond          float64
	P50, P99, Max      time.Duration // latencies of the valid requests
	MeanBatch          float64       // examples per run, as the answers say
	MaxRelDiff         float64       // the worst valid answer against its direct call
	Mismatches         int           // valid answers off by more than the tolerance, or not 200
	WrongRejections    int           // malformed requests not answered 4xx with a JSON error
	Statuses           map[int]int
	Failures           []string // the first few problems
	PeakRSSMiB         float64  // this process's peak resident memory (VmHWM)
	HeapMiB, SysMiB    float64  // Go heap in use and obtained from the OS, at the end
	ServerQueueRejects int
}

// String is the report in a few lines.
func (r Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d clients, %.1f s: %d requests (%d valid, %d malformed), %.1f requests/s\n",
		r.Clients, r.Seconds, r.Requests, r.Valid, r.Malformed, r.PerSecond)
	fmt.Fprintf(&b, "valid latency p50 %s, p99 %s, max %s; mean batch %.2f examples\n",
		r.P50.Round(time.Millisecond), r.P99.Round(time.Millisecond), r.Max.Round(time.Millisecond), r.MeanBatch)
	fmt.Fprintf(&b, "answers vs direct calls: max|diff|/max|ref| = %.2g, %d mismatches; malformed not refused with a 4xx: %d\n",
		r.MaxRelDiff, r.Mismatches, r.WrongRejections)
	codes := make([]int, 0, len(r.Statuses))
	for c := range r.Statuses {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	var parts []string
	for _, c := range codes {
		parts = append(parts, fmt.Sprintf("%d×%d", c, r.Statuses[c]))
	}
	fmt.Fprintf(&b, "statuses %s; memory: peak RSS %.0f MiB, Go heap %.0f MiB (sys %.0f MiB)\n",
		strings.Join(parts, " "), r.PeakRSSMiB, r.HeapMiB, r.SysMiB)
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "  FAIL %s\n", f)
	}
	return b.String()
}

// Run runs the load test and reports; it fails only on bad configuration
// (problems with answers are in the report).
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Clients <= 0 || len(cfg.Valid) == 0 || (cfg.Duration <= 0 && cfg.MaxRequests <= 0) {
		return Report{}, fmt.Errorf("loadtest: a load test needs clients, valid requests and a duration or a count")
	}
	if cfg.Tolerance == 0 {
		cfg.Tolerance = 1e-5
	}
	if cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients}, Timeout: 5 * time.Minute}
	var (
		mu        sync.Mutex
		rep       = Report{Clients: cfg.Clients, Statuses: map[int]int{}}
		latencies []time.Duration
		batchSum  int
		next      int
	)
	fail := func(format string, args ...any) {
		if len(rep.Failures) < 8 {
			rep.Failures = append(rep.Failures, fmt.Sprintf(format, args...))
		}
	}
	take := func() (int, bool) {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil || (cfg.MaxRequests > 0 && next >= cfg.MaxRequests) {
			return 0, false
		}
		next++
		return next - 1, true
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i, ok := take()
				if !ok {
					return
				}
				malformed := cfg.MalformedEvery > 0 && len(cfg.Malformed) > 0 && i%cfg.MalformedEvery == cfg.MalformedEvery-1
				var req Request
				if malformed {
					req = cfg.Malformed[(i/cfg.MalformedEvery)%len(cfg.Malformed)]
				} else {
					req = cfg.Valid[i%len(cfg.Valid)]
				}
				t0 := time.Now()
				code, body, err := send(client, cfg.URL, req)
				took := time.Since(t0)
				if err != nil && ctx.Err() != nil {
					return // the test's time ran out mid-request
				}
				mu.Lock()
				rep.Requests++
				rep.Statuses[code]++
				if malformed {
					rep.Malformed++
					var e struct {
						Error string `json:"error"`
					}
					if err != nil || code < 400 || code >= 500 || json.Unmarshal(body, &e) != nil || e.Error == "" {
						rep.WrongRejections++
						fail("%s: status %d, %v, %.200q", req.Name, code, err, body)
					}
				} else {
					rep.Valid++
					latencies = append(latencies, took)
					var a serve.Answer
					if err != nil || code != http.StatusOK || json.Unmarshal(body, &a) != nil {
						rep.Mismatches++
						fail("%s: status %d, %v, %.200q", req.Name, code, err, body)
					} else {
						batchSum += a.Batch
						d := relDiff(req.Want, a)
						rep.MaxRelDiff = max(rep.MaxRelDiff, d)
						if !(d <= cfg.Tolerance) { // NaN fails
							rep.Mismatches++
							fail("%s: answer differs from the direct call by %.3g of max|ref|", req.Name, d)
						}
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rep.Seconds = time.Since(start).Seconds()
	rep.PerSecond = float64(rep.Requests) / rep.Seconds
	if len(latencies) > 0 {
		slices.Sort(latencies)
		rep.P50 = latencies[len(latencies)/2]
		rep.P99 = latencies[min(len(latencies)-1, len(latencies)*99/100)]
		rep.Max = latencies[len(latencies)-1]
		rep.MeanBatch = float64(batchSum) / float64(max(1, rep.Valid-rep.Mismatches))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.HeapMiB, rep.SysMiB = float64(ms.HeapInuse)/(1<<20), float64(ms.Sys)/(1<<20)
	rep.PeakRSSMiB = peakRSS()
	return rep, nil
}

// send posts one request and returns the status and body.
func send(client *http.Client, url string, req Request) (int, []byte, error) {
	method, path := req.Method, req.Path
	if method == "" {
		method = http.MethodPost
	}
	if path == "" {
		path = "/predict?values=1"
	}
	hr, err := http.NewRequest(method, url+path, bytes.NewReader(req.Body))
	if err != nil {
		return 0, nil, err
	}
	if req.ContentType != "" {
		hr.Header.Set("Content-Type", req.ContentType)
	}
	resp, err := client.Do(hr)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	return resp.StatusCode, body, err
}

// relDiff is max|want - values| / max|want| (consistency.Compare; +Inf if the
// answer's shape or size is off, NaN if a value is).
func relDiff(want *tensors.Tensor, a serve.Answer) float64 {
	w := tensors.MustCopyFlatData[float32](want)
	if len(w) != len(a.Values) || !slices.Equal(want.Shape().Dimensions, a.Shape) {
		return math.Inf(1)
	}
	_, rel := consistency.Compare(a.Values, w)
	return rel
}

// peakRSS is this process's peak resident set (Linux VmHWM) in MiB, 0 if unknown.
func peakRSS() float64 {
	kb, _ := procstat.KB("VmHWM")
	return float64(kb) / 1024
}

// Malformed are requests a server must refuse with a 4xx and a JSON error,
// made around a valid PNG.
func Malformed(png []byte) []Request {
	return []Request{
		{Name: "truncated png", ContentType: "image/png", Body: png[:len(png)/2]},
		{Name: "garbage as png", ContentType: "image/png", Body: []byte("this is not an image at all, only text")},
		{Name: "60000x60000 png header", ContentType: "image/png", Body: hugepng.New(60000, 60000)},
		{Name: "empty body", ContentType: "image/png"},
		{Name: "json wrong shape", ContentType: "application/json", Body: []byte(`{"shape": [1, 5, 5, 7], "data": [1]}`)},
		{Name: "json syntax", ContentType: "application/json", Body: []byte(`{"shape": [1, 2`)},
		{Name: "json count", ContentType: "application/json", Body: []byte(`{"shape": [1, 784], "data": [1, 2, 3]}`)},
		{Name: "raw odd length", ContentType: "application/octet-stream", Path: "/predict?shape=1,784", Body: []byte{1, 2, 3}},
		{Name: "1x1x1x3 tensor", ContentType: "application/octet-stream", Path: "/predict?shape=1,1,1,3", Body: make([]byte, 12)},
		{Name: "json trailing garbage", ContentType: "application/json",
			Body: []byte(`{"shape": [1, 32, 32, 3], "data": [` + strings.Repeat("0,", 32*32*3-1) + `0]} and more`)},
		{Name: "text/plain", ContentType: "text/plain", Body: []byte("hello")},
		{Name: "GET /predict", Method: http.MethodGet},
	}
}

// ValidRequests makes n valid requests for s (PNG and JPEG variants of the
// demo photo, and a JSON tensor), each with the output of a direct call to
// runner on the input it becomes.
func ValidRequests(s *serve.Server, runner *freeze.Runner, n int) ([]Request, error) {
	img, err := imagenet.DemoImage()
	if err != nil {
		return nil, err
	}
	var out []Request
	for i := range n {
		var req Request
		switch i % 3 {
		case 0, 1: // the photo shifted and tinted, as PNG then JPEG
			v := image.NewNRGBA(img.Bounds())
			b := img.Bounds()
			for y := b.Min.Y; y < b.Max.Y; y++ {
				for x := b.Min.X; x < b.Max.X; x++ {
					c := img.NRGBAAt(b.Min.X+(x-b.Min.X+7*i)%b.Dx(), y)
					c.R += uint8(13 * i)
					v.SetNRGBA(x, y, c)
				}
			}
			var buf bytes.Buffer
			if i%3 == 0 {
				err = png.Encode(&buf, v)
				req = Request{Name: fmt.Sprintf("png %d", i), ContentType: "image/png"}
			} else {
				err = jpeg.Encode(&buf, v, &jpeg.Options{Quality: 90})
				req = Request{Name: fmt.Sprintf("jpeg %d", i), ContentType: "image/jpeg"}
			}
			if err != nil {
				return nil, err
			}
			req.Body = buf.Bytes()
		default: // a tensor of the input's shape
			md := s.Metadata()
			dims := make([]int, len(md.Input.Shape))
			for j, d := range md.Input.Shape {
				dims[j], _ = d.(int) // a dynamic dimension: the image size below
			}
			dims[0] = 1
			if len(md.ImageSize) == 2 && len(dims) == 4 {
				dims[1], dims[2] = md.ImageSize[0], md.ImageSize[1]
			}
			size := 1
			for _, d := range dims {
				size *= d
			}
			r := rand.New(rand.NewPCG(uint64(i), 1))
			data := make([]float32, size)
			for j := range data {
				data[j] = r.Float32()*2 - 1
			}
			body, _ := json.Marshal(map[string]any{"shape": dims, "data": data})
			req = Request{Name: fmt.Sprintf("json %d", i), ContentType: "application/json", Body: body}
		}
		x, err := s.Input(req.ContentType, nil, req.Body)
		if err != nil {
			return nil, fmt.Errorf("loadtest: request %s: %w", req.Name, err)
		}
		if req.Want, err = runner.Run(x); err != nil {
			return nil, err
		}
		out = append(out, req)
	}
	return out, nil
}
