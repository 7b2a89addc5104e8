package serve_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/adapt"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/gomlx_vgg/serve"
	"github.com/vggnb/vggnb/gomlx_vgg/serve/loadtest"
)

// frozenMLP is a small trained MLP, frozen in memory.
func frozenMLP(t testing.TB) *freeze.Runner {
	t.Helper()
	m := mlp.New(mlp.Config{Hidden: []int{32}, BatchNorm: true, Dropout: 0.2}, nil)
	d := mlp.RandomDataset(200, 10, 1)
	if _, err := m.Train(d, 10, nil, nil, 0, nil); err != nil {
		t.Fatal(err)
	}
	return runnerOf(t, func() (*freeze.Net, error) { return adapt.MLP(m) })
}

// frozenVGG is VGG19 without its top (synthetic weights), frozen in memory.
func frozenVGG(t testing.TB) *freeze.Runner {
	t.Helper()
	m, err := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Done()
	if err != nil {
		t.Fatal(err)
	}
	return runnerOf(t, func() (*freeze.Net, error) { return adapt.VGG(m) })
}

func runnerOf(t testing.TB, net func() (*freeze.Net, error)) *freeze.Runner {
	n, err := net()
	if err != nil {
		t.Fatal(err)
	}
	f, err := n.File()
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Runner(nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// start serves s on 127.0.0.1 until the test ends; it returns the base URL.
func start(t testing.TB, s *serve.Server) (string, context.CancelFunc, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, 30*time.Second) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return "http://" + ln.Addr().String(), cancel, done
}

func post(t *testing.T, u, ct string, body io.Reader, size int64) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("POST %s: %d, not JSON: %.300q", u, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func TestPredictEqualsDirectCall(t *testing.T) {
	runner := frozenMLP(t)
	s := serve.New(runner, serve.Config{})
	base, _, _ := start(t, s)
	png := imagenet.DemoImagePNG()
	x := make([]float32, 2*784)
	for i := range x {
		x[i] = float32(i%97) / 97
	}
	raw := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	js, _ := json.Marshal(map[string]any{"shape": []int{2, 784}, "data": x})
	for _, c := range []struct {
		name, ct, query string
		body            []byte
	}{
		{"png", "image/png", "", png},
		{"png sniffed", "", "", png},
		{"json", "application/json", "", js},
		{"raw float32", "application/octet-stream", "shape=2,784", raw},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, _ := url.ParseQuery(c.query)
			in, err := s.Input(c.ct, q, c.body)
			if err != nil {
				t.Fatal(err)
			}
			want, err := runner.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			code, out := post(t, base+"/predict?values=1&"+c.query, c.ct, bytes.NewReader(c.body), int64(len(c.body)))
			if code != http.StatusOK {
				t.Fatalf("%d %v", code, out)
			}
			vals := out["values"].([]any)
			w := tensors.MustCopyFlatData[float32](want)
			if len(vals) != len(w) {
				t.Fatalf("%d values, want %d", len(vals), len(w))
			}
			for i := range w {
				if d := math.Abs(vals[i].(float64) - float64(w[i])); d > 1e-6 {
					t.Fatalf("value %d: %v, direct call %v", i, vals[i], w[i])
				}
			}
			top := out["top5"].([]any)
			if len(top) != want.Shape().Dimensions[0] || len(top[0].([]any)) != 5 {
				t.Fatalf("top5 %v", top)
			}
			if l := top[0].([]any)[0].(map[string]any)["label"]; l == "" || l == nil {
				t.Fatalf("top class without a label: %v", top[0])
			}
		})
	}
	resp, err := http.Get(base + "/metadata")
	if err != nil {
		t.Fatal(err)
	}
	var md serve.Metadata
	json.NewDecoder(resp.Body).Decode(&md)
	resp.Body.Close()
	if md.Input.Name != "input_1" || md.Output.Name != "dense_2" || len(md.WeightsSHA256) != 64 || md.Opset != freeze.Opset || md.Classes != 10 {
		t.Fatalf("metadata %+v", md)
	}
}

// zeros is an endless reader of zero bytes, so a "1 GB upload" allocates nothing.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.n))
	clear(p[:n])
	z.n -= int64(n)
	return n, nil
}

// TestHostileRequests: malformed uploads, a 60000x60000 PNG header, a 1 GB
// body (declared and chunked) each get a clear 4xx, and the server still
// answers afterwards.
func TestHostileRequests(t *testing.T) {
	s := serve.New(frozenVGG(t), serve.Config{ImageSize: 32})
	base, _, _ := start(t, s)
	for _, req := range loadtest.Malformed(imagenet.DemoImagePNG()) {
		t.Run(req.Name, func(t *testing.T) {
			method := req.Method
			if method == "" {
				method = http.MethodPost
			}
			path := req.Path
			if path == "" {
				path = "/predict"
			}
			hr, _ := http.NewRequest(method, base+path, bytes.NewReader(req.Body))
			hr.Header.Set("Content-Type", req.ContentType)
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct{ Error string }
			json.NewDecoder(resp.Body).Decode(&out)
			if resp.StatusCode < 400 || resp.StatusCode >= 500 || out.Error == "" {
				t.Fatalf("status %d, error %q", resp.StatusCode, out.Error)
			}
			t.Logf("%d %s", resp.StatusCode, out.Error)
			if req.Name == "60000x60000 png header" && (resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(out.Error, "60000x60000")) {
				t.Fatalf("want 413 naming the size, got %d %q", resp.StatusCode, out.Error)
			}
		})
	}
	for _, c := range []struct {
		name string
		size int64
	}{{"1 GB declared", 1 << 30}, {"1 GB chunked", -1}} {
		t.Run(c.name, func(t *testing.T) {
			code, out := post(t, base+"/predict", "image/png", &zeros{1 << 30}, c.size)
			if code != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d %v", code, out)
			}
			t.Logf("%d %s", code, out["error"])
		})
	}
	code, out := post(t, base+"/predict", "image/png", bytes.NewReader(imagenet.DemoImagePNG()), -1)
	if code != http.StatusOK || out["stats"] == nil {
		t.Fatalf("a valid image after the hostile ones: %d %v", code, out)
	}
}

