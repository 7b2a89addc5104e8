package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
)

func TestFreezeAndList(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cut.onnx")
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"freeze", "--model", "vgg16", "--weights", "synthetic", "--layer", "block2_pool", "--out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"input:  input_1 float32 (N, H, W, 3)", "output: block2_pool float32 (N, ?, ?, 128)"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("freeze printed %q, want %q", stdout.String(), want)
		}
	}
	if !strings.Contains(stderr.String(), "SYNTHETIC") {
		t.Errorf("no synthetic warning: %q", stderr.String())
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"freeze", "--list", out}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"block2_pool  ", "Transpose", "MaxPool", "opset ai.onnx:13"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--list printed %q, want %q", stdout.String(), want)
		}
	}
	err = run(context.Background(), []string{"freeze", "--model", "vgg16", "--weights", "synthetic", "--layer", "block9_pool", "--out", out}, &stdout, &stderr)
	if !errors.Is(err, gomlx_vgg.ErrUnknownLayer) || !strings.Contains(err.Error(), "block9_pool") {
		t.Fatalf("an unknown layer: %v", err)
	}
}

// TestServeProcess starts `vggnb serve` on a frozen file, asks it, and stops
// it with SIGTERM: it answers, then exits 0.
func TestServeProcess(t *testing.T) {
	bin := vggnbBinary(t)
	file := filepath.Join(t.TempDir(), "b1.onnx")
	if out, err := exec.Command(bin, "freeze", "--model", "vgg16", "--weights", "synthetic", "--layer", "block1_pool", "--out", file).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve", file, "--addr", "127.0.0.1:0", "--image-size", "32", "--grace", "30s")
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	var base, printed string
	for base == "" && lines.Scan() {
		printed += lines.Text() + "\n"
		base = regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(lines.Text())
	}
	if !strings.Contains(printed, "on the native engine") {
		t.Errorf("serve printed %q, want it to run on the native engine", printed)
	}
	if base == "" {
		t.Fatal("serve printed no address")
	}
	png := imagenet.DemoImagePNG()
	resp, err := http.Post(base+"/predict", "image/png", bytes.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Output string
		Shape  []int
	}
	json.NewDecoder(resp.Body).Decode(&a)
	resp.Body.Close()
	if resp.StatusCode != 200 || a.Output != "block1_pool" || len(a.Shape) != 4 || a.Shape[1] != 16 {
		t.Fatalf("%d %+v", resp.StatusCode, a)
	}
	// A client still sending its body when SIGTERM comes does not hold the
	// shutdown for the whole --grace: it is cut, and serve exits 0.
	slow, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "POST /predict?shape=1,32,32,3 HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", 4*32*32*3)
	slow.Write(make([]byte, 10))
	time.Sleep(200 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() {
		for lines.Scan() {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop on SIGTERM within 10 s (its --grace is 30 s) with a slow client connected")
	}
}
