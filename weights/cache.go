package weights

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"slices"
	"unsafe"

	"github.com/vggnb/vggnb/internal/atomicfile"
	"github.com/vggnb/vggnb/internal/parallel"
	"github.com/vggnb/vggnb/weights/download"
)

// The fast-reload form: magic, a little-endian uint32 header length, a JSON header,
// zero padding to a 64-byte boundary, then every tensor's float32 values,
// little-endian, each starting on a 64-byte boundary. The header carries each
// tensor's CRC-32C (Castagnoli, hardware-assisted: ~10 GB/s), checked on every
// load: a corrupted cache is reloaded from its source, never used.
const cacheMagic = "VGGNBT02"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

type cacheKey struct {
	path   string // absolute source path
	size   int64
	mtime  int64
	spec   string
	target DataFormat
	source DataFormat
	file   string // cache file path
}

type cacheHeader struct {
	Source       string       `json:"source"`
	Size         int64        `json:"size"`
	MTime        int64        `json:"mtime_ns"`
	Spec         string       `json:"spec"`
	Target       DataFormat   `json:"target"`
	SourceFormat DataFormat   `json:"source_format"`
	Format       Format       `json:"format"`
	KerasVersion string       `json:"keras_version,omitempty"`
	Backend      string       `json:"backend,omitempty"`
	Layers       []cacheLayer `json:"layers"`
}

type cacheLayer struct {
	Name    string        `json:"name"`
	Class   Class         `json:"class"`
	Weights []cacheTensor `json:"weights"`
}

type cacheTensor struct {
	Name   string `json:"name"`
	Shape  []int  `json:"shape"`
	Offset int64  `json:"offset"`
	CRC32C uint32 `json:"crc32c"`
}

func newCacheKey(path string, spec Spec, cfg loadConfig) (cacheKey, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return cacheKey{}, err
	}
	st, err := os.Stat(abs)
	if err != nil {
		return cacheKey{}, err
	}
	dir := cfg.cacheDir
	if dir == "" {
		dir = filepath.Join(download.CacheDir(), "tensors")
	}
	k := cacheKey{path: abs, size: st.Size(), mtime: st.ModTime().UnixNano(), spec: spec.String(), target: cfg.target, source: cfg.source}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%d\x00%d", abs, k.spec, k.target, k.source)))
	k.file = filepath.Join(dir, filepath.Base(abs)+"."+hex.EncodeToString(sum[:8])+".vggt")
	return k, nil
}

var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

func align64(n int64) int64 { return (n + 63) &^ 63 }

// readCache returns the cached weights for key, or an error if there are none or
// they are stale (the source's size or modification time changed).
func readCache(key cacheKey) (f *File, err error) {
	buf, release, err := mapFile(key.file)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			release()
		}
	}()
	if len(buf) < 12 || string(buf[:8]) != cacheMagic {
		return nil, errors.New("not a cache file")
	}
	hl := int64(binary.LittleEndian.Uint32(buf[8:12]))
	if 12+hl > int64(len(buf)) {
		return nil, errors.New("truncated cache header")
	}
	var h cacheHeader
	if err := json.Unmarshal(buf[12:12+hl], &h); err != nil {
		return nil, err
	}
	if h.Source != key.path || h.Size != key.size || h.MTime != key.mtime || h.Spec != key.spec || h.Target != key.target || h.SourceFormat != key.source {
		return nil, errors.New("stale cache")
	}
	f = &File{Path: key.path, Format: h.Format, KerasVersion: h.KerasVersion, Backend: h.Backend, mapped: buf}
	var sums []checksum
	for _, cl := range h.Layers {
		l := Layer{Name: cl.Name, Class: cl.Class}
		for _, ct := range cl.Weights {
			n := int64(Size(ct.Shape))
			end := ct.Offset + 4*n
			if ct.Offset < 0 || ct.Offset%64 != 0 || end > int64(len(buf)) || n < 0 {
				return nil, errors.New("truncated cache data")
			}
			sums = append(sums, checksum{cl.Name + "/" + ct.Name, buf[ct.Offset:end], ct.CRC32C})
			l.Weights = append(l.Weights, Tensor{Name: ct.Name, Shape: ct.Shape, Data: floatsOf(buf[ct.Offset:end])})
		}
		f.Layers = append(f.Layers, l)
	}
	if err := verify(sums); err != nil {
		return nil, err
	}
	return f, nil
}

