package oip

import (
	"encoding/json"
	"strconv"
	"testing"
)

func TestNest(t *testing.T) {
	for _, c := range []struct {
		shape []int
		want  string
	}{
		{[]int{6}, `[1,2,3,4,5,6]`},
		{[]int{2, 3}, `[[1,2,3],[4,5,6]]`},
		{[]int{1, 3, 2}, `[[[1,2],[3,4],[5,6]]]`},
	} {
		b, _ := json.Marshal(nest([]float32{1, 2, 3, 4, 5, 6}, c.shape))
		if string(b) != c.want {
			t.Errorf("nest(%v) = %s, want %s", c.shape, b, c.want)
		}
	}
}

func TestDecodeResponse(t *testing.T) {
	head := `{"model_name":"m","outputs":[{"name":"y","datatype":"FP32","shape":[2],"parameters":{"binary_data_size":8}}]}`
	bin := string([]byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40}) // 1.0, 2.0
	for _, c := range []struct {
		name, header, body string
		ok                 bool
	}{
		{"binary", strconv.Itoa(len(head)), head + bin, true},
		{"binary, short", strconv.Itoa(len(head)), head + bin[:4], false},
		{"json", "", `{"outputs":[{"name":"y","datatype":"FP32","shape":[2],"data":[1,2]}]}`, true},
		{"json, wrong count", "", `{"outputs":[{"name":"y","datatype":"FP32","shape":[3],"data":[1,2]}]}`, false},
		{"not FP32", "", `{"outputs":[{"name":"y","datatype":"INT64","shape":[2],"data":[1,2]}]}`, false},
		{"header past the body", "999", head, false},
	} {
		got, err := decodeResponse(c.header, []byte(c.body))
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok %v", c.name, err, c.ok)
			continue
		}
		if c.ok && (got.Name != "y" || len(got.Data) != 2 || got.Data[0] != 1 || got.Data[1] != 2) {
			t.Errorf("%s: %+v, want y [1 2]", c.name, got)
		}
	}
}
