package weights

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/scigolib/hdf5"
)

// h5file is a thin, panic-safe view of an HDF5 file through github.com/scigolib/hdf5.
//
// The library returns numeric data as float64 and describes datasets only through
// Info(); this file turns that into float32 tensors with shapes, converts every
// panic of the parser into an error, and refuses datasets that claim more bytes
// than the file holds (a corrupt header must not allocate gigabytes).
type h5file struct {
	path string
	size int64
	f    *hdf5.File
}

// h5group is a group with its path inside the file.
type h5group struct {
	path string
	g    *hdf5.Group
}

// openH5 opens path as HDF5. Errors name the file.
func openH5(path string) (h *h5file, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("weights: %s is a directory, not a Keras .h5 weight file", path)
	}
	if err := checkHeader(path, st.Size()); err != nil {
		return nil, err
	}
	defer recoverTo(&err, path, "opening HDF5 structure")
	f, err := hdf5.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %s: not a readable HDF5 file (truncated or corrupt?): %w", path, err)
	}
	if f.Root() == nil {
		f.Close()
		return nil, fmt.Errorf("weights: %s: HDF5 file has no root group (truncated or corrupt?)", path)
	}
	return &h5file{path: path, size: st.Size(), f: f}, nil
}

// hdf5Signature starts every HDF5 file whose user block is empty (all Keras files).
const hdf5Signature = "\x89HDF\r\n\x1a\n"

// checkHeader reads the start of the file once and checks, before any parsing:
//   - the HDF5 signature (an HTML error page or another file is no weight file);
//   - the end-of-file address the superblock records (h5py and our writer both
//     record it exactly) against the file's size: a file cut short, wherever
//     the cut falls, is reported as truncated rather than as whatever the parser
//     misses first.
func checkHeader(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	b := make([]byte, 96)
	n, _ := io.ReadFull(f, b)
	b = b[:n]
	if len(b) < len(hdf5Signature) || string(b[:len(hdf5Signature)]) != hdf5Signature {
		return fmt.Errorf("weights: %s is not an HDF5 file (no HDF5 signature in its first bytes; an HTML error page or an unfinished download?)", path)
	}
	if len(b) < 10 {
		return fmt.Errorf("weights: %s: truncated: %d bytes, not even an HDF5 superblock", path, size)
	}
	var offsetSize, at int
	switch b[8] { // superblock version
	case 0, 1:
		offsetSize, at = int(b[13]), 24
		if b[8] == 1 {
			at = 28
		}
		at += 2 * offsetSize // base address, free-space info address
	case 2, 3:
		offsetSize, at = int(b[9]), 12
		at += 2 * offsetSize // base address, superblock extension address
	default:
		return nil // unknown version: leave it to the parser
	}
	if offsetSize != 4 && offsetSize != 8 || at+offsetSize > len(b) {
		return nil
	}
	var eof uint64
	for i := offsetSize - 1; i >= 0; i-- {
		eof = eof<<8 | uint64(b[at+i])
	}
	if eof != math.MaxUint64 && eof > uint64(size) {
		return fmt.Errorf("weights: %s: truncated: the file has %d bytes, its HDF5 superblock says %d (an unfinished download or copy?)", path, size, eof)
	}
	return nil
}

// recoverTo turns a panic of the HDF5 parser into an error naming the file and the step.
func recoverTo(err *error, path, step string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("weights: %s: corrupt HDF5 data while %s: %v", path, step, r)
	}
}

func (h *h5file) Close() error {
	if h == nil || h.f == nil {
		return nil
	}
	return h.f.Close()
}

func (h *h5file) root() h5group { return h5group{path: "/", g: h.f.Root()} }

// child returns the named child of g: a group, a dataset or nil.
func (g h5group) child(name string) hdf5.Object {
	for _, c := range g.g.Children() {
		if c != nil && c.Name() == name {
			return c
		}
	}
	return nil
}

// group follows a slash-separated relative path of groups.
func (g h5group) group(rel string) (h5group, bool) {
	cur := g
	for _, part := range strings.Split(strings.Trim(rel, "/"), "/") {
		if part == "" {
			continue
		}
		sub, ok := cur.child(part).(*hdf5.Group)
		if !ok || sub == nil {
			return h5group{}, false
		}
		cur = h5group{path: joinPath(cur.path, part), g: sub}
	}
	return cur, true
}

