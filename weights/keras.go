// Package weights reads, checks, converts, caches, fetches and writes Keras VGG
// weight files in pure Go.
//
// Three generations of Keras files are understood:
//
//   - Keras 1 (the 2016 files published as vgg16/vgg19_weights_{tf,th}_dim_ordering_*.h5):
//     root attribute layer_names, one group per layer, datasets such as
//     block1_conv1/block1_conv1_W_1:0, empty weight_names on weightless layers.
//   - Keras 2 (model.save_weights and model.save): the same attributes, datasets in
//     nested groups such as block1_conv1/block1_conv1/kernel:0, possibly chunked and
//     compressed, and, for full models, everything under /model_weights.
//   - Keras 3 (.weights.h5): layers/<class>_<n>/vars/<i>, with no layer names; they
//     are matched to a model's layers by class and order.
//
// Read returns a file's layers as they are stored; LoadVGG checks them against a
// VGG16/VGG19 Spec, converts channels_first (Theano) files, and can keep a cached
// form that reloads in milliseconds. Fetch downloads the official Keras files.
package weights

import (
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unsafe"

	"github.com/scigolib/hdf5"
)

// Format says which Keras generation wrote a weight file.
type Format int

const (
	// FormatUnknown is the zero Format.
	FormatUnknown Format = iota
	// FormatKeras1 is the 2016 layout of the published VGG files (no keras_version attribute, or "1.x").
	FormatKeras1
	// FormatKeras2 is model.save_weights of Keras 2 (tf.keras).
	FormatKeras2
	// FormatKeras2Model is model.save of Keras 2: weights under /model_weights.
	FormatKeras2Model
	// FormatKeras3 is the .weights.h5 layout of Keras 3.
	FormatKeras3
)

// String returns a short human-readable name of the format.
func (f Format) String() string {
	switch f {
	case FormatKeras1:
		return "Keras 1 (2016 layout)"
	case FormatKeras2:
		return "Keras 2 weights"
	case FormatKeras2Model:
		return "Keras 2 full model"
	case FormatKeras3:
		return "Keras 3 .weights.h5"
	}
	return "unknown"
}

// Tensor is one float32 weight array in row-major order.
type Tensor struct {
	// Name is the weight's name: in the file for Read, "kernel" or "bias" after LoadVGG.
	Name string
	// Shape is the array's dimensions.
	Shape []int
	// Data holds prod(Shape) values.
	Data []float32
}

// Size returns the number of values of a shape.
func Size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Layer is one Keras layer and its weights, in Keras order.
type Layer struct {
	// Name is the layer's name (block1_conv1), or for Keras 3 files its storage key (conv2d_1).
	Name string
	// Class is the Keras class where the file tells it (Keras 3 keys), else "".
	Class Class
	// Weights are the layer's arrays (kernel then bias for Conv2D and Dense).
	Weights []Tensor
}

// File is what a Keras weight file holds.
type File struct {
	// Path is where the file was read from.
	Path string
	// Format is the Keras generation that wrote it.
	Format Format
	// KerasVersion and Backend are the file's attributes of those names, when present.
	KerasVersion, Backend string
	// Layers are in the file's order (layer_names), weightless layers included.
	Layers []Layer

	// mapped is the mapped cache file the tensors' Data are views of, if any
	// (readCache): MoveInto drops its pages as it copies.
	mapped []byte
}

// moveChunk is how many values MoveInto copies before dropping their pages (4 MiB).
const moveChunk = 1 << 20

