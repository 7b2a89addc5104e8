package gomlx_vgg

import (
	"errors"
	"strings"
	"testing"
)

func TestNewBackend(t *testing.T) {
	for _, cfg := range []string{"", "go"} {
		b, err := NewBackend(cfg)
		if err != nil || b == nil {
			t.Errorf("NewBackend(%q): %v", cfg, err)
		}
	}
	if _, err := NewBackend("tpu"); !errors.Is(err, ErrBackend) || !strings.Contains(err.Error(), "unknown backend") {
		t.Errorf("unknown backend: %v", err)
	}
	_, err := NewBackend("xla:/nonexistent/pjrt_c_api_cpu_plugin.so")
	if err == nil {
		t.Fatal("a missing PJRT plugin gave no error")
	}
	if !errors.Is(err, ErrBackend) || !xlaLinked && !strings.Contains(err.Error(), "-tags xla") {
		t.Errorf("without the xla build tag the error should say how to get it: %v", err)
	}
}
