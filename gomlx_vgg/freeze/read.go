package freeze

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/vggnb/vggnb/internal/errkind"
	"google.golang.org/protobuf/proto"
)

// TensorInfo names a graph input or output and its shape (-1: dynamic).
type TensorInfo struct {
	Name string
	Dims []int
	// Params names the dynamic dimensions ("N", "H", "W"; "?" if unnamed).
	Params []string
}

// String is "input_1 float32 (N, H, W, 3)".
func (t TensorInfo) String() string {
	parts := make([]string, len(t.Dims))
	for i, d := range t.Dims {
		parts[i] = fmt.Sprint(d)
		if d < 0 {
			parts[i] = t.Params[i]
		}
	}
	return fmt.Sprintf("%s float32 (%s)", t.Name, strings.Join(parts, ", "))
}

// File is a frozen ONNX file read back.
type File struct {
	// Path is where it was read from.
	Path string
	// Model is the parsed ONNX model.
	Model *protos.ModelProto
	// Input and Output are the graph's input (input_1) and output.
	Input, Output TensorInfo
	// Labels are the class names of a classifier (vggnb.labels), else nil.
	Labels []string
	// Meta is the model's metadata_props.
	Meta map[string]string
	// Checksum is the SHA-256 of the initializers' data, in order, computed on
	// reading (and checked against vggnb.weights_sha256 when present).
	Checksum string
	// Params is the number of weights; Size the file's size in bytes.
	Params int
	Size   int64
}

// ErrBadFile is matched by Open's errors for a file that is not an ONNX
// model, or not one this package reads (its message names the file and why).
var ErrBadFile = errors.New("freeze: not an ONNX file vggnb reads")

// Open reads the frozen ONNX file at path: any ONNX file with one float32 input
// and one output; Runner runs the ops that Net.WriteFile writes.
func Open(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("freeze: %w", err)
	}
	m := &protos.ModelProto{}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, errkind.With(ErrBadFile, fmt.Errorf("freeze: %s is not an ONNX model: %w", path, err))
	}
	f, err := FromModel(m)
	if err != nil {
		return nil, errkind.With(ErrBadFile, fmt.Errorf("freeze: %s: %w", path, err))
	}
	f.Path, f.Size = path, int64(len(data))
	return f, nil
}

// FromModel describes an ONNX model as Open does (Path and Size left empty).
func FromModel(m *protos.ModelProto) (*File, error) {
	g := m.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("no graph")
	}
	f := &File{Model: m, Meta: map[string]string{}}
	for _, p := range m.GetMetadataProps() {
		f.Meta[p.Key] = p.Value
	}
	if l := f.Meta[MetaLabels]; l != "" {
		f.Labels = strings.Split(l, "\n")
	}
	inits := map[string]bool{}
	sum := sha256.New()
	for _, t := range g.Initializer {
		inits[t.Name] = true
		if t.DataType != int32(protos.TensorProto_FLOAT) {
			return nil, fmt.Errorf("initializer %s has data type %d, not float32", t.Name, t.DataType)
		}
		n := 1
		for _, d := range t.Dims {
			if d <= 0 || d > 1<<31 || int64(n)*d > 1<<40 {
				return nil, fmt.Errorf("initializer %s has dims %v: each must be positive, and the whole under 2^40 values", t.Name, t.Dims)
			}
			n *= int(d)
		}
		if len(t.RawData) == 0 && n > 0 {
			return nil, fmt.Errorf("initializer %s keeps its values outside raw_data (float_data or external): only raw_data is read", t.Name)
		}
		if len(t.RawData) != 4*n {
			return nil, fmt.Errorf("initializer %s has dims %v but %d bytes of data", t.Name, t.Dims, len(t.RawData))
		}
		sum.Write(t.RawData)
		f.Params += n
	}
	f.Checksum = hex.EncodeToString(sum.Sum(nil))
	if want := f.Meta[MetaChecksum]; want != "" && want != f.Checksum {
		return nil, fmt.Errorf("the weights' SHA-256 is %s, the file says %s: the file is damaged", f.Checksum, want)
	}
	var ins []*protos.ValueInfoProto
	for _, in := range g.Input {
		if !inits[in.Name] {
			ins = append(ins, in)
		}
	}
	if len(ins) != 1 || len(g.Output) != 1 {
		return nil, fmt.Errorf("%d inputs and %d outputs: frozen models have one of each", len(ins), len(g.Output))
	}
	var err error
	if f.Input, err = tensorInfo(ins[0]); err != nil {
		return nil, err
	}
	if f.Output, err = tensorInfo(g.Output[0]); err != nil {
		return nil, err
	}
	return f, nil
}

