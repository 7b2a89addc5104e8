package imagenet

import (
	_ "embed" // the ImageNet class index
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/core/tensors"
)

// imagenetClasses is Keras' imagenet_class_index.json (1000 "wnid name" lines, in
// class order). Written back as JSON it has Keras' pinned MD5
// c2c37ea517e94d9795004a39431a14cb (checked by a test).
//
//go:embed imagenet_classes.txt
var imagenetClasses string

// ImageNetClass is one of the 1000 ImageNet classes as Keras names them.
type ImageNetClass struct {
	// WNID is the WordNet id, e.g. n02123045.
	WNID string
	// Name is Keras' class name, e.g. tabby.
	Name string
}

var classes = sync.OnceValue(func() []ImageNetClass {
	var out []ImageNetClass
	for _, line := range strings.Split(strings.TrimSpace(imagenetClasses), "\n") {
		wnid, name, _ := strings.Cut(line, " ")
		out = append(out, ImageNetClass{WNID: wnid, Name: name})
	}
	return out
})

// ImageNetClasses returns the 1000 classes in the order of VGG's predictions.
func ImageNetClasses() []ImageNetClass { return slices.Clone(classes()) }

// Prediction is one entry of DecodePredictions: Keras' (class_name, class_description, score).
type Prediction struct {
	Index int
	ImageNetClass
	Score float32
}

// String formats a prediction as Keras prints its tuple.
func (p Prediction) String() string {
	return fmt.Sprintf("('%s', '%s', %.6g)", p.WNID, p.Name, p.Score)
}

// TopIndices returns the indices of the k largest scores (all of them if k is
// larger), largest first; ties keep their order.
func TopIndices(scores []float32, k int) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int {
		switch {
		case scores[i] > scores[j]:
			return -1
		case scores[i] < scores[j]:
			return 1
		}
		return 0
	})
	return idx[:min(k, len(idx))]
}

// DecodePredictions returns the top classes of each image of a (batch, 1000)
// predictions tensor, highest score first (Keras decode_predictions(preds, top)).
func DecodePredictions(preds *tensors.Tensor, top int) ([][]Prediction, error) {
	dims := preds.Shape().Dimensions
	if len(dims) != 2 || dims[1] != 1000 {
		return nil, fmt.Errorf("gomlx_vgg: decode_predictions expects a batch of predictions of shape (samples, 1000), got %v", dims)
	}
	if top <= 0 || top > 1000 {
		return nil, fmt.Errorf("gomlx_vgg: decode_predictions: top must be in 1..1000, got %d", top)
	}
	cls := classes()
	var out [][]Prediction
	tensors.ConstFlatData(preds, func(v []float32) {
		for b := range dims[0] {
			row := v[b*1000 : (b+1)*1000]
			var ps []Prediction
			for _, i := range TopIndices(row, top) {
				ps = append(ps, Prediction{Index: i, ImageNetClass: cls[i], Score: row[i]})
			}
			out = append(out, ps)
		}
	})
	return out, nil
}