// dataset follows a slash-separated relative path ending in a dataset.
func (g h5group) dataset(rel string) (*hdf5.Dataset, string, bool) {
	rel = strings.Trim(rel, "/")
	dir, name := "", rel
	if i := strings.LastIndex(rel, "/"); i >= 0 {
		dir, name = rel[:i], rel[i+1:]
	}
	parent, ok := g.group(dir)
	if !ok {
		return nil, "", false
	}
	ds, ok := parent.child(name).(*hdf5.Dataset)
	if !ok || ds == nil {
		return nil, "", false
	}
	return ds, joinPath(parent.path, name), true
}

func joinPath(dir, name string) string {
	if dir == "/" || dir == "" {
		return "/" + name
	}
	return dir + "/" + name
}

// attrs returns the group's attributes decoded to Go values.
func (h *h5file) attrs(g h5group) (out map[string]any, err error) {
	defer recoverTo(&err, h.path, "reading attributes of "+g.path)
	list, err := g.g.Attributes()
	if err != nil {
		return nil, fmt.Errorf("weights: %s: attributes of %s: %w", h.path, g.path, err)
	}
	out = make(map[string]any, len(list))
	for _, a := range list {
		v, err := a.ReadValue()
		if err != nil {
			return nil, fmt.Errorf("weights: %s: attribute %s of %s: %w", h.path, a.Name, g.path, err)
		}
		out[a.Name] = v
	}
	return out, nil
}

// stringList interprets an attribute as a list of strings (Keras' layer_names and
// weight_names: fixed-length or variable-length strings, or an empty numeric array).
func stringList(v any) ([]string, bool) {
	switch x := v.(type) {
	case []string:
		return x, true
	case string:
		return []string{x}, true
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	// h5py stores np.array([]) (Keras 1's empty weight_names) as float64[0];
	// any non-empty numeric array is not a list of names.
	case []float64:
		return nil, len(x) == 0
	case []float32:
		return nil, len(x) == 0
	case []int32:
		return nil, len(x) == 0
	case []int64:
		return nil, len(x) == 0
	}
	return nil, false
}

// dsInfo is what Info() tells of a dataset.
type dsInfo struct {
	class    string // "float", "integer", ...
	elemSize int
	shape    []int
	// contiguousSize is the byte size of a contiguous layout, -1 otherwise.
	contiguousSize int64
	// address of contiguous data in the file.
	address int64
}

var (
	reInfoType  = regexp.MustCompile(`^Dataset: (\w+) \(size=(\d+) bytes\), `)
	reInfoShape = regexp.MustCompile(`(\d+)D array \[([0-9 x]*)\]`)
	reInfoCont  = regexp.MustCompile(`contiguous \(address=0x([0-9A-Fa-f]+), size=(\d+)\)`)
)

// parseInfo decodes the library's Info() text, e.g.
// "Dataset: float (size=4 bytes), 4D array [3 3 3 64], contiguous (address=0xCA8, size=6912)".
func parseInfo(s string) (dsInfo, error) {
	m := reInfoType.FindStringSubmatch(s)
	if m == nil {
		return dsInfo{}, fmt.Errorf("unrecognised dataset description %q", s)
	}
	info := dsInfo{class: m[1], contiguousSize: -1}
	info.elemSize, _ = strconv.Atoi(m[2])
	rest := s[len(m[0]):]
	switch {
	case strings.HasPrefix(rest, "scalar"):
		info.shape = []int{}
	default:
		sm := reInfoShape.FindStringSubmatch(rest)
		if sm == nil {
			return dsInfo{}, fmt.Errorf("unrecognised dataspace in %q", s)
		}
		rank, _ := strconv.Atoi(sm[1])
		for _, f := range strings.Fields(strings.ReplaceAll(sm[2], "x", " ")) {
			d, err := strconv.Atoi(f)
			if err != nil || d < 0 {
				return dsInfo{}, fmt.Errorf("bad dimension %q in %q", f, s)
			}
			info.shape = append(info.shape, d)
		}
		if len(info.shape) != rank {
			return dsInfo{}, fmt.Errorf("rank %d but %d dimensions in %q", rank, len(info.shape), s)
		}
	}
	if cm := reInfoCont.FindStringSubmatch(rest); cm != nil {
		addr, err := strconv.ParseUint(cm[1], 16, 63)
		if err != nil {
			return dsInfo{}, fmt.Errorf("bad address in %q", s)
		}
		info.address = int64(addr)
		info.contiguousSize, _ = strconv.ParseInt(cm[2], 10, 64)
	}
	return info, nil
}

