package transfer

import (
	"fmt"
	"strings"
	"time"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/layers/activation"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/initializer"
	"github.com/gomlx/gomlx/ml/train"
	"github.com/gomlx/gomlx/ml/train/loss"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
	"github.com/vggnb/vggnb/weights"
)

// The post's layer surgery: VGG16 with its top (224x224), block1_conv1 and
// block1_conv2 replaced by one Conv2D(64, (5, 5), padding='same') without
// activation, named new_conv; every later layer keeps its pretrained weights
// and is frozen.
const (
	NewConv         = "new_conv"
	NewConvSize     = 5
	NewConvFilters  = 64
	SurgeryResumeAt = "block1_pool"
)

// Surgery is a VGG whose first layers are replaced by new_conv: the post's
//
//	vgg = VGG16(weights='imagenet', include_top=True)
//	x = Conv2D(64, (5, 5), padding='same', name='new_conv')(vgg.input)
//	for layer in vgg.layers[3:]: x = layer(x); layer.trainable = False
//
// The unmodified network (Base) shares the store, so both can run side by side.
type Surgery struct {
	// Base is the unmodified pretrained network.
	Base  *gomlx_vgg.Model
	store *model.Store
	execs executors
}

// NewPostSurgery builds the post's surgery on VGG16 (with its top) from the
// Keras file at path, new_conv initialised Glorot-uniform from seed (Distill
// trains it to stand in for block1).
func NewPostSurgery(path string, seed int64) (*Surgery, error) {
	store := model.NewStore()
	store.SetParam(model.ParamInitialSeed, seed) // 0: not reproducible
	base, err := gomlx_vgg.VGG16().IncludeTop(true).Weights(gomlx_vgg.WeightSource(path)).Scope(store.RootScope()).Done()
	if err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	if err := base.SetTrainable(false); err != nil {
		return nil, fmt.Errorf("transfer: %w", err)
	}
	s := &Surgery{Base: base, store: store}
	// new_conv's variables, created and initialised on a small input.
	if _, err := s.exec("new_conv", func(scope *model.Scope, x *Node) *Node { return s.newConv(scope, x) },
		tensors.FromShape(shapes.Make(dtypes.Float32, 1, 8, 8, 3))); err != nil {
		return nil, err
	}
	return s, nil
}

// Store holds the base's variables and new_conv's.
func (s *Surgery) Store() *model.Store { return s.store }

// newConv is new_conv on x: its output before any activation.
func (s *Surgery) newConv(scope *model.Scope, x *Node) *Node {
	sc := scope.In(NewConv)
	return conv2D(sc.WithInitializer(initializer.GlorotUniformFn(sc)), x, NewConvFilters, NewConvSize, true)
}

// Apply builds the modified network on a batch of preprocessed images:
// new_conv, then the base's layers from block1_pool to predictions.
func (s *Surgery) Apply(scope *model.Scope, x *Node) *Node {
	return s.Base.ApplyFrom(scope, s.newConv(scope, x), SurgeryResumeAt)
}

// Layers lists the modified network as Keras' model.layers does: input_1,
// new_conv, then the base's layers from block1_pool on.
func (s *Surgery) Layers() []gomlx_vgg.Layer {
	all := s.Base.Layers()
	out := []gomlx_vgg.Layer{all[0]}
	in := all[0].OutputShape
	params := NewConvSize*NewConvSize*in[3]*NewConvFilters + NewConvFilters
	out = append(out, gomlx_vgg.Layer{Name: NewConv, Class: weights.Conv2D, Params: params, Trainable: true,
		OutputShape: []int{in[0], in[1], in[2], NewConvFilters}})
	for i, l := range all {
		if l.Name == SurgeryResumeAt {
			return append(out, all[i:]...)
		}
	}
	return out
}

// CountParams is Keras' summary totals: all parameters and the trainable ones.
func (s *Surgery) CountParams() (total, trainable int) { return gomlx_vgg.CountParams(s.Layers()) }

// Title names the model.
func (s *Surgery) Title() string {
	return s.Base.Title() + " with block1_conv1, block1_conv2 → new_conv (5x5, same, no activation)"
}

// Predict runs the modified network (GoMLX graph) on a batch of preprocessed images.
func (s *Surgery) Predict(x *tensors.Tensor) (*tensors.Tensor, error) {
	return s.exec("predict", s.Apply, x)
}

// Outputs runs the modified network and returns the named layers' outputs
// ("new_conv" for new_conv's, before any activation; the base's layers from
// block1_pool on).
func (s *Surgery) Outputs(x *tensors.Tensor, names ...string) (map[string]*tensors.Tensor, error) {
	build := func() (*model.Exec, error) {
		return model.NewExec(s.Base.Backend(), s.store, func(scope *model.Scope, x *Node) []*Node {
			c := s.newConv(scope, x)
			var rest []string
			for _, n := range names {
				if n != NewConv {
					rest = append(rest, n)
				}
			}
			var later []*Node
			if len(rest) > 0 {
				later = s.Base.ApplyFromLayers(scope, c, SurgeryResumeAt, rest...)
			}
			outs := make([]*Node, 0, len(names))
			for _, n := range names {
				if n == NewConv {
					outs = append(outs, c)
				} else {
					outs, later = append(outs, later[0]), later[1:]
				}
			}
			return outs
		})
	}
	res, err := s.execs.run("outputs "+strings.Join(names, ","), build, x)
	if err != nil {
		return nil, err
	}
	out := map[string]*tensors.Tensor{}
	for i, n := range names {
		out[n] = res[i]
	}
	return out, nil
}

