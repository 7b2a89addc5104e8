package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/vggnb/vggnb/internal/atomicfile"
	"github.com/vggnb/vggnb/weights"
)

// FeatureRow is a features file's row: the image, its output's shape (per
// image: (C) pooled, else (H, W, C)) and values, row-major.
type FeatureRow struct {
	Path   string    `parquet:"path"`
	Shape  []int32   `parquet:"shape,list"`
	Values []float32 `parquet:"values,list"`
}

// PredictionRow is a predictions file's row: the image and its top classes,
// most likely first, with their ImageNet labels and scores.
type PredictionRow struct {
	Path    string    `parquet:"path"`
	Classes []int32   `parquet:"classes,list"`
	Labels  []string  `parquet:"labels,list"`
	Scores  []float32 `parquet:"scores,list"`
}

// Metadata keys of the files written (Parquet key/value metadata).
const (
	MetaInput     = "vggnb.input_sha256" // the spec and the shard's paths
	MetaRows      = "vggnb.rows_sha256"  // every row's content, in order
	MetaCount     = "vggnb.rows"
	MetaSpec      = "vggnb.spec"
	MetaShard     = "vggnb.shard"
	MetaSynthetic = "vggnb.synthetic"
)

// ErrNotVerified is matched by Verify's errors for a file that is missing,
// damaged, or made from other inputs.
var ErrNotVerified = errors.New("dataset: file not verified")

// Result is what WriteShard did.
type Result struct {
	// Path and ErrorsPath are the shard's files.
	Path, ErrorsPath string
	// Rows and Errors are the rows of each.
	Rows, Errors int
	// Skipped is set when both files were already complete and verified.
	Skipped bool
}

// WriteShard writes shard's part of paths (all of them, sorted: List's) in
// dir: shard.Name() with a row per image and shard.ErrorsName() with a row
// per broken one, each whole or not at all. Files already there, complete and
// verified for the same spec and paths, are kept (Result.Skipped); others
// (damaged, partial, from other inputs) are written again, identically to an
// uninterrupted run.
func WriteShard(ctx context.Context, dir string, shard Shard, spec Spec, paths []string) (Result, error) {
	return WritePart(ctx, dir, shard, spec, shard.Of(paths))
}

// WritePart is WriteShard given the shard's part of the paths (shard.Of's):
// what a pipeline that split the list itself calls.
func WritePart(ctx context.Context, dir string, shard Shard, spec Spec, part []string) (Result, error) {
	s, err := spec.withDefaults()
	if err != nil {
		return Result{}, err
	}
	res := Result{Path: filepath.Join(dir, shard.Name()), ErrorsPath: filepath.Join(dir, shard.ErrorsName())}
	key := inputKey(s, shard, part)
	if n, err := Verify(res.Path, key); err == nil {
		if m, err := Verify(res.ErrorsPath, key); err == nil {
			res.Rows, res.Errors, res.Skipped = n, m, true
			return res, nil
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("dataset: %w", err)
	}
	removeStale(dir, shard.Name(), shard.ErrorsName())
	// The errors file is renamed into place first: the shard's file, last,
	// says the shard is done.
	var enc Result
	err = atomicfile.Write(res.Path, func(f *os.File) error {
		return atomicfile.Write(res.ErrorsPath, func(ef *os.File) error {
			var err error
			enc, err = Encode(ctx, f, ef, s, shard, part)
			return err
		})
	})
	res.Rows, res.Errors = enc.Rows, enc.Errors
	return res, err
}

// Encode runs the spec on part (shard's images, in order) and writes a row
// per image as Parquet to w, and a row per broken image to errs, each with
// the metadata WriteShard's files have (Verify checks it): what WriteShard
// writes, for a writer of another kind (a Beam filesystem's file).
func Encode(ctx context.Context, w, errs io.Writer, spec Spec, shard Shard, part []string) (Result, error) {
	s, err := spec.withDefaults()
	if err != nil {
		return Result{}, err
	}
	meta := map[string]string{MetaInput: inputKey(s, shard, part), MetaSpec: s.Describe(), MetaShard: shard.String(), MetaSynthetic: strconv.FormatBool(s.Model.Synthetic())}
	if s.Model.Synthetic() {
		meta["vggnb.notice"] = weights.SyntheticNotice
	}
	var res Result
	var failed []ErrorRow
	fail := func(e ErrorRow) error { failed = append(failed, e); return nil }
	if s.TopK > 0 {
		res.Rows, err = writeRows(ctx, w, s, part, meta, fail, func(r Row) PredictionRow {
			return PredictionRow{Path: r.Path, Classes: r.Classes, Labels: r.Labels, Scores: r.Scores}
		})
	} else {
		res.Rows, err = writeRows(ctx, w, s, part, meta, fail, func(r Row) FeatureRow {
			return FeatureRow{Path: r.Path, Shape: r.Shape, Values: r.Values}
		})
	}
	if err != nil {
		return res, err
	}
	res.Errors = len(failed)
	ew := parquet.NewGenericWriter[ErrorRow](errs)
	h := sha256.New()
	for _, e := range failed {
		hashRow(h, e)
	}
	if _, err := ew.Write(failed); err != nil {
		return res, err
	}
	setMeta(ew, meta, h, len(failed))
	return res, ew.Close()
}

// writeRows runs the spec on paths and writes the rows, as T, to f in row
// groups of s.RowGroup, with meta and the rows' checksum.
func writeRows[T any](ctx context.Context, f io.Writer, s Spec, paths []string, meta map[string]string, fail func(ErrorRow) error, as func(Row) T) (int, error) {
	w := parquet.NewGenericWriter[T](f, parquet.MaxRowsPerRowGroup(int64(s.RowGroup)))
	h := sha256.New()
	n := 0
	pending := make([]T, 0, s.RowGroup)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if _, err := w.Write(pending); err != nil {
			return err
		}
		pending = pending[:0]
		return w.Flush()
	}
	err := Run(ctx, s, paths, func(r Row) error {
		t := as(r)
		hashRow(h, t)
		pending = append(pending, t)
		n++
		if len(pending) == s.RowGroup {
			return flush()
		}
		return nil
	}, fail)
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, err
	}
	setMeta(w, meta, h, n)
	return n, w.Close()
}

