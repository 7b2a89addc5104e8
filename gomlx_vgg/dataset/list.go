// Package dataset runs a VGG model over a collection of images: features of
// a layer (pooled to one vector per image if asked) or the top-k ImageNet
// classes, one row per image, written to Parquet in row groups, one file per
// shard, whole or not at all, with a checksum in the file's metadata so that
// a rerun skips the shards already done and verified and redoes the others.
// Every image is loaded as a single-image run loads it (Keras' load_img and
// preprocess_input, package imagenet); a broken one becomes a row of the
// shard's errors file, with its reason, and the run goes on.
//
// What `vggnb features --dataset` and `vggnb predict --dataset` run, and what
// a distributed runner (Kubernetes Indexed Jobs, Slurm arrays: --shard i/N)
// runs per shard.
package dataset

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Extensions are the file name extensions (lower case) a directory's
// images are recognised by.
var Extensions = []string{".jpg", ".jpeg", ".png", ".gif"}

// ErrNoImages is matched by List's error when the inputs name no image.
var ErrNoImages = errors.New("dataset: no images")

// List returns the image paths the inputs name, sorted and without
// duplicates: a directory (every file under it, recursively, whose extension
// is one of Extensions), a glob (filepath.Glob's patterns), "@FILE" (a
// manifest: one path per line, relative to the manifest's directory unless
// absolute; empty lines and lines starting with # are skipped), or a file.
// The order is the same on every machine, so that shards split it alike.
func List(inputs ...string) ([]string, error) {
	var out []string
	for _, in := range inputs {
		paths, err := list(in)
		if err != nil {
			return nil, err
		}
		out = append(out, paths...)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("%w in %q", ErrNoImages, inputs)
	}
	return out, nil
}

func list(in string) ([]string, error) {
	if manifest, ok := strings.CutPrefix(in, "@"); ok {
		return readManifest(manifest)
	}
	if strings.ContainsAny(in, "*?[") {
		paths, err := filepath.Glob(in)
		if err != nil {
			return nil, fmt.Errorf("dataset: glob %q: %w", in, err)
		}
		var files []string
		for _, p := range paths {
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				files = append(files, filepath.Clean(p))
			}
		}
		return files, nil
	}
	st, err := os.Stat(in)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if !st.IsDir() {
		return []string{filepath.Clean(in)}, nil
	}
	var files []string
	err = filepath.WalkDir(in, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && slices.Contains(Extensions, strings.ToLower(filepath.Ext(p))) {
			files = append(files, filepath.Clean(p))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: listing %s: %w", in, err)
	}
	return files, nil
}

// readManifest reads a manifest file's paths.
func readManifest(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: manifest: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		p := strings.TrimSpace(sc.Text())
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
		out = append(out, filepath.Clean(p))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dataset: manifest %s: %w", path, err)
	}
	return out, nil
}

// Shard is one part of a split of the sorted list: shard Index (from 0) of
// Count.
type Shard struct {
	Index, Count int
}

// ParseShard reads "i/N" (0 <= i < N).
func ParseShard(s string) (Shard, error) {
	is, ns, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(is)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("dataset: shard %q: want i/N with 0 <= i < N, such as 0/4", s)
	}
	return Shard{i, n}, nil
}

// String is "i/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, s.Count) }

// Of returns the shard's part of paths: contiguous, disjoint from the other
// shards' parts and, all shards together, covering paths in order. A zero
// Shard is the whole list.
func (s Shard) Of(paths []string) []string {
	if s.Count <= 1 {
		return paths
	}
	n := len(paths)
	return paths[s.Index*n/s.Count : (s.Index+1)*n/s.Count]
}

// Name is the shard's file name: part-00003-of-00008.parquet.
func (s Shard) Name() string {
	return fmt.Sprintf("part-%05d-of-%05d.parquet", s.Index, max(s.Count, 1))
}

// ErrorsName is the shard's errors file name: part-00003-of-00008.errors.parquet.
func (s Shard) ErrorsName() string {
	return strings.TrimSuffix(s.Name(), ".parquet") + ".errors.parquet"
}