func (s *Surgery) exec(name string, fn func(*model.Scope, *Node) *Node, x *tensors.Tensor) (*tensors.Tensor, error) {
	outs, err := s.execs.run(name, func() (*model.Exec, error) { return model.NewExec(s.Base.Backend(), s.store, fn) }, x)
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// Distiller trains new_conv alone so that ReLU(new_conv(x)) matches the
// unmodified network's block1_conv2 output on the same images (mean squared
// error), with an optimizer of GoMLX's: new_conv then stands in for the two
// layers it replaced, and the frozen rest of the network sees what it was
// trained on.
type Distiller struct {
	s     *Surgery
	t     *train.Trainer
	steps int
}

// Distiller returns a trainer of new_conv (Adam is a good choice: the target's
// scale is the pretrained activations').
func (s *Surgery) Distiller(opt optimizer.Interface) *Distiller {
	fn := func(scope *model.Scope, _ any, inputs []*Node) []*Node {
		return []*Node{activation.Relu(s.newConv(scope, inputs[0]))}
	}
	return &Distiller{s: s, t: train.NewTrainer(s.Base.Backend(), s.store, fn, loss.MeanSquaredError, opt, nil, nil)}
}

// Step takes one distillation step on a batch of preprocessed images and
// returns the mean squared error before the step. The targets come from the
// unmodified network's block1_conv2 (native kernels where they apply).
func (d *Distiller) Step(x *tensors.Tensor) (float32, error) {
	target, err := d.s.Base.Outputs(x, "block1_conv2")
	if err != nil {
		return 0, fmt.Errorf("transfer: distillation targets: %w", err)
	}
	xc, err := x.LocalClone()
	if err != nil {
		return 0, fmt.Errorf("transfer: %w", err)
	}
	m, err := d.t.TrainStep(train.Batch{Inputs: []*tensors.Tensor{xc}, Labels: []*tensors.Tensor{target["block1_conv2"]}})
	if err != nil {
		return 0, fmt.Errorf("transfer: distillation step %d on %s: %w", d.steps, x.Shape(), err)
	}
	d.steps++
	return tensors.ToScalar[float32](m[0]), nil
}

// Closeness is how close the modified network gets to the unmodified one on a
// batch: max|modified − original| / max|original| at block1 (ReLU(new_conv)
// against block1_conv2), block1_pool (new_conv, no activation, pooled),
// block5_pool and predictions; and both networks' time for the batch through
// the GoMLX graph (compiled first, so the times are of runs).
type Closeness struct {
	Block1, Block1Pool, Block5Pool, Predictions float64
	Original, Modified                          time.Duration
}

// Compare measures Closeness on a batch of preprocessed 224x224 images.
func (s *Surgery) Compare(x *tensors.Tensor) (Closeness, error) {
	var c Closeness
	names := []string{"block1_conv2", "block1_pool", "block5_pool", weights.ClassifierLayerName}
	origRun := func() (map[string]*tensors.Tensor, error) { return s.Base.GraphOutputs(x, names...) }
	modRun := func() (map[string]*tensors.Tensor, error) {
		return s.Outputs(x, NewConv, "block1_pool", "block5_pool", weights.ClassifierLayerName)
	}
	orig, err := origRun()
	if err != nil {
		return c, err
	}
	mod, err := modRun()
	if err != nil {
		return c, err
	}
	t0 := time.Now()
	if _, err := origRun(); err != nil {
		return c, err
	}
	c.Original = time.Since(t0)
	t0 = time.Now()
	if _, err := modRun(); err != nil {
		return c, err
	}
	c.Modified = time.Since(t0)
	c.Block1 = relErr(mod[NewConv], orig["block1_conv2"], true)
	c.Block1Pool = relErr(mod["block1_pool"], orig["block1_pool"], false)
	c.Block5Pool = relErr(mod["block5_pool"], orig["block5_pool"], false)
	c.Predictions = relErr(mod[weights.ClassifierLayerName], orig[weights.ClassifierLayerName], false)
	return c, nil
}

// relErr is consistency.Compare's relative error of a against b, a through a
// ReLU first if relu.
func relErr(a, b *tensors.Tensor, relu bool) float64 {
	av := tensors.MustCopyFlatData[float32](a)
	if relu {
		for i, v := range av {
			av[i] = max(v, 0)
		}
	}
	_, rel := consistency.Compare(av, tensors.MustCopyFlatData[float32](b))
	return rel
}
