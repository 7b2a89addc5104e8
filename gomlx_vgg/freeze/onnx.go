package freeze

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strings"

	"github.com/gomlx/compute-onnx/support/protos"
	"github.com/gomlx/gomlx/core/tensors"
	"google.golang.org/protobuf/proto"

	"github.com/vggnb/vggnb/internal/atomicfile"
	"github.com/vggnb/vggnb/weights"
)

// The ONNX versions frozen files declare: opset 13 (Softmax over one axis,
// ReduceMean/ReduceMax with an axes attribute) and IR version 7 (ONNX 1.8),
// within what Debian 12's onnx 1.12 checks (opset <= 17, IR <= 8) and ONNX
// Runtime 1.17+ runs.
const (
	Opset     = 13
	IRVersion = 7
)

// Metadata keys a frozen file carries (ModelProto.metadata_props).
const (
	MetaTitle     = "vggnb.title"
	MetaLabels    = "vggnb.labels" // class names, one per line
	MetaChecksum  = "vggnb.weights_sha256"
	MetaLayout    = "vggnb.input" // what input_1 holds
	MetaProducer  = "vggnb"
	producerVer   = "0.16"
	imageInputDoc = "float32 NHWC (N, H, W, 3), preprocessed as keras.applications.vgg16.preprocess_input (caffe: BGR, ImageNet mean subtracted)"
)

// Model converts the net into an ONNX model (see the package doc for its form).
func (n *Net) Model() (*protos.ModelProto, error) {
	if err := n.check(); err != nil {
		return nil, err
	}
	g := &protos.GraphProto{Name: n.Name, DocString: n.Title}
	b := &builder{g: g, sum: sha256.New()}

	cur := InputName
	shapes, _ := n.shapes(n.Input)
	rank4 := len(n.Input) == 4
	if rank4 { // the one transpose in
		cur = b.node("Transpose", InputName+"/nchw", []string{cur}, intsAttr("perm", 0, 3, 1, 2))
	}
	nchw := rank4
	for i, l := range n.Layers {
		last := i == len(n.Layers)-1
		inside := l.Name + "/nchw" // a layer's result inside the NCHW part
		switch l.Class {
		case weights.Conv2D:
			k := l.Kernel.Shape().Dimensions
			pad := 0
			if l.Same {
				pad = (k[0] - 1) / 2
			}
			w, bias := b.init(l.Name+"/kernel", l.Kernel, []int{3, 2, 0, 1}), b.init(l.Name+"/bias", l.Bias, nil)
			conv := b.node("Conv", l.Name+"/conv", []string{cur, w, bias},
				intsAttr("kernel_shape", int64(k[0]), int64(k[1])), intsAttr("pads", int64(pad), int64(pad), int64(pad), int64(pad)),
				intsAttr("strides", 1, 1), intsAttr("dilations", 1, 1))
			cur = b.activation(l, conv, inside)
		case weights.MaxPooling2D:
			cur = b.node("MaxPool", inside, []string{cur}, intsAttr("kernel_shape", 2, 2), intsAttr("strides", 2, 2))
		case weights.Flatten:
			if nchw && !l.ChannelsFirst { // the one transpose out of the convolutions
				cur = b.node("Transpose", l.Name+"/nhwc", []string{cur}, intsAttr("perm", 0, 2, 3, 1))
			}
			cur = b.node("Flatten", l.Name, []string{cur}, intAttr("axis", 1))
			nchw = false
		case weights.Dense:
			w, bias := b.init(l.Name+"/kernel", l.Kernel, nil), b.init(l.Name+"/bias", l.Bias, nil)
			gemm := b.node("Gemm", l.Name+"/gemm", []string{cur, w, bias})
			cur = b.activation(l, gemm, l.Name)
		case weights.GlobalAveragePooling2D, weights.GlobalMaxPooling2D:
			op := map[weights.Class]string{weights.GlobalAveragePooling2D: "ReduceMean", weights.GlobalMaxPooling2D: "ReduceMax"}[l.Class]
			cur = b.node(op, l.Name, []string{cur}, intsAttr("axes", 2, 3), intAttr("keepdims", 0))
			nchw = false
		}
		if last && nchw { // the one transpose out
			cur = b.node("Transpose", l.Name, []string{cur}, intsAttr("perm", 0, 2, 3, 1))
			nchw = false
		}
	}
	g.Input = []*protos.ValueInfoProto{valueInfo(InputName, n.Input, "N", "H", "W")}
	g.Output = []*protos.ValueInfoProto{valueInfo(cur, shapes[len(shapes)-1], "N")}

	meta := map[string]string{MetaTitle: n.Title, MetaChecksum: hex.EncodeToString(b.sum.Sum(nil))}
	if len(n.Labels) > 0 {
		meta[MetaLabels] = strings.Join(n.Labels, "\n")
	}
	if rank4 {
		meta[MetaLayout] = imageInputDoc
	} else {
		meta[MetaLayout] = fmt.Sprintf("float32 (N, %d)", n.Input[1])
	}
	for k, v := range n.Meta {
		meta[k] = v
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	m := &protos.ModelProto{
		IrVersion:       IRVersion,
		OpsetImport:     []*protos.OperatorSetIdProto{{Domain: "", Version: Opset}},
		ProducerName:    MetaProducer,
		ProducerVersion: producerVer,
		DocString:       n.Title,
		Graph:           g,
	}
	for _, k := range keys {
		m.MetadataProps = append(m.MetadataProps, &protos.StringStringEntryProto{Key: k, Value: meta[k]})
	}
	return m, nil
}

// builder accumulates a graph's nodes and initializers.
type builder struct {
	g   *protos.GraphProto
	sum hash.Hash // of the initializers' raw data, in order
}

// node appends a node named and with output out, and returns out.
func (b *builder) node(op, out string, inputs []string, attrs ...*protos.AttributeProto) string {
	b.g.Node = append(b.g.Node, &protos.NodeProto{Name: out, OpType: op, Input: inputs, Output: []string{out}, Attribute: attrs})
	return out
}

// activation appends l's activation on x, its result named out.
func (b *builder) activation(l Layer, x, out string) string {
	switch l.Activation {
	case ActivationRelu:
		return b.node("Relu", out, []string{x})
	case ActivationSoftmax:
		return b.node("Softmax", out, []string{x}, intAttr("axis", 1))
	}
	return b.node("Identity", out, []string{x})
}

// init adds t (float32), its axes permuted by perm if not nil, as the
// initializer name, hashed into the weights checksum.
func (b *builder) init(name string, t *tensors.Tensor, perm []int) string {
	dims := t.Shape().Dimensions
	var data []float32
	tensors.MustConstFlatData(t, func(v []float32) { data = v })
	if perm != nil {
		data, dims = permute(data, dims, perm)
	}
	raw := weights.Float32sToLE(data)
	b.sum.Write(raw)
	tp := &protos.TensorProto{Name: name, DataType: int32(protos.TensorProto_FLOAT), RawData: raw}
	for _, d := range dims {
		tp.Dims = append(tp.Dims, int64(d))
	}
	b.g.Initializer = append(b.g.Initializer, tp)
	return name
}

// permute transposes a row-major array of dims so that output axis i is input
// axis perm[i].
func permute(data []float32, dims, perm []int) ([]float32, []int) {
	out := make([]float32, len(data))
	odims := make([]int, len(dims))
	for i, p := range perm {
		odims[i] = dims[p]
	}
	istride := make([]int, len(dims))
	s := 1
	for i := len(dims) - 1; i >= 0; i-- {
		istride[i] = s
		s *= dims[i]
	}
	idx := make([]int, len(dims)) // output index
	for o := range out {
		src := 0
		for i, p := range perm {
			src += idx[i] * istride[p]
		}
		out[o] = data[src]
		for i := len(idx) - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < odims[i] {
				break
			}
			idx[i] = 0
		}
	}
	return out, odims
}

