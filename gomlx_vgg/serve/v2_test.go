package serve_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze"
	"github.com/vggnb/vggnb/gomlx_vgg/serve"
	"github.com/vggnb/vggnb/gomlx_vgg/serve/oip"
)

// TestOpenInferenceProtocol speaks the protocol with package oip, a client
// written from its specification: health, metadata, and inference with the
// input as flat JSON, nested JSON and the binary extension, each equal to a
// direct call; errors are {"error": ...} with the protocol's codes.
func TestOpenInferenceProtocol(t *testing.T) {
	runner := runnerOf(t, func() (*freeze.Net, error) { return block1Pool(t), nil })
	s := serve.New(runner, serve.Config{ModelName: "block1"})
	base, _, _ := start(t, s)
	ctx := context.Background()
	c := &oip.Client{Base: base}
	for _, check := range []struct {
		name string
		ok   func(context.Context) (bool, error)
	}{{"live", c.Live}, {"ready", c.Ready}, {"model ready", func(ctx context.Context) (bool, error) { return c.ModelReady(ctx, "block1") }}} {
		if ok, err := check.ok(ctx); !ok || err != nil {
			t.Errorf("%s: %v, %v", check.name, ok, err)
		}
	}
	if ok, err := c.ModelReady(ctx, "vgg99"); ok || err != nil {
		t.Errorf("an unknown model's ready: %v, %v; want false", ok, err)
	}
	sm, err := c.Server(ctx)
	if err != nil || !slices.Contains(sm.Extensions, "binary_tensor_data") {
		t.Errorf("GET /v2: %+v, %v; want the binary_tensor_data extension", sm, err)
	}
	md, err := c.Model(ctx, "block1")
	if err != nil || len(md.Inputs) != 1 || md.Inputs[0].Name != freeze.InputName || md.Inputs[0].Datatype != "FP32" ||
		!slices.Equal(md.Inputs[0].Shape, []int{-1, -1, -1, 3}) || len(md.Outputs) != 1 || md.Outputs[0].Name != "block1_pool" {
		t.Errorf("model metadata: %+v, %v", md, err)
	}
	x := input(t, 2, 12, 10, 3)
	want, err := runner.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	in := oip.Tensor{Name: freeze.InputName, Shape: x.Shape().Dimensions, Data: tensors.MustCopyFlatData[float32](x)}
	for _, enc := range []oip.Encoding{oip.JSON, oip.Nested, oip.Binary} {
		got, err := c.Infer(ctx, "block1", in, enc)
		if err != nil {
			t.Fatalf("infer (encoding %d): %v", enc, err)
		}
		if got.Name != "block1_pool" || !slices.Equal(got.Shape, want.Shape().Dimensions) || !slices.Equal(got.Data, tensors.MustCopyFlatData[float32](want)) {
			t.Errorf("infer (encoding %d): %s %v, want block1_pool %v equal to a direct call", enc, got.Name, got.Shape, want.Shape())
		}
	}
	// Errors: an unknown model or version is 404; a bad request 400.
	if _, err := c.Infer(ctx, "vgg99", in, oip.JSON); !isStatus(err, http.StatusNotFound, "vgg99") {
		t.Errorf("an unknown model: %v, want 404 naming it", err)
	}
	for _, bad := range []struct {
		name, header, body, want string
	}{
		{"datatype", "", `{"inputs":[{"name":"input_1","shape":[1,2,2,3],"datatype":"INT64","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}`, "FP32"},
		{"input name", "", `{"inputs":[{"name":"x","shape":[1,2,2,3],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}]}`, "input_1"},
		{"count", "", `{"inputs":[{"name":"input_1","shape":[1,2,2,3],"datatype":"FP32","data":[1,2,3]}]}`, "needs 12 values"},
		{"strings", "", `{"inputs":[{"name":"input_1","shape":[1,2,2,3],"datatype":"FP32","data":["a"]}]}`, "want numbers"},
		{"too small", "", `{"inputs":[{"name":"input_1","shape":[1,1,1,3],"datatype":"FP32","data":[1,2,3]}]}`, "too small"},
		{"unknown field", "", `{"inputs":[],"bogus":1}`, "bogus"},
		{"output", "", `{"inputs":[{"name":"input_1","shape":[1,2,2,3],"datatype":"FP32","data":[1,2,3,4,5,6,7,8,9,10,11,12]}],"outputs":[{"name":"fc9"}]}`, "fc9"},
		{"binary size", "89", `{"inputs":[{"name":"input_1","shape":[1,2,2,3],"datatype":"FP32","parameters":{"binary_data_size":48}}]}` + "\x00\x00\x00\x00", "binary_data_size"},
		{"bytes without header", "", `{"inputs":[]}xyz`, "Inference-Header-Content-Length"},
	} {
		req, _ := http.NewRequest(http.MethodPost, base+"/v2/models/block1/versions/1/infer", strings.NewReader(bad.body))
		if bad.header != "" {
			req.Header.Set(oip.HeaderLength, strconv.Itoa(strings.Index(bad.body, "}]}")+3))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct{ Error string }
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		code := http.StatusBadRequest
		if bad.name == "too small" {
			code = http.StatusUnprocessableEntity
		}
		if resp.StatusCode != code || !strings.Contains(e.Error, bad.want) {
			t.Errorf("%s: %d %q, want %d naming %q", bad.name, resp.StatusCode, e.Error, code, bad.want)
		}
	}
	resp, err := http.Get(base + "/v2/models/block1/versions/7")
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("version 7: %v %v, want 404", resp.StatusCode, err)
	}
}