// MoveInto copies t's values (t a weight of f) into dst, which must have
// exactly as many, and makes dst t's Data: f keeps no reference to the old
// values. Where f was read from vggnb's mapped cache file, the copied pages are
// dropped from memory every 4 MiB as the copy goes (the mapping is private and
// those pages unmodified: reading them again would read the file), so loading
// never holds the weights twice: a model's tensors cost their size once.
func (f *File) MoveInto(t *Tensor, dst []float32) error {
	if len(dst) != len(t.Data) {
		return fmt.Errorf("weights: %s: MoveInto %s: %d values into %d", f.Path, t.Name, len(t.Data), len(dst))
	}
	src := t.Data
	var off, dropped uintptr // byte offsets in f.mapped
	inMap := false
	if len(src) > 0 && len(f.mapped) > 0 {
		base := uintptr(unsafe.Pointer(&f.mapped[0]))
		p := uintptr(unsafe.Pointer(&src[0]))
		if p >= base && p+4*uintptr(len(src)) <= base+uintptr(len(f.mapped)) {
			inMap, off = true, p-base
			dropped = alignPage(off, true)
		}
	}
	for i := 0; i < len(src); i += moveChunk {
		end := min(i+moveChunk, len(src))
		copy(dst[i:end], src[i:end])
		if inMap {
			// Whole pages only: a page the copy has not finished stays.
			if e := alignPage(off+4*uintptr(end), false); e > dropped {
				dropPages(f.mapped[dropped:e])
				dropped = e
			}
		}
	}
	t.Data = dst
	return nil
}

// alignPage rounds a byte offset to the page size, up or down.
func alignPage(n uintptr, up bool) uintptr {
	ps := uintptr(os.Getpagesize())
	if up {
		n += ps - 1
	}
	return n &^ (ps - 1)
}

// Layer returns the named layer or nil.
func (f *File) Layer(name string) *Layer {
	for i := range f.Layers {
		if f.Layers[i].Name == name {
			return &f.Layers[i]
		}
	}
	return nil
}

// NumParams counts the values of all weights.
func (f *File) NumParams() int {
	n := 0
	for _, l := range f.Layers {
		for _, w := range l.Weights {
			n += len(w.Data)
		}
	}
	return n
}

// Read reads every layer of a Keras 1, 2 or 3 weight file.
//
// It never panics: corrupt, truncated and non-HDF5 files give errors that name
// the file and, where it got that far, the layer and dataset.
func Read(path string) (*File, error) {
	h, err := openH5(path)
	if err != nil {
		return nil, err
	}
	defer h.Close()
	root := h.root()
	rootAttrs, err := h.attrs(root)
	if err != nil {
		return nil, err
	}
	if _, ok := rootAttrs["layer_names"]; ok {
		return readKeras12(h, root, rootAttrs, false)
	}
	if mw, ok := root.group("model_weights"); ok {
		a, err := h.attrs(mw)
		if err != nil {
			return nil, err
		}
		if _, ok := a["layer_names"]; ok {
			for k, v := range rootAttrs { // keras_version/backend may sit on the root
				if _, dup := a[k]; !dup {
					a[k] = v
				}
			}
			return readKeras12(h, mw, a, true)
		}
	}
	if lg, ok := root.group("layers"); ok {
		return readKeras3(h, lg)
	}
	return nil, fmt.Errorf("weights: %s: not a Keras weight file: no layer_names attribute, no /model_weights group and no /layers group", path)
}

func attrString(a map[string]any, name string) string {
	if s, ok := a[name].(string); ok {
		return s
	}
	return ""
}

func readKeras12(h *h5file, g h5group, a map[string]any, fullModel bool) (*File, error) {
	names, ok := stringList(a["layer_names"])
	if !ok {
		return nil, fmt.Errorf("weights: %s: attribute layer_names of %s is %T, not a list of names", h.path, g.path, a["layer_names"])
	}
	f := &File{Path: h.path, KerasVersion: attrString(a, "keras_version"), Backend: attrString(a, "backend")}
	switch {
	case fullModel:
		f.Format = FormatKeras2Model
	case f.KerasVersion == "" || strings.HasPrefix(f.KerasVersion, "1"):
		f.Format = FormatKeras1
	default:
		f.Format = FormatKeras2
	}
	for _, name := range names {
		lg, ok := g.group(name)
		if !ok {
			return nil, fmt.Errorf("weights: %s: layer_names lists %q but the file has no group %s (truncated or edited file?)", h.path, name, joinPath(g.path, name))
		}
		la, err := h.attrs(lg)
		if err != nil {
			return nil, err
		}
		var wnames []string
		if v, present := la["weight_names"]; present {
			if wnames, ok = stringList(v); !ok {
				return nil, fmt.Errorf("weights: %s: layer %s: attribute weight_names is %T, not a list of names", h.path, name, v)
			}
		}
		layer := Layer{Name: name}
		for _, wn := range wnames {
			ds, p, ok := lg.dataset(wn)
			if !ok {
				return nil, fmt.Errorf("weights: %s: layer %s: weight_names lists %q but there is no dataset %s (truncated or edited file?)", h.path, name, wn, joinPath(lg.path, wn))
			}
			t, err := h.readTensor(ds, p)
			if err != nil {
				return nil, fmt.Errorf("%w (layer %s)", err, name)
			}
			t.Name = wn
			layer.Weights = append(layer.Weights, t)
		}
		f.Layers = append(f.Layers, layer)
	}
	return f, nil
}

