package imagenet

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

// The embedded class list, written back in Keras' JSON form, must be Keras'
// imagenet_class_index.json byte for byte (Keras pins its MD5).
func TestImageNetClassIndexIsKeras(t *testing.T) {
	cls := ImageNetClasses()
	if len(cls) != 1000 {
		t.Fatalf("%d classes", len(cls))
	}
	parts := make([]string, len(cls))
	for i, c := range cls {
		parts[i] = fmt.Sprintf("%q: [%q, %q]", fmt.Sprint(i), c.WNID, c.Name)
	}
	sum := md5.Sum([]byte("{" + strings.Join(parts, ", ") + "}"))
	if got := hex.EncodeToString(sum[:]); got != "c2c37ea517e94d9795004a39431a14cb" {
		t.Errorf("class index MD5 %s, Keras' is c2c37ea517e94d9795004a39431a14cb", got)
	}
}

func TestDecodePredictions(t *testing.T) {
	p := make([]float32, 2000)
	p[281], p[285], p[282] = 0.7, 0.2, 0.05 // image 0: tabby, Egyptian_cat, tiger_cat
	p[1000+1] = 0.9                         // image 1: goldfish
	got, err := DecodePredictions(tensors.FromFlatDataAndDimensions(p, 2, 1000), 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(got[0]) != 3 {
		t.Fatalf("shape %d x %d", len(got), len(got[0]))
	}
	want := []string{"('n02123045', 'tabby', 0.7)", "('n02124075', 'Egyptian_cat', 0.2)", "('n02123159', 'tiger_cat', 0.05)"}
	for i, w := range want {
		if s := got[0][i].String(); s != w {
			t.Errorf("top %d: %s, want %s", i, s, w)
		}
	}
	if got[1][0].Name != "goldfish" || got[1][0].Index != 1 {
		t.Errorf("image 1: %v", got[1][0])
	}
	if _, err := DecodePredictions(tensors.FromFlatDataAndDimensions(make([]float32, 10), 1, 10), 5); err == nil {
		t.Error("(1, 10) predictions accepted")
	}
}