// isStatus reports whether err is an *oip.Error of code whose message has want.
func isStatus(err error, code int, want string) bool {
	var e *oip.Error
	return errors.As(err, &e) && e.Status == code && strings.Contains(e.Message, want)
}

// input is a deterministic tensor of dims in [-100, 100).
func input(t *testing.T, dims ...int) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32((i*7919)%200) - 100
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}

// TestServesNative: a served VGG runs on the native kernels, its answers
// equal to the GoMLX graph's within float32 rounding.
func TestServesNative(t *testing.T) {
	runner := runnerOf(t, func() (*freeze.Net, error) { return block1Pool(t), nil })
	s := serve.New(runner, serve.Config{})
	if got := s.Metadata().Engine; got != string(gomlx_vgg.EngineNative) {
		t.Fatalf("engine %s, want native (%s)", got, runner.NativeReason())
	}
	x := input(t, 1, 16, 16, 3)
	y, _, err := s.Predict(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	graph := runnerOf(t, func() (*freeze.Net, error) { return block1Pool(t), nil })
	if err := graph.SetEngine(gomlx_vgg.EngineGraph); err != nil {
		t.Fatal(err)
	}
	want, err := graph.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	g, w := tensors.MustCopyFlatData[float32](y), tensors.MustCopyFlatData[float32](want)
	var diff, top float32
	for i := range w {
		diff, top = max(diff, abs(g[i]-w[i])), max(top, abs(w[i]))
	}
	if !(diff <= 1e-5*top) {
		t.Errorf("native vs graph: max|diff| %g of max|ref| %g", diff, top)
	}
	s.Close()
}

func abs(v float32) float32 { return max(v, -v) }

// TestShutdownCutsSlowBody: SIGTERM (the context ending) while a client
// trickles its body: the body read is cut at once (503), Serve returns well
// within its grace, with no error (vggnb serve exits 0, not 130).
func TestShutdownCutsSlowBody(t *testing.T) {
	s := serve.New(frozenMLP(t), serve.Config{ReadTimeout: time.Minute})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln, 20*time.Second) }()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /predict?shape=1,784 HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", 4*784)
	conn.Write(make([]byte, 10))
	time.Sleep(200 * time.Millisecond)
	began := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil || time.Since(began) > 5*time.Second {
			t.Errorf("Serve: %v after %v, want nil at once", err, time.Since(began))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve still waits for the slow client after 15 s")
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("the slow client's answer: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(b, []byte("shutting down")) {
		t.Errorf("the slow client got %d %s, want 503", resp.StatusCode, b)
	}
}
