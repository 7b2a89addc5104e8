package weights

import (
	"errors"
	"slices"
	"testing"
)

func TestOutputDims(t *testing.T) {
	for _, c := range []struct {
		name   string
		class  Class
		kernel []int
		valid  bool
		in     []int
		want   []int // nil: an error
	}{
		{"conv same", Conv2D, []int{3, 3, 3, 64}, false, []int{-1, 224, 224, 3}, []int{-1, 224, 224, 64}},
		{"conv valid", Conv2D, []int{3, 3, 512, 64}, true, []int{8, 7, 7, 512}, []int{8, 5, 5, 64}},
		{"conv valid, unknown size", Conv2D, []int{5, 3, 3, 8}, true, []int{-1, -1, 10, 3}, []int{-1, -1, 8, 8}},
		{"conv other channels", Conv2D, []int{3, 3, 4, 64}, false, []int{1, 32, 32, 3}, nil},
		{"conv valid leaves nothing", Conv2D, []int{3, 3, 3, 8}, true, []int{1, 2, 2, 3}, nil},
		{"pool", MaxPooling2D, nil, false, []int{-1, 7, 9, 512}, []int{-1, 3, 4, 512}},
		{"pool to nothing", MaxPooling2D, nil, false, []int{1, 1, 9, 512}, nil},
		{"pool of a vector", MaxPooling2D, nil, false, []int{1, 512}, nil},
		{"flatten", Flatten, nil, false, []int{-1, 7, 7, 512}, []int{-1, 25088}},
		{"flatten of an unknown size", Flatten, nil, false, []int{-1, -1, 7, 512}, nil},
		{"dense", Dense, []int{25088, 4096}, false, []int{-1, 25088}, []int{-1, 4096}},
		{"dense, wrong inputs", Dense, []int{4096, 1000}, false, []int{-1, 25088}, nil},
		{"global average", GlobalAveragePooling2D, nil, false, []int{-1, 7, 7, 512}, []int{-1, 512}},
		{"global max", GlobalMaxPooling2D, nil, false, []int{2, -1, -1, 512}, []int{2, 512}},
		{"dropout", Dropout, nil, false, []int{-1, 128}, []int{-1, 128}},
		{"unknown class", Class("LSTM"), nil, false, []int{-1, 128}, nil},
	} {
		got, err := OutputDims(c.class, c.kernel, c.valid, c.in)
		switch {
		case c.want == nil && !errors.Is(err, ErrLayerInput):
			t.Errorf("%s: OutputDims = %v, %v; want ErrLayerInput", c.name, got, err)
		case c.want != nil && (err != nil || !slices.Equal(got, c.want)):
			t.Errorf("%s: OutputDims = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