func intsAttr(name string, v ...int64) *protos.AttributeProto {
	return &protos.AttributeProto{Name: name, Type: protos.AttributeProto_INTS, Ints: v}
}

func intAttr(name string, v int64) *protos.AttributeProto {
	return &protos.AttributeProto{Name: name, Type: protos.AttributeProto_INT, I: v}
}

// valueInfo is a float32 tensor's ValueInfo; dims of -1 become the symbolic
// names params in order (an unnamed dimension when they run out).
func valueInfo(name string, dims []int, params ...string) *protos.ValueInfoProto {
	shape := &protos.TensorShapeProto{}
	p := 0
	for _, d := range dims {
		dim := &protos.TensorShapeProto_Dimension{}
		switch {
		case d >= 0:
			dim.Value = &protos.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		case p < len(params):
			dim.Value = &protos.TensorShapeProto_Dimension_DimParam{DimParam: params[p]}
			p++
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &protos.ValueInfoProto{Name: name, Type: &protos.TypeProto{Value: &protos.TypeProto_TensorType{
		TensorType: &protos.TypeProto_Tensor{ElemType: int32(protos.TensorProto_FLOAT), Shape: shape}}}}
}

// WriteFile freezes the net into the ONNX file at path. The file appears whole
// or not at all: it is written next to path and renamed.
func (n *Net) WriteFile(path string) error {
	m, err := n.Model()
	if err != nil {
		return err
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("freeze: %s: encoding: %w", path, err)
	}
	if err := atomicfile.WriteFile(path, data); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	return nil
}
