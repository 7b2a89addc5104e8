package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/internal/procstat"
	"github.com/vggnb/vggnb/weights"
)

// loadCase is one load: a body, a load generator and its clients.
type loadCase struct {
	name        string
	tool        string // "hey" or "wrk"
	clients     int
	contentType string
	path        string // URL path and query
	body        string // file holding the body
}

// result is one load's figures.
type result struct {
	rps, p50, p99 float64 // requests/s, seconds
	ok, failed    int     // 200s, and other answers or errors
	peakMiB       float64 // the server's VmHWM
}

// toolsRun starts `vggnb serve --model vgg19 --include-top --weights
// synthetic` once per engine and case, loads it with Debian's hey or wrk, and
// prints requests/s, p50/p99 and the server's peak RSS beside direct native
// calls to the same model in this process.
func toolsRun(engines []string, seconds time.Duration, size int) error {
	for _, tool := range []string{"hey", "wrk"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s (Debian's package; scripts/deps.sh installs it): %w", tool, err)
		}
	}
	dir, err := os.MkdirTemp("", "vggnb-bench-serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "vggnb")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/vggnb/vggnb/cmd/vggnb").CombinedOutput(); err != nil {
		return fmt.Errorf("building vggnb: %v\n%s", err, out)
	}
	// The bodies: the demo photo as PNG, and as the preprocessed tensor
	// serve makes of it (JSON and raw float32).
	png := imagenet.DemoImagePNG()
	img, err := imagenet.DecodeImg(bytes.NewReader(png), imagenet.TargetSize(size, size))
	if err != nil {
		return err
	}
	x, err := imagenet.PreprocessInput(imagenet.ImgToArray(img, weights.ChannelsLast), weights.ChannelsLast)
	if err != nil {
		return err
	}
	if x, err = imagenet.Batch(x); err != nil {
		return err
	}
	v := tensors.MustCopyFlatData[float32](x)
	js, _ := json.Marshal(map[string]any{"shape": x.Shape().Dimensions, "data": v})
	files := map[string][]byte{"png": png, "json": js, "raw": weights.Float32sToLE(v)}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
	}
	raw := fmt.Sprintf("/predict?shape=1,%d,%d,3", size, size)
	cases := []loadCase{
		{"raw tensor, 1 client", "hey", 1, "application/octet-stream", raw, "raw"},
		{"PNG, 8 clients", "hey", 8, "image/png", "/predict", "png"},
		{"JSON tensor, 16 clients", "hey", 16, "application/json", "/predict", "json"},
		{"raw tensor, 32 clients", "wrk", 32, "application/octet-stream", raw, "raw"},
	}

	// Direct calls: the same model on the native kernels, batch 1 and 4.
	m, err := gomlx_vgg.VGG19().IncludeTop(true).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil).Done()
	if err != nil {
		return err
	}
	direct := map[int]float64{}
	for _, n := range []int{1, 4} {
		xs := make([]*tensors.Tensor, n)
		for i := range xs {
			xs[i] = x
		}
		xb := x
		if n > 1 {
			if xb, err = imagenet.Batch(stack(x, n)...); err != nil {
				return err
			}
		}
		if _, err := m.Predict(xb); err != nil { // warm
			return err
		}
		start, calls := time.Now(), 0
		for time.Since(start) < 8*time.Second || calls < 3 {
			if _, err := m.Predict(xb); err != nil {
				return err
			}
			calls++
		}
		direct[n] = float64(calls*n) / time.Since(start).Seconds()
	}
	m = nil
	peakSelf, _ := procstat.KB("VmHWM")
	fmt.Printf("bench/serve (hey, wrk): vggnb serve --model vgg19 --include-top --weights synthetic, %dx%d images, %v per load, one server process per load\n", size, size, seconds)
	fmt.Println("  " + weights.SyntheticNotice)
	fmt.Printf("direct native calls (Model.Predict in this process): %.2f images/s at batch 1, %.2f at batch 4 (peak RSS of this process %.0f MiB)\n\n",
		direct[1], direct[4], float64(peakSelf)/1024)

	var table bytes.Buffer
	w := tabwriter.NewWriter(&table, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "load\tengine\ttool\treq/s\tp50 s\tp99 s\t200\tother\tpeak RSS MiB\tvs direct b1\t")
	ratios := map[string]float64{}
	for _, c := range cases {
		for _, engine := range engines {
			r, err := loadOnce(bin, engine, c, dir, seconds, size)
			if err != nil {
				return fmt.Errorf("%s on %s: %w", c.name, engine, err)
			}
			ratios[c.name+" "+engine] = r.rps / direct[1]
			row := fmt.Sprintf("%s\t%s\t%s\t%.2f\t%s\t%s\t%d\t%d\t%.0f\t%.2f\t", c.name, engine, c.tool, r.rps, seconds3(r.p50), seconds3(r.p99), r.ok, r.failed, r.peakMiB, r.rps/direct[1])
			fmt.Fprintln(os.Stderr, "  done:", strings.ReplaceAll(row, "\t", " "))
			fmt.Fprintln(w, row)
		}
	}
	w.Flush()
	fmt.Print(table.String())
	fmt.Println("(p50/p99: '-' where the load tool had too few answers to say)")
	if g, ok := ratios["raw tensor, 1 client native"]; ok {
		fmt.Printf("goal: served requests/s at batch 1 (one client) >= 0.9x direct native calls: %.2f (%s)\n", g, map[bool]string{true: "met", false: "NOT met"}[g >= 0.9])
	}
	return nil
}

