package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg/serve"
)

// requestsOK posts n valid MLP tensors to /predict.
func requestsOK(t *testing.T, base string, n int) {
	t.Helper()
	for range n {
		code, out := post(t, base+"/predict?shape=1,784", "application/octet-stream", bytes.NewReader(make([]byte, 4*784)), 4*784)
		if code != http.StatusOK {
			t.Fatalf("predict: %d %v", code, out)
		}
	}
}

// scrape is GET /metrics.
func scrape(t *testing.T, base string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return string(b)
}

// TestMetrics: /metrics counts requests by endpoint and outcome, batches and
// their sizes, and passes Debian's `promtool check metrics` (Prometheus'
// own linter of names, types, help and units).
func TestMetrics(t *testing.T) {
	s := serve.New(frozenMLP(t), serve.Config{})
	s.SetLoadDuration(1500 * time.Millisecond)
	base, _, _ := start(t, s)
	requestsOK(t, base, 3)
	post(t, base+"/predict?shape=1,783", "application/octet-stream", bytes.NewReader(make([]byte, 4*783)), 4*783)
	text := scrape(t, base)
	for _, want := range []string{
		`vggnb_serve_requests_total{endpoint="predict",code="200"} 3`,
		`vggnb_serve_requests_total{endpoint="predict",code="422"} 1`,
		`vggnb_serve_request_duration_seconds_count{endpoint="predict"} 4`,
		`vggnb_serve_batch_size_count 3`,
		`vggnb_serve_batch_size_bucket{le="1"} 3`,
		`vggnb_serve_compute_duration_seconds_count 3`,
		`vggnb_serve_queue_duration_seconds_count 3`,
		`vggnb_serve_in_flight_requests 1`, // the scrape itself
		`vggnb_serve_model_load_duration_seconds 1.5`,
		`vggnb_serve_info{engine="native",model="mlp"`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, text)
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool (Debian's prometheus package; scripts/deps.sh installs it): %v", err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestPrometheusScrapes: a real Prometheus server (Debian's) scrapes
// /metrics over loopback, with the bearer token, and its query API returns
// the number of requests served.
func TestPrometheusScrapes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prometheus server (a few seconds)")
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus (Debian's package; scripts/deps.sh installs it): %v", err)
	}
	s := serve.New(frozenMLP(t), serve.Config{Token: "s3cret"})
	base, _, _ := start(t, s)
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	promAddr := ln.Addr().String()
	ln.Close()
	config := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: vggnb
    authorization:
      credentials: s3cret
    static_configs:
      - targets: [%q]
`, strings.TrimPrefix(base, "http://"))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var log bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}()
	const n = 5
	requestsOK := func() {
		for range n {
			req, _ := http.NewRequest(http.MethodPost, base+"/predict?shape=1,784", bytes.NewReader(make([]byte, 4*784)))
			req.Header.Set("Content-Type", "application/octet-stream")
			req.Header.Set("Authorization", "Bearer s3cret")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("predict: %d", resp.StatusCode)
			}
		}
	}
	requestsOK()
	query := url.Values{"query": {`vggnb_serve_requests_total{job="vggnb",endpoint="predict",code="200"}`}}
	var last string
	for ctx.Err() == nil {
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?" + query.Encode())
		if err != nil {
			last = err.Error()
			continue
		}
		var r struct {
			Status string
			Data   struct {
				Result []struct {
					Value [2]any
				}
			}
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		last = fmt.Sprintf("%+v %v", r, err)
		if err == nil && r.Status == "success" && len(r.Data.Result) == 1 && r.Data.Result[0].Value[1] == fmt.Sprint(n) {
			return
		}
	}
	t.Fatalf("Prometheus never returned %d requests: last answer %s\nits log:\n%s", n, last, log.String())
}
