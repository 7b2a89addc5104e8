package weights

import (
	"fmt"
	"slices"
)

// DataFormat is Keras' image_data_format: where the channels axis sits.
type DataFormat int

// The data formats; the zero value is channels_last, Keras' default.
const (
	// ChannelsLast is NHWC images, HWIO kernels, (H, W, C) flatten order (TensorFlow).
	ChannelsLast DataFormat = iota
	// ChannelsFirst is NCHW images and (C, H, W) flatten order (Theano, Keras 2 channels_first).
	ChannelsFirst
	// ChannelsAuto asks LoadVGG to detect the source layout from kernel shapes.
	ChannelsAuto
)

// String returns Keras' spelling: channels_last, channels_first.
func (d DataFormat) String() string {
	switch d {
	case ChannelsLast:
		return "channels_last"
	case ChannelsFirst:
		return "channels_first"
	case ChannelsAuto:
		return "auto"
	}
	return fmt.Sprintf("DataFormat(%d)", int(d))
}

// ParseDataFormat reads "channels_last" / "channels_first" (also "tf"/"th", "nhwc"/"nchw").
func ParseDataFormat(s string) (DataFormat, error) {
	switch s {
	case "channels_last", "tf", "nhwc", "NHWC":
		return ChannelsLast, nil
	case "channels_first", "th", "nchw", "NCHW":
		return ChannelsFirst, nil
	case "", "auto":
		return ChannelsAuto, nil
	}
	return 0, fmt.Errorf("weights: unknown data format %q: want channels_last or channels_first", s)
}

// KernelToHWIO converts a Theano convolution kernel (O, I, H, W), stored flipped
// because Theano convolves, into the TensorFlow/GoMLX cross-correlation kernel
// (H, W, I, O). It is what Keras does with transpose(2, 3, 1, 0) and convert_kernel.
func KernelToHWIO(t Tensor) Tensor {
	o, i, h, w := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	out := make([]float32, len(t.Data))
	for oo := 0; oo < o; oo++ {
		for ii := 0; ii < i; ii++ {
			for hh := 0; hh < h; hh++ {
				for ww := 0; ww < w; ww++ {
					src := ((oo*i+ii)*h+hh)*w + ww
					dst := (((h-1-hh)*w+(w-1-ww))*i+ii)*o + oo
					out[dst] = t.Data[src]
				}
			}
		}
	}
	return Tensor{Name: t.Name, Shape: []int{h, w, i, o}, Data: out}
}

// KernelToOIHW is the inverse of KernelToHWIO: (H, W, I, O) to a flipped (O, I, H, W).
func KernelToOIHW(t Tensor) Tensor {
	h, w, i, o := t.Shape[0], t.Shape[1], t.Shape[2], t.Shape[3]
	out := make([]float32, len(t.Data))
	for hh := 0; hh < h; hh++ {
		for ww := 0; ww < w; ww++ {
			for ii := 0; ii < i; ii++ {
				for oo := 0; oo < o; oo++ {
					src := ((hh*w+ww)*i+ii)*o + oo
					dst := ((oo*i+ii)*h+(h-1-hh))*w + (w - 1 - ww)
					out[dst] = t.Data[src]
				}
			}
		}
	}
	return Tensor{Name: t.Name, Shape: []int{o, i, h, w}, Data: out}
}

// reorderFlatten reorders fc1's rows between flatten orders, for VGG's 7x7x512.
func reorderFlatten(t Tensor, from, to DataFormat) Tensor {
	h, w, c := FlattenShape[0], FlattenShape[1], FlattenShape[2]
	return DenseRowsReorder(t, h, w, c, from, to)
}

// DenseRowsReorder reorders the rows of the kernel (rows, units) of a Dense layer
// that follows a Flatten of an (h, w, c) feature map, between the (c, h, w) order of
// channels_first and the (h, w, c) order of channels_last. It is Keras'
// convert_dense_weights_data_format. from == to returns t unchanged.
func DenseRowsReorder(t Tensor, h, w, c int, from, to DataFormat) Tensor {
	if from == to {
		return t
	}
	units := t.Shape[1]
	out := make([]float32, len(t.Data))
	for ch := 0; ch < c; ch++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				cf := (ch*h+y)*w + x // row index in channels_first order
				cl := (y*w+x)*c + ch // row index in channels_last order
				src, dst := cf, cl
				if from == ChannelsLast {
					src, dst = cl, cf
				}
				copy(out[dst*units:(dst+1)*units], t.Data[src*units:(src+1)*units])
			}
		}
	}
	return Tensor{Name: t.Name, Shape: slices.Clone(t.Shape), Data: out}
}

// ToTheano converts weights returned by LoadVGG (channels_last) into the layout of
// the *_th_dim_ordering_th_kernels files: flipped OIHW kernels and fc1 rows in
// (C, H, W) order. Layer and weight names are kept.
func ToTheano(f *File) *File {
	out := &File{Path: f.Path, Format: f.Format, KerasVersion: f.KerasVersion, Backend: "theano"}
	for _, l := range f.Layers {
		nl := Layer{Name: l.Name, Class: l.Class}
		for i, t := range l.Weights {
			switch {
			case l.Class == Conv2D && i == 0:
				t = KernelToOIHW(t)
			case l.Name == "fc1" && i == 0:
				t = reorderFlatten(t, ChannelsLast, ChannelsFirst)
			}
			nl.Weights = append(nl.Weights, t)
		}
		out.Layers = append(out.Layers, nl)
	}
	return out
}
