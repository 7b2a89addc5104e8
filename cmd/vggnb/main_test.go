package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
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
