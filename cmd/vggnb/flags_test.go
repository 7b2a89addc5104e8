package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFlagValuesRefused runs every subcommand with the values users tried
// (empty, negative, NaN, infinite, huge, unicode paths, conflicting flags):
// each is a clear one-line error before any work, never a panic, never
// accepted (a run still going after its deadline was accepted).
func TestFlagValuesRefused(t *testing.T) {
	t.Setenv("VGGNB_SERVE_TOKEN", "") // serve beyond loopback is refused without one
	offline(t)
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "é", "ñ.h5")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"features", "--size", ""}, "--size is empty"},
		{[]string{"features", "--size", "-5x10"}, "HxW"},
		{[]string{"features", "--size", "9223372036854775807x9223372036854775807"}, "over the limit"},
		{[]string{"features", "--size", "99999999999999999999x2"}, "HxW"},
		{[]string{"features", "--max-pixels", "-1", "--size", "64x64"}, "over the limit"},
		{[]string{"features", "--weights", ""}, "--weights is empty"},
		{[]string{"features", "--weights", missing}, "ñ.h5"},
		{[]string{"features", "--image", missing, "--weights", "none"}, "ñ.h5"},
		{[]string{"features", "--model", "vgg17"}, "vgg17"},
		{[]string{"features", "--interpolation", "sinc", "--size", "64x64", "--weights", "none"}, "sinc"},
		{[]string{"features", "--layer", "", "--size", "64x64", "--weights", "none"}, "layer"},
		{[]string{"layers", "--size", "NaNxInf"}, "HxW"},
		{[]string{"layers", "--pooling", "median"}, "median"},
		{[]string{"predict", "--top", "-1"}, "--top"},
		{[]string{"predict", "--top", "1001"}, "--top"},
		{[]string{"transfer", "--lr", "NaN"}, "finite learning rate"},
		{[]string{"transfer", "--lr", "+Inf"}, "finite learning rate"},
		{[]string{"transfer", "--lr", "0"}, "finite learning rate"},
		{[]string{"transfer", "--train", "-3"}, "at least 1"},
		{[]string{"transfer", "--batch", "0"}, "at least 1"},
		{[]string{"transfer", "--train", "20", "--batch", "21"}, "larger than the 20 training examples"},
		{[]string{"transfer", "--weights", "", "--train", "20", "--batch", "10"}, "--weights is empty"},
		{[]string{"transfer", "--resume"}, "give --out"},
		{[]string{"freeze", "--model", "vgg16", "--out", ""}, "--out is empty"},
		{[]string{"freeze", "--model", "", "--out", filepath.Join(tmp, "x.onnx")}, "--model"},
		{[]string{"freeze", "--model", "vgg16", "--weights", "", "--out", filepath.Join(tmp, "x.onnx")}, "--weights is empty"},
		{[]string{"freeze", "--model", "vgg16", "--pooling", "max", "--layer", "block2_pool", "--out", filepath.Join(tmp, "x.onnx")}, "give one of them"},
		{[]string{"freeze", "--list", filepath.Join(tmp, "a.onnx"), "--out", filepath.Join(tmp, "b.onnx")}, "give one of them"},
		{[]string{"freeze", "--list", missing}, "ñ.h5"},
		{[]string{"freeze", "--model", "vgg16", "--seed", "-1", "--out", filepath.Join(tmp, "x.onnx")}, "-seed"},
		{[]string{"weights", "synth", "", "--model", "vgg16"}, "an argument is empty"},
		{[]string{"serve", "--model", "vgg16", "--max-batch", "-1"}, "--max-batch -1: want at least 1"},
		{[]string{"serve", "--model", "vgg16", "--queue", "0"}, "--queue 0: want at least 1"},
		{[]string{"serve", "--model", "vgg16", "--max-graphs", "0"}, "--max-graphs 0: want at least 1"},
		{[]string{"serve", "--model", "vgg16", "--read-timeout", "0s"}, "--read-timeout 0s: want more than 0"},
		{[]string{"serve", "--model", "vgg16", "--addr", "0.0.0.0:0"}, "give --token (or VGGNB_SERVE_TOKEN), or --insecure-no-auth"},
		{[]string{"serve", "--model", "vgg16", "--addr", ":8080"}, "reachable beyond this machine"},
		{[]string{"serve", "--model", "vgg16", "--interpolation", "sinc"}, `--interpolation "sinc"`},
		{[]string{"serve", "--model", "vgg16", "--max-body", "-5"}, "--max-body -5"},
		{[]string{"serve", "--model", "vgg16", "--grace", "-1s"}, "--grace"},
		{[]string{"serve", "--model", "vgg16", "--addr", ""}, "--addr is empty"},
		{[]string{"weights", "info", missing}, "ñ.h5"},
		{[]string{"kernel", "run", filepath.Join(tmp, "é.png")}, "é.png"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			var err error
			func() {
				defer func() {
					if r := recover(); r != nil {
						t.Fatalf("panic: %v", r)
					}
				}()
				err = run(ctx, c.args, &out, &errb)
			}()
			switch {
			case err == nil:
				t.Fatalf("accepted (stdout %q)", out.String())
			case errors.Is(err, context.DeadlineExceeded):
				t.Fatalf("accepted: still running after 20 s")
			case !strings.Contains(err.Error(), c.want) || strings.Contains(strings.TrimSpace(err.Error()), "\n"):
				t.Errorf("error %q, want one line mentioning %q", err, c.want)
			}
		})
	}
}

// FuzzModelFlags feeds features and layers arbitrary --size, --layer and
// --interpolation values: never a panic, and an error is one line. (The
// image limit is 4096 pixels, so a size that is accepted runs quickly.)
// make fuzz runs it for a while; go test runs the seeds.
func FuzzModelFlags(f *testing.F) {
	for _, s := range []string{"64x64", "32x48", "", "0x0", "-1x5", "9223372036854775807x2", "99999999999999999999x1",
		"1x1", "é", "NaNxNaN", " 64x64", "64X64", "64x64x3", "x", "4096x1"} {
		f.Add(s, "block1_pool", "nearest")
	}
	f.Add("64x64", "all", "bilinear")
	f.Add("64x64", "block9_pool,", "sinc")
	f.Add("40x40", "", "")
	f.Fuzz(func(t *testing.T, size, layer, interp string) {
		t.Setenv("VGGNB_CACHE", t.TempDir())
		t.Setenv("KERAS_HOME", t.TempDir())
		for _, args := range [][]string{
			{"layers", "--size", size, "--json"},
			{"features", "--weights", "none", "--max-pixels", "4096", "--size", size, "--layer", layer, "--interpolation", interp, "--json"},
		} {
			var out, errb bytes.Buffer
			if err := run(context.Background(), args, &out, &errb); err != nil && strings.Contains(strings.TrimSpace(err.Error()), "\n") {
				t.Errorf("%q: a multi-line error: %q", args, err)
			}
		}
	})
}
