package ort

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"
)

// TestRuntimeDir: a Runtime without its directory, or with one lacking
// run.mjs, fails before anything is installed or run, saying what is missing.
func TestRuntimeDir(t *testing.T) {
	_, err := Runtime{}.Run(context.Background(), "m.onnx", "input_1", nil, "")
	if err == nil || !strings.Contains(err.Error(), "Runtime.Dir is not set") {
		t.Errorf("Runtime{}.Run: %v, want an error naming Runtime.Dir", err)
	}
	err = Runtime{Dir: t.TempDir()}.Install(context.Background())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "run.mjs") {
		t.Errorf("Install in an empty directory: %v, want run.mjs not found", err)
	}
}