// TestConcurrentRequestsAreBatched: requests arriving together run as one batch.
func TestConcurrentRequestsAreBatched(t *testing.T) {
	s := serve.New(frozenMLP(t), serve.Config{BatchWindow: 50 * time.Millisecond, MaxBatch: 8})
	base, _, _ := start(t, s)
	png := imagenet.DemoImagePNG()
	var wg sync.WaitGroup
	batches := make([]float64, 8)
	for i := range batches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := post(t, base+"/predict", "image/png", bytes.NewReader(png), int64(len(png)))
			if code == http.StatusOK {
				batches[i] = out["batch"].(float64)
			}
		}()
	}
	wg.Wait()
	best := 0.0
	for _, b := range batches {
		if b == 0 {
			t.Fatalf("a request failed: %v", batches)
		}
		best = max(best, b)
	}
	if best < 2 {
		t.Fatalf("8 concurrent requests ran in batches %v: none together", batches)
	}
}

// TestGracefulShutdown: a request in flight when the server is told to stop
// is answered; afterwards nothing listens.
func TestGracefulShutdown(t *testing.T) {
	s := serve.New(frozenVGG(t), serve.Config{BatchWindow: 300 * time.Millisecond})
	base, cancel, done := start(t, s)
	png := imagenet.DemoImagePNG()
	type answer struct {
		code int
		err  error
	}
	got := make(chan answer, 1)
	go func() {
		resp, err := http.Post(base+"/predict", "image/png", bytes.NewReader(png))
		if err != nil {
			got <- answer{err: err}
			return
		}
		resp.Body.Close()
		got <- answer{code: resp.StatusCode}
	}()
	time.Sleep(100 * time.Millisecond) // the request waits in its batch window
	cancel()
	a := <-got
	if a.err != nil || a.code != http.StatusOK {
		t.Fatalf("in-flight request during shutdown: %d, %v", a.code, a.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	done <- nil // for the cleanup
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the server still answers after shutdown")
	}
}

// TestLoad is a short load test (the 30 s one is bench/serve): concurrent
// clients, valid and malformed requests mixed; every valid answer equals a
// direct call and every malformed one gets a 4xx.
func TestLoad(t *testing.T) {
	runner := frozenVGG(t)
	s := serve.New(runner, serve.Config{ImageSize: 32})
	base, _, _ := start(t, s)
	valid, err := loadtest.ValidRequests(s, runner, 4)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := loadtest.Run(context.Background(), loadtest.Config{URL: base, Clients: 4, Duration: 3 * time.Second,
		MaxRequests: 400, Valid: valid, Malformed: loadtest.Malformed(imagenet.DemoImagePNG()), MalformedEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + rep.String())
	if rep.Valid == 0 || rep.Malformed == 0 || rep.Mismatches > 0 || rep.WrongRejections > 0 {
		t.Fatal(fmt.Sprint(rep.Failures))
	}
}

// WithDefaults fills what is zero or negative, keeps what is set, and is
// where the defaults are written (the CLI's flags show these).
func TestWithDefaults(t *testing.T) {
	def := serve.Config{}.WithDefaults()
	if def.MaxPixels != serve.DefaultMaxPixels || serve.DefaultMaxPixels >= imagenet.DefaultMaxPixels {
		t.Errorf("MaxPixels default %d, want DefaultMaxPixels %d (below imagenet's %d)", def.MaxPixels, serve.DefaultMaxPixels, imagenet.DefaultMaxPixels)
	}
	if def.ImageSize != gomlx_vgg.DefaultSize {
		t.Errorf("ImageSize default %d, want %d", def.ImageSize, gomlx_vgg.DefaultSize)
	}
	for _, c := range []struct {
		name string
		in   serve.Config
		want serve.Config
	}{
		{"zero", serve.Config{}, def},
		{"negative", serve.Config{MaxBodyBytes: -1, MaxPixels: -1, MaxBatch: -1, BatchWindow: -1, QueueSize: -1, ImageSize: -1, Timeout: -1, MaxReading: -1}, def},
		{"set", serve.Config{MaxBodyBytes: 10, MaxPixels: 20, MaxBatch: 3, BatchWindow: time.Second, QueueSize: 5, ImageSize: 32, Timeout: time.Minute, MaxReading: 7},
			serve.Config{MaxBodyBytes: 10, MaxPixels: 20, MaxBatch: 3, BatchWindow: time.Second, QueueSize: 5, ImageSize: 32, Timeout: time.Minute, MaxReading: 7}},
	} {
		if got := c.in.WithDefaults(); got != c.want {
			t.Errorf("%s: %+v.WithDefaults() = %+v, want %+v", c.name, c.in, got, c.want)
		}
	}
	for name, v := range map[string]int64{"MaxBodyBytes": def.MaxBodyBytes, "MaxBatch": int64(def.MaxBatch), "BatchWindow": int64(def.BatchWindow),
		"QueueSize": int64(def.QueueSize), "Timeout": int64(def.Timeout), "MaxReading": int64(def.MaxReading)} {
		if v <= 0 {
			t.Errorf("default %s = %d, want positive", name, v)
		}
	}
}
