package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vggnb/vggnb/internal/parquetcheck"
)

// writeImages writes n PNGs of varied sizes into dir.
func writeImages(t *testing.T, dir string, n int) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for i := range n {
		img := image.NewNRGBA(image.Rect(0, 0, 40+i%7, 30+i%5))
		for y := range img.Rect.Dy() {
			for x := range img.Rect.Dx() {
				img.Set(x, y, color.NRGBA{uint8(x * (i + 3)), uint8(y * 9), uint8(i * 13), 255})
			}
		}
		var b bytes.Buffer
		png.Encode(&b, img)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%03d.png", i)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDatasetKilledAndRerun: `vggnb features --dataset` killed (SIGKILL)
// mid-write leaves no shard file, and its rerun writes the same bytes as an
// uninterrupted run; a second rerun skips the verified shard; the shard
// comes from $JOB_COMPLETION_INDEX/$JOB_COMPLETIONS when --shard is not given.
func TestDatasetKilledAndRerun(t *testing.T) {
	bin := vggnbBinary(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	writeImages(t, in, 48)
	args := func(out string) []string {
		return []string{"features", "--model", "vgg16", "--weights", "synthetic", "--layer", "block1_pool", "--pooling", "max",
			"--size", "160x160", "--batch", "2", "--row-group", "8", "--dataset", in, "--out", out}
	}
	whole := filepath.Join(dir, "whole")
	cmd := exec.Command(bin, args(whole)...)
	cmd.Env = append(os.Environ(), "JOB_COMPLETION_INDEX=1", "JOB_COMPLETIONS=2")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "24 images of 48 (shard 1/2)") {
		t.Fatalf("uninterrupted: %v\n%s", err, out)
	}
	name := "part-00001-of-00002.parquet"
	want, err := os.ReadFile(filepath.Join(whole, name))
	if err != nil {
		t.Fatal(err)
	}

	killed := filepath.Join(dir, "killed")
	cmd = exec.Command(bin, append(args(killed), "--shard", "1/2")...)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(stderr)
	for { // the first progress line: some rows are written
		line, err := r.ReadString('\r')
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("no progress before the end: %v", err)
		}
		if strings.Contains(line, "4/24 images") {
			break
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(killed, name)); err == nil {
		t.Fatal("the killed run left its shard file: it had finished before the kill")
	}
	out, err := exec.Command(bin, append(args(killed), "--shard", "1/2")...).CombinedOutput()
	got, _ := os.ReadFile(filepath.Join(killed, name))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the rerun: %v (identical: %v)\n%s", err, bytes.Equal(got, want), out)
	}
	files, err := parquetcheck.Read(context.Background(), filepath.Join("..", "..", "scripts", "parquet"), t.TempDir(),
		filepath.Join(killed, name), filepath.Join(killed, "part-00001-of-00002.errors.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	if f := files[0]; len(f.Rows) != 24 || f.Metadata["vggnb.rows"] != "24" || f.RowGroups != 3 || len(f.Rows[0].Values) != 64 || !strings.HasSuffix(f.Rows[0].Path, "024.png") {
		t.Errorf("hyparquet reads %d rows in %d groups (metadata %v), first %s with %d values; want 24 in 3, from 024.png, 64 values",
			len(f.Rows), f.RowGroups, f.Metadata["vggnb.rows"], f.Rows[0].Path, len(f.Rows[0].Values))
	}
	if left, _ := filepath.Glob(filepath.Join(killed, ".*")); len(left) > 0 {
		t.Errorf("temporary files left after the rerun: %v", left)
	}
	start := time.Now()
	out, err = exec.Command(bin, append(args(killed), "--shard", "1/2")...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "already complete and verified: skipped") {
		t.Errorf("a second rerun: %v\n%s (%v)", err, out, time.Since(start))
	}
	for _, bad := range [][]string{{"--shard", "2/2"}, {"--image", "x.png"}, {"--layer", "all"}} {
		if out, err := exec.Command(bin, append(args(filepath.Join(dir, "bad")), bad...)...).CombinedOutput(); err == nil {
			t.Errorf("%v: no error\n%s", bad, out)
		}
	}
}
