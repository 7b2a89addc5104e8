package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWeightsCommands(t *testing.T) {
	dir := t.TempDir()
	synth := filepath.Join(dir, "synth.h5")
	conv := filepath.Join(dir, "conv.h5")
	for _, c := range []struct {
		args    []string
		wantErr string
		out     []string
		stderr  []string
	}{
		{args: []string{"weights", "synth", synth, "--model", "vgg16"}, out: []string{"SYNTHETIC"}, stderr: []string{"NOT the ImageNet weights"}},
		{args: []string{"weights", "info", synth, "--model", "vgg16"}, out: []string{"Keras 2 full model", "block5_conv3", "kernel:0[3 3 512 512]", "fits vgg16(include_top=False)"}},
		{args: []string{"weights", "info", synth, "--model", "vgg19"}, wantErr: "block3_conv4"},
		{args: []string{"weights", "info", synth, "--model", "vgg16", "--include-top"}, wantErr: "notop"},
		{args: []string{"weights", "convert", synth, conv, "--model", "vgg16"}, out: []string{"14714688 parameters"}},
		{args: []string{"weights", "convert", synth, conv}, wantErr: "--model"},
		{args: []string{"weights", "fetch", "--model", "vgg11"}, wantErr: "vgg11"},
		{args: []string{"weights", "frobnicate"}, wantErr: "unknown subcommand"},
		{args: []string{"nope"}, wantErr: "unknown command"},
	} {
		t.Run(strings.Join(c.args[:min(2, len(c.args))], " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), c.args, &out, &errb)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.out {
				if !strings.Contains(out.String(), w) {
					t.Errorf("stdout lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range c.stderr {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("stderr lacks %q:\n%s", w, errb.String())
				}
			}
		})
	}
	if _, err := os.Stat(conv); err != nil {
		t.Error("convert wrote nothing")
	}
}

// TestOutputsRefuseNonRegular: --out (and weights' OUT) naming a named pipe
// or a directory is refused and left as it is (renaming over them made a
// FIFO, or as root /dev/null, a regular file); a symbolic link has its
// target written and stays a link.
func TestOutputsRefuseNonRegular(t *testing.T) {
	offline(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "target.onnx")
	if err := os.WriteFile(target, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.onnx")
	if err := os.Symlink("target.onnx", link); err != nil {
		t.Fatal(err)
	}
	freeze := func(out string) []string {
		return []string{"freeze", "--model", "vgg16", "--weights", "synthetic", "--layer", "block1_pool", "--out", out}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{freeze(fifo), "is a named pipe (FIFO): refusing to replace it"},
		{freeze(dir), "is a directory: refusing to replace it"},
		{[]string{"weights", "synth", fifo, "--model", "vgg16"}, "is a named pipe (FIFO): refusing to replace it"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), c.args, &out, &errb); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO is no longer one: %v", err)
	}
	var out, errb bytes.Buffer
	if err := run(context.Background(), freeze(link), &out, &errb); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("%s is no longer a symbolic link", link)
	}
	if fi, err := os.Stat(target); err != nil || fi.Size() == 0 || fi.Mode().Perm() != 0o640 {
		t.Errorf("the link's target was not written in place (%v)", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
