package main

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg"
)

// TestOneDNNPeer builds the oneDNN peer (libdnnl-dev, installed by
// scripts/deps.sh) and runs it on small inputs with the Go model's weights:
// its block5_pool equals the Go model's and it times every case; checked
// against a model with one kernel scaled by 1+1e-3, it fails.
func TestOneDNNPeer(t *testing.T) {
	vgg19 := func() *gomlx_vgg.Model {
		m, err := gomlx_vgg.VGG19().IncludeTop(false).Weights(gomlx_vgg.WeightsSynthetic).Notices(nil).Done()
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m := vgg19()
	cs := []benchCase{{1, 40, 36}, {2, 32, 32}}
	r, err := runOneDNN(m, m, 2, 1, cs)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(r.Version, "2.") || len(r.Runs) != 2 || !(r.Runs["1x40x36"] > 0) || !(r.Runs["2x32x32"] > 0) {
		t.Fatalf("oneDNN %q ran %v", r.Version, r.Runs)
	}
	other := vgg19()
	v := other.Store().RootScope().At("block5_conv4").GetVariable("kernel")
	scaled := tensors.FromShape(v.MustValue().Shape())
	tensors.MustConstFlatData(v.MustValue(), func(src []float32) {
		tensors.MustMutableFlatData(scaled, func(dst []float32) {
			for i, x := range src {
				dst[i] = x * (1 + 1e-3)
			}
		})
	})
	if err := v.SetValue(scaled); err != nil {
		t.Fatal(err)
	}
	if _, err := runOneDNN(m, other, 2, 1, cs[:1]); err == nil || !strings.Contains(err.Error(), "differs from the Go model's") {
		t.Errorf("checked against other weights: %v, want a difference", err)
	}
}