// setMeta sets a file's metadata: meta, the rows' checksum and count.
func setMeta(w interface{ SetKeyValueMetadata(k, v string) }, meta map[string]string, h hash.Hash, n int) {
	for _, k := range slices.Sorted(maps.Keys(meta)) { // in one order: the same bytes every run
		w.SetKeyValueMetadata(k, meta[k])
	}
	w.SetKeyValueMetadata(MetaRows, hex.EncodeToString(h.Sum(nil)))
	w.SetKeyValueMetadata(MetaCount, strconv.Itoa(n))
}

// Verify checks that the file at path is complete and made from the inputs
// key names (its metadata's MetaInput), and that its rows' content matches
// the checksum written with them; it returns the number of rows. Any other
// answer is an error of kind ErrNotVerified saying why.
func Verify(path, key string) (int, error) {
	notVerified := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrNotVerified, path, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, notVerified("%v", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, notVerified("%v", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return 0, notVerified("not a whole Parquet file: %v", err)
	}
	if got, _ := pf.Lookup(MetaInput); got != key {
		return 0, notVerified("made from other inputs or options")
	}
	want, _ := pf.Lookup(MetaRows)
	count, _ := pf.Lookup(MetaCount)
	h := sha256.New()
	var n int
	switch {
	case strings.HasSuffix(path, ".errors.parquet"):
		n, err = hashFile[ErrorRow](f, st.Size(), h)
	case hasColumn(pf, "classes"):
		n, err = hashFile[PredictionRow](f, st.Size(), h)
	default:
		n, err = hashFile[FeatureRow](f, st.Size(), h)
	}
	if err != nil {
		return 0, notVerified("reading its rows: %v", err)
	}
	if hex.EncodeToString(h.Sum(nil)) != want || strconv.Itoa(n) != count {
		return 0, notVerified("its %d rows do not match the checksum written with them", n)
	}
	return n, nil
}

// hasColumn reports whether the file has the named column.
func hasColumn(f *parquet.File, name string) bool {
	for _, field := range f.Schema().Fields() {
		if field.Name() == name {
			return true
		}
	}
	return false
}

// hashFile reads a file's rows as T into h.
func hashFile[T any](r io.ReaderAt, size int64, h hash.Hash) (int, error) {
	rows, err := parquet.Read[T](r, size)
	for _, row := range rows {
		hashRow(h, row)
	}
	return len(rows), err
}

// Read reads a file's rows as T (FeatureRow, PredictionRow or ErrorRow).
func Read[T any](path string) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	rows, err := parquet.Read[T](f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	return rows, nil
}

// hashRow adds a row's content to h, each field length-prefixed.
func hashRow(h hash.Hash, row any) {
	str := func(s string) {
		binary.Write(h, binary.LittleEndian, uint64(len(s)))
		io.WriteString(h, s)
	}
	ints := func(v []int32) {
		binary.Write(h, binary.LittleEndian, uint64(len(v)))
		binary.Write(h, binary.LittleEndian, v)
	}
	floats := func(v []float32) {
		binary.Write(h, binary.LittleEndian, uint64(len(v)))
		for _, f := range v {
			binary.Write(h, binary.LittleEndian, math.Float32bits(f))
		}
	}
	switch r := row.(type) {
	case FeatureRow:
		str(r.Path)
		ints(r.Shape)
		floats(r.Values)
	case PredictionRow:
		str(r.Path)
		ints(r.Classes)
		binary.Write(h, binary.LittleEndian, uint64(len(r.Labels)))
		for _, l := range r.Labels {
			str(l)
		}
		floats(r.Scores)
	case ErrorRow:
		str(r.Path)
		str(r.Error)
	}
}

// inputKey is the checksum of what a shard's files are made from: the spec
// and the shard's paths.
func inputKey(s Spec, shard Shard, paths []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "vggnb dataset 1\n%s\nshard %s\n", s.Describe(), shard)
	for _, p := range paths {
		fmt.Fprintf(h, "%q\n", p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// removeStale removes the hidden temporary files an interrupted write of the
// named files left in dir (atomicfile's ".NAME.tmp-*").
func removeStale(dir string, names ...string) {
	for _, n := range names {
		stale, _ := filepath.Glob(filepath.Join(dir, "."+n+".tmp-*"))
		for _, p := range stale {
			os.Remove(p)
		}
	}
}
