package serve_test

import (
	"bufio"
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
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/gomlx/core/tensors"
	"google.golang.org/protobuf/proto"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/adapt"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/gomlx_vgg/serve"
	"github.com/vggnb/vggnb/gomlx_vgg/serve/loadtest"
	"github.com/vggnb/vggnb/weights"
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

// block1Pool is VGG16 cut at block1_pool (synthetic weights) as a Net: a
// model small enough to run many times.
func block1Pool(t testing.TB) *freeze.Net {
	t.Helper()
	m, err := gomlx_vgg.VGG16().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil).Done()
	if err != nil {
		t.Fatal(err)
	}
	if m, err = m.Truncate("block1_pool"); err != nil {
		t.Fatal(err)
	}
	n, err := adapt.VGG(m)
	if err != nil {
		t.Fatal(err)
	}
	return n
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
		{"negative", serve.Config{MaxBodyBytes: -1, MaxPixels: -1, MaxBatch: -1, BatchWindow: -1, QueueSize: -1, ImageSize: -1, Timeout: -1, MaxReading: -1,
			ReadTimeout: -1, MaxGraphs: -1, MaxMemory: -1}, def},
		{"set", serve.Config{MaxBodyBytes: 10, MaxPixels: 20, MaxBatch: 3, BatchWindow: time.Second, QueueSize: 5, ImageSize: 32, Timeout: time.Minute, MaxReading: 7,
			ReadTimeout: time.Second, MaxGraphs: 2, MaxMemory: 1 << 20, Token: "t", Interpolation: imagenet.Bilinear},
			serve.Config{MaxBodyBytes: 10, MaxPixels: 20, MaxBatch: 3, BatchWindow: time.Second, QueueSize: 5, ImageSize: 32, Timeout: time.Minute, MaxReading: 7,
				ReadTimeout: time.Second, MaxGraphs: 2, MaxMemory: 1 << 20, Token: "t", Interpolation: imagenet.Bilinear}},
	} {
		if got := c.in.WithDefaults(); got != c.want {
			t.Errorf("%s: %+v.WithDefaults() = %+v, want %+v", c.name, c.in, got, c.want)
		}
	}
	for name, v := range map[string]int64{"MaxBodyBytes": def.MaxBodyBytes, "MaxBatch": int64(def.MaxBatch), "BatchWindow": int64(def.BatchWindow),
		"QueueSize": int64(def.QueueSize), "Timeout": int64(def.Timeout), "MaxReading": int64(def.MaxReading),
		"ReadTimeout": int64(def.ReadTimeout), "MaxGraphs": int64(def.MaxGraphs), "MaxMemory": def.MaxMemory} {
		if v <= 0 {
			t.Errorf("default %s = %d, want positive", name, v)
		}
	}
}

// TestSlowBody: a client that sends its body a little at a time gets 408
// after ReadTimeout, and meanwhile its reading slot goes to the next request
// (with one slot, a valid request answered in about ReadTimeout, not after
// Timeout's 2 minutes with 503).
func TestSlowBody(t *testing.T) {
	s := serve.New(frozenMLP(t), serve.Config{MaxReading: 1, ReadTimeout: 500 * time.Millisecond})
	base, _, _ := start(t, s)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /predict?shape=1,784 HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", 4*784)
	if _, err := conn.Write(make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // the slow request holds the only slot
	client := &http.Client{Timeout: 10 * time.Second}
	began := time.Now()
	req, _ := http.NewRequest(http.MethodPost, base+"/predict?shape=1,784", bytes.NewReader(make([]byte, 4*784)))
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("a valid request behind a slow one: %v", err)
	}
	resp.Body.Close()
	if took := time.Since(began); resp.StatusCode != http.StatusOK || took > 5*time.Second {
		t.Errorf("a valid request behind a slow one: %d after %v, want 200 after about the read timeout", resp.StatusCode, took)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	slow, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the slow client's answer: %v", err)
	}
	defer slow.Body.Close()
	var out struct{ Error string }
	json.NewDecoder(slow.Body).Decode(&out)
	if slow.StatusCode != http.StatusRequestTimeout || !strings.Contains(out.Error, "send it at once") {
		t.Errorf("the slow client got %d %q, want 408", slow.StatusCode, out.Error)
	}
	if m := s.Metadata().Limits; m.ReadTimeoutSeconds != 0.5 || m.MaxReading != 1 || m.MaxGraphs != freeze.DefaultMaxGraphs {
		t.Errorf("/metadata's limits %+v lack the read timeout, reading slots or graphs", m)
	}
}