// numElements multiplies dims, reporting overflow past limit.
func numElements(shape []int, limit int64) (int64, bool) {
	n := int64(1)
	for _, d := range shape {
		if d != 0 && n > limit/int64(d) {
			return 0, false
		}
		n *= int64(d)
	}
	return n, n <= limit
}

// readTensor reads a float dataset as float32 with its shape.
func (h *h5file) readTensor(ds *hdf5.Dataset, path string) (t Tensor, err error) {
	defer recoverTo(&err, h.path, "reading dataset "+path)
	desc, err := ds.Info()
	if err != nil {
		return Tensor{}, fmt.Errorf("weights: %s: dataset %s: %w", h.path, path, err)
	}
	info, err := parseInfo(desc)
	if err != nil {
		return Tensor{}, fmt.Errorf("weights: %s: dataset %s: %w", h.path, path, err)
	}
	if info.class != "float" || (info.elemSize != 4 && info.elemSize != 8) {
		return Tensor{}, fmt.Errorf("weights: %s: dataset %s holds %s of %d bytes, want float32 or float64 weights", h.path, path, info.class, info.elemSize)
	}
	// The file cannot hold more values than its size allows, even compressed
	// weights compress poorly; refuse absurd claims before allocating.
	n, ok := numElements(info.shape, 8*h.size/int64(info.elemSize)+1024)
	if !ok {
		return Tensor{}, fmt.Errorf("weights: %s: dataset %s claims shape %v, more than a %d-byte file can hold (corrupt?)", h.path, path, info.shape, h.size)
	}
	if info.contiguousSize >= 0 && info.contiguousSize != n*int64(info.elemSize) {
		return Tensor{}, fmt.Errorf("weights: %s: dataset %s: shape %v needs %d bytes but its storage has %d (corrupt?)", h.path, path, info.shape, n*int64(info.elemSize), info.contiguousSize)
	}
	if info.contiguousSize > 0 && info.elemSize == 4 {
		if data, ok := h.readContiguous32(ds, info); ok {
			return Tensor{Name: path, Shape: info.shape, Data: data}, nil
		}
	}
	vals, err := ds.Read()
	if err != nil {
		return Tensor{}, fmt.Errorf("weights: %s: dataset %s (shape %v): %w (truncated file?)", h.path, path, info.shape, err)
	}
	if int64(len(vals)) != n {
		return Tensor{}, fmt.Errorf("weights: %s: dataset %s: shape %v has %d values, read %d (truncated file?)", h.path, path, info.shape, n, len(vals))
	}
	data := make([]float32, n)
	for i, v := range vals {
		data[i] = float32(v)
	}
	return Tensor{Name: path, Shape: info.shape, Data: data}, nil
}

// readContiguous32 reads a contiguous float32 dataset's bytes straight from the
// file, skipping the library's float64 conversion (4x less memory traffic). The
// byte order is confirmed by decoding one element whose value depends on it
// through the library; ok is false when anything is unusual, and the caller
// falls back to the library's reader.
func (h *h5file) readContiguous32(ds *hdf5.Dataset, info dsInfo) (data []float32, ok bool) {
	if info.address < 0 || info.address+info.contiguousSize > h.size {
		return nil, false
	}
	raw := make([]byte, info.contiguousSize)
	if _, err := h.f.Reader().ReadAt(raw, info.address); err != nil {
		return nil, false
	}
	n := len(raw) / 4
	k := -1 // first element that reads differently in the two byte orders
	for i := 0; i < n; i++ {
		if raw[4*i] != raw[4*i+3] || raw[4*i+1] != raw[4*i+2] {
			k = i
			break
		}
	}
	if k >= 0 {
		start := make([]uint64, len(info.shape))
		count := make([]uint64, len(info.shape))
		rem := k
		for d := len(info.shape) - 1; d >= 0; d-- {
			start[d] = uint64(rem % info.shape[d])
			rem /= info.shape[d]
			count[d] = 1
		}
		v, err := ds.ReadSlice(start, count)
		vals, isF := v.([]float64)
		if err != nil || !isF || len(vals) != 1 {
			return nil, false
		}
		want := math.Float32bits(float32(vals[0]))
		le := binary.LittleEndian.Uint32(raw[4*k:])
		be := binary.BigEndian.Uint32(raw[4*k:])
		switch want {
		case le:
		case be:
			for i := 0; i < n; i++ {
				binary.LittleEndian.PutUint32(raw[4*i:], binary.BigEndian.Uint32(raw[4*i:]))
			}
		default:
			return nil, false
		}
	}
	out := floatsOf(raw)
	if len(out) != n {
		return nil, false
	}
	return out, true
}