// seconds3 is a latency in seconds, "-" when unknown (0).
func seconds3(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}

// stack is n copies of x.
func stack(x *tensors.Tensor, n int) []*tensors.Tensor {
	one := tensors.FromFlatDataAndDimensions(tensors.MustCopyFlatData[float32](x), x.Shape().Dimensions[1:]...)
	out := make([]*tensors.Tensor, n)
	for i := range out {
		out[i] = one
	}
	return out
}

// loadOnce starts a server, runs one load against it, reads its peak RSS and
// stops it with SIGTERM (it must exit 0).
func loadOnce(bin, engine string, c loadCase, dir string, d time.Duration, size int) (result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d+5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "serve", "--model", "vgg19", "--include-top", "--weights", "synthetic",
		"--addr", "127.0.0.1:0", "--engine", engine, "--image-size", strconv.Itoa(size), "--timeout", "5m")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return result{}, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var base string
	for base == "" && lines.Scan() {
		base = regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(lines.Text())
	}
	if base == "" {
		return result{}, fmt.Errorf("the server printed no address: %s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)
	var r result
	switch c.tool {
	case "hey":
		r, err = hey(ctx, base+c.path, c, filepath.Join(dir, c.body), d)
	case "wrk":
		r, err = wrk(ctx, base+c.path, c, filepath.Join(dir, c.body), dir, d)
	}
	if err != nil {
		return r, err
	}
	if kb, ok := procstat.ProcessKB(cmd.Process.Pid, "VmHWM"); ok {
		r.peakMiB = float64(kb) / 1024
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		return r, fmt.Errorf("the server after SIGTERM: %v\n%s", err, stderr.String())
	}
	return r, nil
}

// hey runs Debian's hey for d and reads its summary.
func hey(ctx context.Context, url string, c loadCase, body string, d time.Duration) (result, error) {
	out, err := exec.CommandContext(ctx, "hey", "-z", d.String(), "-c", strconv.Itoa(c.clients), "-t", "300", "-m", "POST",
		"-T", c.contentType, "-D", body, url).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("hey: %v\n%s", err, out)
	}
	s := string(out)
	var r result
	r.rps = number(s, `Requests/sec:\s+([0-9.]+)`)
	r.p50 = number(s, `50%+ in ([0-9.]+) secs`)
	r.p99 = number(s, `99%+ in ([0-9.]+) secs`)
	for _, m := range regexp.MustCompile(`\[(\d+)\]\s+(\d+) responses`).FindAllStringSubmatch(s, -1) {
		n, _ := strconv.Atoi(m[2])
		if m[1] == "200" {
			r.ok += n
		} else {
			r.failed += n
		}
	}
	if i := strings.Index(s, "Error distribution:"); i >= 0 {
		for _, m := range regexp.MustCompile(`\[(\d+)\]\s`).FindAllStringSubmatch(s[i:], -1) {
			n, _ := strconv.Atoi(m[1])
			r.failed += n
		}
	}
	if r.ok == 0 {
		return r, fmt.Errorf("hey: no request answered 200:\n%s", s)
	}
	return r, nil
}

// wrk runs Debian's wrk for d (a Lua script posts the body) and reads its summary.
func wrk(ctx context.Context, url string, c loadCase, body, dir string, d time.Duration) (result, error) {
	script := filepath.Join(dir, "post.lua")
	lua := fmt.Sprintf("local f = io.open(%q, \"rb\")\nwrk.method = \"POST\"\nwrk.body = f:read(\"*a\")\nf:close()\nwrk.headers[\"Content-Type\"] = %q\n", body, c.contentType)
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		return result{}, err
	}
	out, err := exec.CommandContext(ctx, "wrk", "-t", "2", "-c", strconv.Itoa(c.clients), "-d", fmt.Sprintf("%ds", int(d.Seconds())),
		"--timeout", "300s", "--latency", "-s", script, url).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	var r result
	r.rps = number(s, `Requests/sec:\s+([0-9.]+)`)
	r.p50 = wrkSeconds(s, "50%")
	r.p99 = wrkSeconds(s, "99%")
	total := int(number(s, `(\d+) requests in`))
	r.failed = int(number(s, `Non-2xx or 3xx responses: (\d+)`))
	if m := regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`).FindStringSubmatch(s); m != nil {
		for _, v := range m[1:] {
			n, _ := strconv.Atoi(v)
			r.failed += n
		}
	}
	r.ok = total - int(number(s, `Non-2xx or 3xx responses: (\d+)`))
	if r.ok <= 0 {
		return r, errors.New("wrk: no request answered 2xx:\n" + s)
	}
	return r, nil
}

// number is the first submatch of pattern in s as a number (0 if none).
func number(s, pattern string) float64 {
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// wrkSeconds reads wrk's latency percentile line ("    50%  1.23s") in seconds.
func wrkSeconds(s, pct string) float64 {
	m := regexp.MustCompile(`\s` + regexp.QuoteMeta(pct) + `\s+([0-9.]+)(us|ms|s|m)\b`).FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	d, err := time.ParseDuration(m[1] + m[2])
	if err != nil {
		return 0
	}
	return d.Seconds()
}