var reKeras3Key = regexp.MustCompile(`^(.*?)(?:_(\d+))?$`)

// splitKey splits a Keras 3 storage key "conv2d_12" into ("conv2d", 12); "conv2d" is ("conv2d", 0).
func splitKey(key string) (string, int) {
	m := reKeras3Key.FindStringSubmatch(key)
	if m[2] == "" {
		return key, 0
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return key, 0
	}
	return m[1], n
}

// keras3Classes maps Keras 3 storage keys (snake_case class names) to Keras classes.
var keras3Classes = map[string]Class{
	"input_layer":              InputLayer,
	"conv2d":                   Conv2D,
	"max_pooling2d":            MaxPooling2D,
	"average_pooling2d":        "AveragePooling2D",
	"global_average_pooling2d": GlobalAveragePooling2D,
	"global_max_pooling2d":     GlobalMaxPooling2D,
	"flatten":                  Flatten,
	"dense":                    Dense,
	"dropout":                  "Dropout",
	"batch_normalization":      "BatchNormalization",
}

func readKeras3(h *h5file, lg h5group) (f *File, err error) {
	defer recoverTo(&err, h.path, "listing "+lg.path)
	f = &File{Path: h.path, Format: FormatKeras3, KerasVersion: "3"}
	type entry struct {
		key, base string
		n         int
		g         *hdf5.Group
	}
	var entries []entry
	for _, c := range lg.g.Children() {
		g, ok := c.(*hdf5.Group)
		if !ok || g == nil {
			continue
		}
		base, n := splitKey(g.Name())
		entries = append(entries, entry{key: g.Name(), base: base, n: n, g: g})
	}
	// HDF5 lists children by name; Keras 3 numbers layers of one class in creation order.
	sort.SliceStable(entries, func(i, j int) bool {
		if entries[i].base != entries[j].base {
			return entries[i].base < entries[j].base
		}
		return entries[i].n < entries[j].n
	})
	for _, e := range entries {
		layer := Layer{Name: e.key, Class: keras3Classes[e.base]}
		lgp := h5group{path: joinPath(lg.path, e.key), g: e.g}
		if vars, ok := lgp.group("vars"); ok {
			var idx []int
			for _, c := range vars.g.Children() {
				if ds, ok := c.(*hdf5.Dataset); ok && ds != nil {
					i, err := strconv.Atoi(ds.Name())
					if err != nil {
						return nil, fmt.Errorf("weights: %s: layer %s: variable %q is not numbered like Keras 3's vars/0, vars/1", h.path, e.key, ds.Name())
					}
					idx = append(idx, i)
				}
			}
			sort.Ints(idx)
			for k, i := range idx {
				if i != k {
					return nil, fmt.Errorf("weights: %s: layer %s: variables %v are not numbered 0..%d (truncated or edited file?)", h.path, e.key, idx, len(idx)-1)
				}
				ds, p, _ := vars.dataset(strconv.Itoa(i))
				t, err := h.readTensor(ds, p)
				if err != nil {
					return nil, fmt.Errorf("%w (layer %s)", err, e.key)
				}
				t.Name = "vars/" + strconv.Itoa(i)
				layer.Weights = append(layer.Weights, t)
			}
		}
		f.Layers = append(f.Layers, layer)
	}
	if len(f.Layers) == 0 {
		return nil, fmt.Errorf("weights: %s: the /layers group of this Keras 3 file is empty", h.path)
	}
	return f, nil
}