func tensorInfo(v *protos.ValueInfoProto) (TensorInfo, error) {
	tt := v.GetType().GetTensorType()
	if tt == nil || tt.ElemType != int32(protos.TensorProto_FLOAT) {
		return TensorInfo{}, fmt.Errorf("%s is not a float32 tensor", v.Name)
	}
	t := TensorInfo{Name: v.Name}
	for _, d := range tt.GetShape().GetDim() {
		switch {
		case d.GetDimParam() != "":
			t.Dims, t.Params = append(t.Dims, -1), append(t.Params, d.GetDimParam())
		case d.GetDimValue() > 0:
			t.Dims, t.Params = append(t.Dims, int(d.GetDimValue())), append(t.Params, "")
		default:
			t.Dims, t.Params = append(t.Dims, -1), append(t.Params, "?")
		}
	}
	return t, nil
}

// Title is the model's description (vggnb.title, else its doc string or graph name).
func (f *File) Title() string {
	if t := f.Meta[MetaTitle]; t != "" {
		return t
	}
	if f.Model.DocString != "" {
		return f.Model.DocString
	}
	return f.Model.GetGraph().GetName()
}

// Synthetic reports whether the weights are vggnb's synthetic ones.
func (f *File) Synthetic() bool { return f.Meta["vggnb.synthetic"] == "true" }

// Summary lists the file as `vggnb freeze --list` prints it: the model, its
// input and output nodes, and every node with its op, inputs and attributes.
func (f *File) Summary() string {
	var b strings.Builder
	g := f.Model.GetGraph()
	fmt.Fprintf(&b, "%s: %s\n", f.Path, f.Title())
	if f.Synthetic() {
		fmt.Fprintf(&b, "  %s\n", f.Meta["vggnb.notice"])
	}
	var opsets []string
	for _, o := range f.Model.OpsetImport {
		opsets = append(opsets, fmt.Sprintf("%s%d", map[bool]string{true: "ai.onnx:", false: o.Domain + ":"}[o.Domain == ""], o.Version))
	}
	fmt.Fprintf(&b, "  ONNX IR %d, opset %s, producer %s %s; %d nodes, %d weights (%s), %d bytes\n",
		f.Model.IrVersion, strings.Join(opsets, ","), f.Model.ProducerName, f.Model.ProducerVersion,
		len(g.Node), f.Params, shortHash(f.Checksum), f.Size)
	fmt.Fprintf(&b, "  input:  %s\n  output: %s\n", f.Input, f.Output)
	if len(f.Labels) > 0 {
		fmt.Fprintf(&b, "  classes: %d (%s, ...)\n", len(f.Labels), strings.Join(f.Labels[:min(3, len(f.Labels))], ", "))
	}
	w := 4
	for _, n := range g.Node {
		w = max(w, len(n.Name))
	}
	fmt.Fprintf(&b, "  %-*s  %-10s  %s\n", w, "node", "op", "inputs")
	for _, n := range g.Node {
		attrs := ""
		for _, a := range n.Attribute {
			switch a.Type {
			case protos.AttributeProto_INTS:
				attrs += fmt.Sprintf(" %s=%v", a.Name, a.Ints)
			case protos.AttributeProto_INT:
				attrs += fmt.Sprintf(" %s=%d", a.Name, a.I)
			}
		}
		fmt.Fprintf(&b, "  %-*s  %-10s  %s%s\n", w, n.Name, n.OpType, strings.Join(n.Input, ", "), attrs)
	}
	return b.String()
}

func shortHash(h string) string {
	if len(h) > 12 {
		return "sha256 " + h[:12]
	}
	return h
}

// File is the net frozen in memory and described as Open describes a file, its
// Path "NAME (in memory)": what `vggnb serve --model` runs without writing one.
func (n *Net) File() (*File, error) {
	m, err := n.Model()
	if err != nil {
		return nil, err
	}
	f, err := FromModel(m)
	if err != nil {
		return nil, fmt.Errorf("freeze: %s: %w", n.Name, err)
	}
	f.Path = n.Name + " (in memory)"
	return f, nil
}