// TestManyShapes: clients sending more distinct shapes than GoMLX's executor
// keeps graphs (32) do not poison the server: each new shape is compiled,
// the least recently used freed, and the first shape still answers.
func TestManyShapes(t *testing.T) {
	r := runnerOf(t, func() (*freeze.Net, error) { return block1Pool(t), nil })
	if err := r.SetEngine(gomlx_vgg.EngineGraph); err != nil { // the native kernels compile nothing
		t.Fatal(err)
	}
	s := serve.New(r, serve.Config{MaxGraphs: 3})
	base, _, _ := start(t, s)
	for w := 32; w < 32+34; w++ {
		n := 32 * w * 3
		code, out := post(t, fmt.Sprintf("%s/predict?shape=1,32,%d,3", base, w), "application/octet-stream", bytes.NewReader(make([]byte, 4*n)), int64(4*n))
		if code != http.StatusOK {
			t.Fatalf("shape %d of 34 (1x32x%dx3): %d %v", w-31, w, code, out)
		}
	}
	code, out := post(t, base+"/predict?shape=1,32,32,3", "application/octet-stream", bytes.NewReader(make([]byte, 4*32*32*3)), 4*32*32*3)
	if code != http.StatusOK {
		t.Fatalf("the first shape after 34: %d %v", code, out)
	}
}

// TestCheck: Check runs a sample through a whole model, and fails, naming
// the reason, on a file that reads but cannot run (what vggnb serve checks
// before it listens, instead of answering 500 to every request).
func TestCheck(t *testing.T) {
	s := serve.New(frozenMLP(t), serve.Config{})
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("a whole model: %v", err)
	}
	mp, err := block1Pool(t).Model()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkModel(t, mp); err != nil {
		t.Fatalf("block1_pool as written: %v", err)
	}
	mp.Graph.Node[len(mp.Graph.Node)-1].Input[0] = "nothing_makes_this"
	if err := checkModel(t, mp); err == nil || !strings.Contains(err.Error(), "sample input [1 224 224 3]") || !strings.Contains(err.Error(), "nothing_makes_this") {
		t.Fatalf("a damaged graph: %v", err)
	}
}