// checksum is one tensor's data in a cache file and its CRC-32C.
type checksum struct {
	name string
	data []byte
	crc  uint32
}

// verify checks the sums on all cores (the file is read from memory, at
// several GB/s a core) and names the first tensor that fails its sum.
func verify(sums []checksum) error {
	bad := make([]bool, len(sums))
	parallel.ForEach(len(sums), func(i int) { bad[i] = crc32.Checksum(sums[i].data, castagnoli) != sums[i].crc })
	if i := slices.Index(bad, true); i >= 0 {
		return fmt.Errorf("corrupted cache: %s fails its checksum", sums[i].name)
	}
	return nil
}

// floatsOf views little-endian bytes as float32 without copying where the host is
// little-endian (the buffer then backs the tensors).
func floatsOf(b []byte) []float32 {
	n := len(b) / 4
	if n == 0 {
		return []float32{}
	}
	if littleEndian && uintptr(unsafe.Pointer(&b[0]))%4 == 0 {
		return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), n)
	}
	return Float32sFromLE(b)
}

// Float32sFromLE decodes len(b)/4 little-endian float32 values into a new slice
// (the layout of .h5 data, ONNX raw_data, vggnb's caches and raw uploads).
func Float32sFromLE(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	DecodeFloat32sLE(out, b)
	return out
}

// DecodeFloat32sLE decodes little-endian float32 bytes b into dst (len(b)/4
// values, no more than dst holds): Float32sFromLE without a new slice, for a
// tensor's own memory.
func DecodeFloat32sLE(dst []float32, b []byte) {
	for i := range min(len(dst), len(b)/4) {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

// Float32sToLE encodes v as little-endian float32 bytes, in a new slice.
func Float32sToLE(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// writeCache stores f for key atomically (temporary file, then rename).
func writeCache(key cacheKey, f *File) error {
	h := cacheHeader{Source: key.path, Size: key.size, MTime: key.mtime, Spec: key.spec, Target: key.target, SourceFormat: key.source,
		Format: f.Format, KerasVersion: f.KerasVersion, Backend: f.Backend}
	// Offsets depend on the header's length, which depends on the offsets' digits:
	// lay out data after a generous fixed header area.
	var total int64
	for _, l := range f.Layers {
		cl := cacheLayer{Name: l.Name, Class: l.Class}
		for _, t := range l.Weights {
			cl.Weights = append(cl.Weights, cacheTensor{Name: t.Name, Shape: t.Shape, Offset: total,
				CRC32C: crc32.Checksum(bytesOf(t.Data), castagnoli)})
			total += align64(int64(4 * len(t.Data)))
		}
		h.Layers = append(h.Layers, cl)
	}
	js, err := json.Marshal(h)
	if err != nil {
		return err
	}
	base := align64(int64(12 + len(js) + 16*countTensors(f))) // room for offsets growing by base
	for i := range h.Layers {
		for j := range h.Layers[i].Weights {
			h.Layers[i].Weights[j].Offset += base
		}
	}
	if js, err = json.Marshal(h); err != nil {
		return err
	}
	if int64(12+len(js)) > base {
		return errors.New("cache header overflow")
	}
	if err := os.MkdirAll(filepath.Dir(key.file), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(key.file, func(tmp *os.File) error {
		var hdr bytes.Buffer
		hdr.WriteString(cacheMagic)
		binary.Write(&hdr, binary.LittleEndian, uint32(len(js)))
		hdr.Write(js)
		hdr.Write(make([]byte, base-int64(hdr.Len())))
		if _, err := tmp.Write(hdr.Bytes()); err != nil {
			return err
		}
		for _, l := range f.Layers {
			for _, t := range l.Weights {
				b := bytesOf(t.Data)
				pad := align64(int64(len(b))) - int64(len(b))
				if _, err := tmp.Write(b); err != nil {
					return err
				}
				if _, err := tmp.Write(make([]byte, pad)); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

func countTensors(f *File) int {
	n := 0
	for _, l := range f.Layers {
		n += len(l.Weights)
	}
	return n
}

// bytesOf returns the little-endian bytes of v (a view on little-endian hosts).
func bytesOf(v []float32) []byte {
	if len(v) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	return Float32sToLE(v)
}
