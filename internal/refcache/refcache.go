// Package refcache keeps the outputs of an independent reference program (the
// float64 PyTorch reference, ONNX's checker, ONNX Runtime) on disk, under a
// SHA-256 of everything they depend on: the program and its version, its
// arguments, and the contents of every file it reads. A run whose key is
// already there reads the outputs instead of running the program again; the
// code under test always runs, and is compared with the same outputs. A key
// left out would make a stale reference pass, so callers put in every input.
//
// Entries are written to a temporary directory and renamed into place: an
// interrupted run leaves no entry half written. Lookup marks an entry used;
// Put removes the entries unused for MaxAge, so that references of inputs
// gone (an older reference script, files since changed) do not pile up.
package refcache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// Key is a SHA-256 of the parts added to it, in order (each part is
// length-prefixed, so that ("ab", "c") and ("a", "bc") differ).
type Key struct {
	buf []byte
	err error
}

// NewKey returns a key of the given parts.
func NewKey(parts ...string) *Key {
	k := &Key{}
	k.Add(parts...)
	return k
}

// Add adds parts to the key.
func (k *Key) Add(parts ...string) {
	for _, p := range parts {
		k.buf = fmt.Appendf(k.buf, "%d:%s;", len(p), p)
	}
}

// AddFile adds the SHA-256 of a file's contents (its path is not part of the
// key: the same bytes elsewhere are the same input). An unreadable file makes
// the key's String fail.
func (k *Key) AddFile(path string) {
	sum, err := fileSum(path)
	if err != nil {
		k.err = errors.Join(k.err, err)
		return
	}
	k.Add("file", sum)
}

// String returns the key in hex, or the error of an AddFile.
func (k *Key) String() (string, error) {
	if k.err != nil {
		return "", fmt.Errorf("refcache: %w", k.err)
	}
	h := sha256.Sum256(k.buf)
	return hex.EncodeToString(h[:]), nil
}

// sums memoizes file hashes by path, size and modification time: the 550 MB
// weight files of a test are hashed once per process.
var sums sync.Map // fileStamp -> string

type fileStamp struct {
	path    string
	size    int64
	modTime time.Time
}

func fileSum(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	stamp := fileStamp{path, st.Size(), st.ModTime()}
	if v, ok := sums.Load(stamp); ok {
		return v.(string), nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	sums.Store(stamp, sum)
	return sum, nil
}

// CPU describes the CPU, for outputs whose rounding depends on its kernels
// (float32 BLAS, SIMD): its architecture and, on Linux, its model and feature
// flags.
func CPU() string { return cpu() }

// cpu reads /proc/cpuinfo once per process.
var cpu = sync.OnceValue(func() string {
	s := runtime.GOARCH
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return s
	}
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" && s != runtime.GOARCH {
			break // the first processor describes them all
		}
		if k, _, ok := strings.Cut(line, ":"); ok {
			switch strings.TrimSpace(k) {
			case "model name", "flags", "Features", "CPU part", "CPU implementer":
				s += "\n" + line
			}
		}
	}
	return s
})

// MaxAge is how long an entry stays unused before Put removes it.
const MaxAge = 30 * 24 * time.Hour

// Lookup returns the directory of key's entry under root, and whether it is
// there (marking it used).
func Lookup(root, key string) (string, bool) {
	dir := filepath.Join(root, key)
	st, err := os.Stat(dir)
	if err != nil || !st.IsDir() {
		return dir, false
	}
	now := time.Now()
	_ = os.Chtimes(dir, now, now) // best effort: an entry not marked is only pruned sooner
	return dir, true
}

// prune removes root's entries (and temporary directories) unused for MaxAge.
func prune(root string) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && e.IsDir() && time.Since(info.ModTime()) > MaxAge {
			_ = os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
}

// Do returns key's entry under root: the one there (cached true), else the
// one Put makes with produce.
func Do(root, key string, produce func(dir string) error) (dir string, cached bool, err error) {
	if dir, ok := Lookup(root, key); ok {
		return dir, true, nil
	}
	dir, err = Put(root, key, produce)
	return dir, false, err
}

// Put runs produce on a new empty directory under root and, if it succeeds,
// renames that directory to key's entry, which it returns. Where another
// process put the same key first, its entry is kept (the same inputs give the
// same outputs) and returned.
func Put(root, key string, produce func(dir string) error) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("refcache: %w", err)
	}
	prune(root)
	tmp, err := os.MkdirTemp(root, ".tmp-")
	if err != nil {
		return "", fmt.Errorf("refcache: %w", err)
	}
	if err := produce(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", err
	}
	dir := filepath.Join(root, key)
	if err := os.Rename(tmp, dir); err != nil {
		os.RemoveAll(tmp)
		if st, serr := os.Stat(dir); serr == nil && st.IsDir() {
			return dir, nil
		}
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("refcache: %s exists and is not a directory", dir)
		}
		return "", fmt.Errorf("refcache: %w", err)
	}
	return dir, nil
}
