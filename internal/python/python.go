// Package python runs Python for vggnb's references and benchmarks: an
// embedded script with arguments, by an interpreter its callers name
// (Interpreter, Debian's, when they name none). FromEnv turns $VGGNB_PYTHON
// into that name for cmd/, kernel/, notebooks/nb, the benchmarks and tests;
// library code takes the interpreter as an option.
package python

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Interpreter is the interpreter used when a caller names none: Debian's,
// which has python3-torch, python3-h5py and python3-pil.
const Interpreter = "/usr/bin/python3"

// ReferenceCacheFromEnv is where the references' outputs are kept between
// runs (torchref.Options.CacheDir, package internal/refcache):
// $VGGNB_REFERENCE_CACHE, else vggnb-reference-cache in the temporary
// directory, beside the tests' layout fixtures; "off" keeps none (""). Only
// the programs' and tests' set-up calls it.
func ReferenceCacheFromEnv() string {
	switch v := os.Getenv("VGGNB_REFERENCE_CACHE"); v {
	case "off":
		return ""
	case "":
		return filepath.Join(os.TempDir(), "vggnb-reference-cache")
	default:
		return v
	}
}

// FromEnv returns $VGGNB_PYTHON, else Interpreter. Only the programs' and
// tests' set-up calls it (the README's table of environment variables).
func FromEnv() string {
	if p := os.Getenv("VGGNB_PYTHON"); p != "" {
		return p
	}
	return Interpreter
}

// Command returns the command that runs Python source src, saved as a
// temporary file called name, with python (Interpreter when empty) and args;
// cleanup removes the file once the command is done.
func Command(ctx context.Context, python, name string, src []byte, args ...string) (cmd *exec.Cmd, cleanup func(), err error) {
	if python == "" {
		python = Interpreter
	}
	dir, err := os.MkdirTemp("", "vggnb-py-")
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return exec.CommandContext(ctx, python, append([]string{path}, args...)...), func() { os.RemoveAll(dir) }, nil
}

// Run runs Python source src, saved as a temporary file called name,
// with python (Interpreter when empty) and args, and returns its standard output.
// The error of a failed run carries the command and its standard error.
func Run(python, name string, src []byte, args ...string) ([]byte, error) {
	cmd, cleanup, err := Command(context.Background(), python, name, src, args...)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("python: %s %s %s: %v\n%s", cmd.Path, name, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}
