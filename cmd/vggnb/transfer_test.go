package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vggnb/vggnb/gomlx_vgg/transfer"
	"github.com/vggnb/vggnb/weights"
)

// TestTransferCommand: features, a head trained with a progress bar in steps,
// the test accuracy, and a checkpoint another model loads; then a cancelled run
// stops with the context's error.
func TestTransferCommand(t *testing.T) {
	offline(t)
	out := filepath.Join(t.TempDir(), "head")
	var stdout, stderr bytes.Buffer
	args := []string{"transfer", "--train", "20", "--test", "10", "--epochs", "1", "--batch", "10",
		"--cache", t.TempDir(), "--out", out}
	if err := run(context.Background(), args, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	for _, want := range []string{"features [40 40 128] of 20+10 examples", "epoch 1: loss", "test accuracy", "head saved in"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
		}
	}
	for _, want := range []string{"2/2 steps", "20/20 images", "SYNTHETIC"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	path, _, err := weights.ImageNetOrSynthetic("vgg16", false, 1)
	if err != nil {
		t.Fatal(err)
	}
	s, err := transfer.NewPostModel(path, 7)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(out); err != nil {
		t.Fatalf("loading the command's checkpoint: %v", err)
	}
	// Into the same --out again: refused before any work without --resume
	// (before, the new training was thrown away: Save loaded the old
	// checkpoint over it); with it, training continues and a second
	// checkpoint is added.
	stdout.Reset()
	if err := run(context.Background(), args, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "--resume") ||
		strings.Contains(stdout.String(), "features") {
		t.Errorf("a second run into %s without --resume: %v (stdout %q)", out, err, stdout.String())
	}
	if err := run(context.Background(), append(args, "--resume"), &stdout, &stderr); err != nil {
		t.Fatalf("--resume: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "resuming from the checkpoint in "+out) {
		t.Errorf("--resume: stdout lacks the resume line:\n%s", stdout.String())
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"transfer", "--resume"}, "give --out"},
		// Accepted before: NaN trained to "loss NaN" and exit 0.
		{[]string{"transfer", "--lr=NaN"}, "finite learning rate"},
		{[]string{"transfer", "--lr=Inf"}, "finite learning rate"},
		{[]string{"transfer", "--lr=-1"}, "finite learning rate"},
		{[]string{"transfer", "--epochs=0"}, "at least 1"},
		{[]string{"transfer", "--train", "20", "--batch", "32"}, "--batch 32 is larger than the 20 training examples"},
		{[]string{"transfer", "--resume", "--out", t.TempDir()}, "holds no checkpoint"},
	} {
		if err := run(context.Background(), c.args, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = run(ctx, []string{"transfer", "--train", "20", "--test", "10", "--epochs", "1", "--batch", "10", "--cache", t.TempDir()},
		&stdout, &stderr)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled run: %v", err)
	}
}
