package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vggnb/vggnb/weights"
)

// offline makes "auto" weights resolve to synthetic ones whatever this machine has.
func offline(t *testing.T) {
	t.Setenv("VGGNB_CACHE", t.TempDir())
	t.Setenv("KERAS_HOME", t.TempDir())
}

func TestFeaturesJSON(t *testing.T) {
	offline(t)
	photo := filepath.Join("..", "..", "gomlx_vgg", "imagenet", "demo", "chelsea.png")
	var out, errb bytes.Buffer
	err := run(context.Background(), []string{"features", "--model", "vgg19", "--image", photo,
		"--size", "200x300", "--layer", "block5_pool,block1_pool", "--json"}, &out, &errb)
	if err != nil {
		t.Fatal(err)
	}
	var res map[string]map[string]struct {
		Shape               []int
		Mean, Std, Min, Max float64
	}
	dec := json.NewDecoder(&out)
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("stdout is not one JSON object: %v\n%s", err, out.String())
	}
	if dec.More() {
		t.Error("stdout holds more than one JSON value")
	}
	if len(res) != 1 || len(res["layers"]) != 2 {
		t.Fatalf("want {\"layers\": {2 layers}}, got %v", res)
	}
	b5 := res["layers"]["block5_pool"]
	if !slices.Equal(b5.Shape, []int{1, 6, 9, 512}) {
		t.Errorf("block5_pool shape %v, want [1 6 9 512]", b5.Shape)
	}
	if !(b5.Min <= b5.Mean && b5.Mean <= b5.Max && b5.Std > 0 && b5.Min >= 0) {
		t.Errorf("implausible statistics %+v", b5)
	}
	if !slices.Equal(res["layers"]["block1_pool"].Shape, []int{1, 100, 150, 64}) {
		t.Errorf("block1_pool shape %v", res["layers"]["block1_pool"].Shape)
	}
	if !strings.Contains(errb.String(), weights.SyntheticNotice) {
		t.Errorf("stderr does not announce synthetic weights:\n%s", errb.String())
	}
}

func TestFeaturesTextAndErrors(t *testing.T) {
	offline(t)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"features", "--model", "vgg16", "--size", "64x64", "--layer", "all"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"block1_conv1", "block5_pool", "[1 2 2 512]", "mean"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	tmp := t.TempDir() // where a wrongly accepted --out would write
	onnx := func(name string) string { return filepath.Join(tmp, name) }
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"features", "--layer", "block9_pool", "--size", "64x64"}, "block5_pool"},
		{[]string{"features", "--size", "20x300"}, "at least 32x32"},
		{[]string{"features", "--size", "big"}, "HxW"},
		// h*w overflowed int64: a panic (makeslice) before.
		{[]string{"features", "--weights", "synthetic", "--size", "9223372036854775807x2"}, "over the limit of"},
		{[]string{"layers", "--size", "9223372036854775807x64"}, "590295810358705651648 pixels, over the limit"},
		{[]string{"features", "--image", "/nonexistent.jpg"}, "/nonexistent.jpg"},
		{[]string{"features", "--backend", "xla:cuda", "--size", "64x64"}, "xla"},
		{[]string{"predict", "--size", "100x100"}, "224x224"},
		// Silently none, ignored or overridden before.
		{[]string{"features", "--weights", "", "--size", "64x64"}, "--weights is empty"},
		{[]string{"freeze", "--model", "vgg16", "--weights", "", "--out", onnx("x.onnx")}, "--weights is empty"},
		{[]string{"freeze", "--model", "vgg16", "--pooling", "avg", "--layer", "block3_pool", "--out", onnx("x.onnx")}, "give one of them"},
		{[]string{"freeze", "--list", onnx("a.onnx"), "--out", onnx("b.onnx")}, "give one of them"},
	} {
		err := run(context.Background(), c.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err %v, want it to mention %q", c.args, err, c.want)
		}
	}
}

func TestLayersAndPredict(t *testing.T) {
	offline(t)
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"layers", "--model", "vgg19", "--include-top"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"block5_conv4 (Conv2D)", "(None, 7, 7, 512)", "predictions (Dense)", "Total params: 143667240", "Trainable params: 0"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("layers output lacks %q:\n%s", w, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), []string{"predict", "--model", "vgg16", "--weights", "synthetic", "--top", "3", "--json"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Predictions []struct {
			Index int
			WNID  string
			Name  string
			Score float32
		}
		Synthetic bool
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Predictions) != 3 || !res.Synthetic || res.Predictions[0].Score < res.Predictions[2].Score || res.Predictions[0].WNID == "" {
		t.Errorf("predict: %+v", res)
	}
}
