package transfer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/core/tensors"

	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
	"github.com/vggnb/vggnb/internal/atomicfile"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// FeatureBatch is how many images Features runs through the base at once.
const FeatureBatch = 16

// batchDone, when set (by tests), is called after each batch of feature
// extraction with the number of images done.
var batchDone func(done int)

// ExtractFeatures runs examples idx of d (as Images at the model's input size)
// through the frozen base with the native kernels, FeatureBatch at a time, and
// returns the features (n, H, W, C) and the labels: Keras' feature-extraction
// step, run once. With dir != "" they are cached there, in a file named by a
// SHA-256 of the base's weights up to the cut and of the examples (pixels,
// labels, size): a second call with the same weights and data reads the file
// (its CRC-32C checked) instead. Progress goes to w as a bar (nil: none).
func (s *Stacked) ExtractFeatures(d *mlp.Dataset, idx []int, dir string, w io.Writer) (*tensors.Tensor, []int32, error) {
	return s.ExtractFeaturesContext(context.Background(), d, idx, dir, w)
}

// ExtractFeaturesContext is ExtractFeatures stopped by ctx between batches of
// FeatureBatch images (a fraction of a second each): it returns ctx's error,
// and nothing is written to the cache.
func (s *Stacked) ExtractFeaturesContext(ctx context.Context, d *mlp.Dataset, idx []int, dir string, w io.Writer) (*tensors.Tensor, []int32, error) {
	if s.Base == nil {
		return nil, nil, errors.New("transfer: a head alone has no base to compute features")
	}
	size := s.inputSize()
	labels := make([]int32, len(idx))
	for i, j := range idx {
		if j < 0 || j >= len(d.Labels) {
			return nil, nil, fmt.Errorf("transfer: example %d of %s, which has %d", j, d.Name, len(d.Labels))
		}
		labels[i] = int32(d.Labels[j])
	}
	var path string
	if dir != "" {
		key, err := s.featureKey(d, idx, size)
		if err != nil {
			return nil, nil, err
		}
		path = filepath.Join(dir, "features-"+key+".bin")
		if x, err := readFeatures(path); err == nil {
			return x, labels, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(orDiscard(w), "transfer: %v; computing the features again\n", err)
		}
	}
	f := s.FeatureShape()
	per := f[0] * f[1] * f[2]
	out := make([]float32, len(idx)*per)
	var bar *download.Progress
	if w != nil {
		bar = download.NewCountProgress(w, "features", int64(len(idx)), "images")
		defer bar.Done()
	}
	for from := 0; from < len(idx); from += FeatureBatch {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("transfer: features stopped after %d of %d images: %w", from, len(idx), err)
		}
		to := min(from+FeatureBatch, len(idx))
		x, _, err := Images(d, idx[from:to], size)
		if err != nil {
			return nil, nil, err
		}
		y, err := s.Features(x)
		if err != nil {
			return nil, nil, fmt.Errorf("transfer: features of examples %d..%d: %w", from, to-1, err)
		}
		tensors.ConstFlatData(y, func(v []float32) { copy(out[from*per:], v) })
		if bar != nil {
			bar.Add(int64(to - from))
		}
		if batchDone != nil {
			batchDone(to)
		}
	}
	x := tensors.FromFlatDataAndDimensions(out, append([]int{len(idx)}, f...)...)
	if path != "" {
		if err := writeFeatures(path, x); err != nil {
			return nil, nil, err
		}
	}
	return x, labels, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// inputSize is the base's fixed input height (= width).
func (s *Stacked) inputSize() int {
	l, _ := s.Base.Layer(weights.InputLayerName)
	return l.OutputShape[1]
}

// featureKey hashes what the features depend on: the base's layers up to the
// cut (their names and weights, fine-tuned or not) and the examples.
func (s *Stacked) featureKey(d *mlp.Dataset, idx []int, size int) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "vggnb features v1\x00%s\x00%d\x00", s.Base.Output(), size)
	base := map[string]bool{}
	for _, l := range s.Base.Layers() {
		base[l.Name] = true
	}
	for v := range s.store.IterVariables() { // in creation order: the same every run
		if layer := layerOf(v.Path()); !base[layer] {
			continue
		}
		fmt.Fprintf(h, "%s\x00", v.Path())
		var err error
		tensors.ConstFlatData(v.MustValue(), func(f []float32) { err = binary.Write(h, binary.LittleEndian, f) })
		if err != nil {
			return "", err
		}
	}
	px := d.Rows * d.Cols
	fmt.Fprintf(h, "%dx%d\x00", d.Rows, d.Cols)
	for _, j := range idx {
		if err := binary.Write(h, binary.LittleEndian, d.Images[j*px:(j+1)*px]); err != nil {
			return "", err
		}
		h.Write([]byte{d.Labels[j]})
	}
	return hex.EncodeToString(h.Sum(nil)[:12]), nil
}

const featuresMagic = "VGGNBF01"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// writeFeatures writes x to path atomically: magic, rank, dims, the data's
// CRC-32C, then the float32 data (little-endian).
func writeFeatures(path string, x *tensors.Tensor) (err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("transfer: feature cache: %w", err)
	}
	err = atomicfile.Write(path, func(tmp *os.File) error {
		bw := bufio.NewWriterSize(tmp, 1<<20)
		dims := x.Shape().Dimensions
		var data []byte
		tensors.ConstFlatData(x, func(f []float32) { data = weights.Float32sToLE(f) })
		bw.WriteString(featuresMagic)
		binary.Write(bw, binary.LittleEndian, uint32(len(dims)))
		for _, d := range dims {
			binary.Write(bw, binary.LittleEndian, int64(d))
		}
		binary.Write(bw, binary.LittleEndian, crc32.Checksum(data, castagnoli))
		bw.Write(data)
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("transfer: feature cache: %w", err)
	}
	return nil
}

// readFeatures reads a file written by writeFeatures, checking its CRC-32C.
func readFeatures(path string) (*tensors.Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	bad := func(why string) error { return fmt.Errorf("feature cache %s: %s", path, why) }
	if len(b) < len(featuresMagic)+4 || string(b[:len(featuresMagic)]) != featuresMagic {
		return nil, bad("not a vggnb feature file")
	}
	b = b[len(featuresMagic):]
	rank := int(binary.LittleEndian.Uint32(b))
	b = b[4:]
	if rank < 1 || rank > 8 || len(b) < 8*rank+4 {
		return nil, bad("truncated header")
	}
	dims := make([]int, rank)
	size := 1
	for i := range dims {
		dims[i] = int(binary.LittleEndian.Uint64(b[8*i:]))
		if dims[i] <= 0 || size > math.MaxInt32/dims[i] {
			return nil, bad(fmt.Sprintf("dimensions %v", dims[:i+1]))
		}
		size *= dims[i]
	}
	b = b[8*rank:]
	sum := binary.LittleEndian.Uint32(b)
	b = b[4:]
	if len(b) != 4*size {
		return nil, bad(fmt.Sprintf("%d bytes of data for %v, want %d", len(b), dims, 4*size))
	}
	if crc32.Checksum(b, castagnoli) != sum {
		return nil, bad("checksum mismatch (the file is damaged)")
	}
	return tensors.FromFlatDataAndDimensions(weights.Float32sFromLE(b), dims...), nil
}