// checkModel is Check of a server of the ONNX model mp.
func checkModel(t *testing.T, mp *protos.ModelProto) error {
	t.Helper()
	f, err := freeze.FromModel(mp)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Runner(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := serve.New(r, serve.Config{})
	defer s.Close()
	return s.Check()
}

// TestRefusedBeforeComputing: an input too small for the model's pooling
// (1x1x1x3 once answered 200 with an empty output) and a values=1 request
// whose output would be too large are 4xx before anything runs.
func TestRefusedBeforeComputing(t *testing.T) {
	net := block1Pool(t)
	s := serve.New(runnerOf(t, func() (*freeze.Net, error) { return net, nil }), serve.Config{})
	base, _, _ := start(t, s)
	code, out := post(t, base+"/predict?shape=1,1,1,3", "application/octet-stream", bytes.NewReader(make([]byte, 12)), 12)
	if code != http.StatusUnprocessableEntity || !strings.Contains(fmt.Sprint(out["error"]), "too small") {
		t.Errorf("1x1x1x3: %d %v, want 422 too small", code, out)
	}
	n := 448 * 448 * 3
	code, out = post(t, base+"/predict?values=1&shape=1,448,448,3", "application/octet-stream", bytes.NewReader(make([]byte, 4*n)), int64(4*n))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(fmt.Sprint(out["error"]), "[1 224 224 64]") {
		t.Errorf("values=1 of a 224x224x64 output: %d %v, want 413 naming the shape", code, out)
	}
	// 800x800 at block1_pool: about 3.6 GB estimated (3.0 GB measured), over a 512 MB budget.
	s512 := serve.New(runnerOf(t, func() (*freeze.Net, error) { return net, nil }), serve.Config{MaxMemory: 512 << 20})
	base512, _, _ := start(t, s512)
	n = 800 * 800 * 3
	code, out = post(t, base512+"/predict?shape=1,800,800,3", "application/octet-stream", bytes.NewReader(make([]byte, 4*n)), int64(4*n))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(fmt.Sprint(out["error"]), "limit is 512 MB") {
		t.Errorf("1x800x800x3 with a 512 MB budget: %d %v, want 413", code, out)
	}
	n = 64 * 64 * 3
	if code, out = post(t, base512+"/predict?shape=1,64,64,3", "application/octet-stream", bytes.NewReader(make([]byte, 4*n)), int64(4*n)); code != http.StatusOK {
		t.Errorf("1x64x64x3 with a 512 MB budget: %d %v, want 200", code, out)
	}
	if got := s512.Metadata().Limits.MaxMemoryBytes; got != 512<<20 {
		t.Errorf("/metadata's max_memory_bytes %d", got)
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h struct{ Batches int }
	json.NewDecoder(resp.Body).Decode(&h)
	if h.Batches != 0 {
		t.Errorf("%d batches ran: the refused requests were computed", h.Batches)
	}
}

// TestToken: with a token, every request but GET /healthz needs it (401,
// with WWW-Authenticate, without or with another), and /metadata says so.
func TestToken(t *testing.T) {
	s := serve.New(frozenMLP(t), serve.Config{Token: "s3cret"})
	base, _, _ := start(t, s)
	get := func(path, auth string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, c := range []struct {
		path, auth string
		want       int
	}{
		{"/metadata", "", http.StatusUnauthorized},
		{"/metadata", "Bearer wrong", http.StatusUnauthorized},
		{"/metadata", "s3cret", http.StatusUnauthorized},
		{"/metadata", "Bearer s3cret", http.StatusOK},
		{"/healthz", "", http.StatusOK},
	} {
		resp := get(c.path, c.auth)
		if resp.StatusCode != c.want {
			t.Errorf("GET %s with %q: %d, want %d", c.path, c.auth, resp.StatusCode, c.want)
		}
		if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("a 401 without WWW-Authenticate: Bearer")
		}
	}
	if md := s.Metadata(); !md.Auth || md.Interpolation != "nearest" {
		t.Errorf("metadata auth %v, interpolation %q; want true and nearest (vggnb predict's default)", md.Auth, md.Interpolation)
	}
}

// TestErrorsNameNoPath: a model that fails at run time answers 500 naming
// its file by its base name only, not the server's directories.
func TestErrorsNameNoPath(t *testing.T) {
	mp, err := block1Pool(t).Model()
	if err != nil {
		t.Fatal(err)
	}
	mp.Graph.Node[len(mp.Graph.Node)-1].Input[0] = "nothing_makes_this"
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "secret-dir")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "damaged.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := freeze.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := f.Runner(nil)
	if err != nil {
		t.Fatal(err)
	}
	base, _, _ := start(t, serve.New(r, serve.Config{}))
	n := 32 * 32 * 3
	code, out := post(t, base+"/predict?shape=1,32,32,3", "application/octet-stream", bytes.NewReader(make([]byte, 4*n)), int64(4*n))
	msg := fmt.Sprint(out["error"])
	if code != http.StatusInternalServerError || strings.Contains(msg, "secret-dir") || !strings.Contains(msg, "damaged.onnx") {
		t.Errorf("%d %q: want 500 naming damaged.onnx but not its directory", code, msg)
	}
}

// TestResizesAsPredict: an image posted to /predict is resized as vggnb
// predict and Keras' load_img resize it by default (nearest): the answer's
// values equal the model run on imagenet.DecodeImg's defaults (they once
// differed: the server resized bilinear).
func TestResizesAsPredict(t *testing.T) {
	r := runnerOf(t, func() (*freeze.Net, error) { return block1Pool(t), nil })
	base, _, _ := start(t, serve.New(r, serve.Config{ImageSize: 40}))
	png := imagenet.DemoImagePNG()
	code, out := post(t, base+"/predict?values=1", "image/png", bytes.NewReader(png), int64(len(png)))
	if code != http.StatusOK {
		t.Fatalf("%d %v", code, out)
	}
	img, err := imagenet.DecodeImg(bytes.NewReader(png), imagenet.TargetSize(40, 40))
	if err != nil {
		t.Fatal(err)
	}
	x, err := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.Run(imagenet.MustBatch(x))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := out["values"].([]any)
	wv := tensors.MustCopyFlatData[float32](want)
	if len(got) != len(wv) {
		t.Fatalf("%d values, want %d", len(got), len(wv))
	}
	for i, v := range got {
		if float32(v.(float64)) != wv[i] {
			t.Fatalf("value %d: served %v, predict's resize gives %v", i, v, wv[i])
		}
	}
}
