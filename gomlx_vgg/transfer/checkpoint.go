package transfer

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
)

// initHead creates the head's variables (with their initial values) by running
// it once on zeros, so that Freeze and checkpoints see them from the start.
func (s *Stacked) initHead() error {
	f := s.FeatureShape()
	zeros := tensors.FromShape(shapes.Make(dtypes.Float32, append([]int{1}, f...)...))
	_, err := s.PredictFeatures(zeros)
	return err
}

// Save writes a GoMLX checkpoint of the model to dir: the head's variables, the
// base's layers up to the cut (frozen or fine-tuned), the optimizers' state and
// the freeze setting (Frozen). The layers past the cut, which the model never
// uses, are left out. Each Save adds a checkpoint; the last 2 are kept.
func (s *Stacked) Save(dir string) error {
	used := map[string]bool{}
	for _, l := range s.Layers() {
		used[l.Name] = true
	}
	var unused []*model.Variable
	for v := range s.store.IterVariables() {
		layer := layerOf(v.Path())
		if strings.HasPrefix(layer, "block") && !used[layer] {
			unused = append(unused, v)
		}
	}
	h, err := checkpoint.Build(s.store).Dir(dir).Keep(2).ExcludeVars(unused...).Done()
	if err != nil {
		return fmt.Errorf("transfer: checkpoint %s: %w", dir, err)
	}
	if err := h.Save(); err != nil {
		return fmt.Errorf("transfer: saving checkpoint to %s: %w", dir, err)
	}
	return nil
}

// Load reads the last checkpoint in dir (written by Save) into the model: the
// trained head, fine-tuned base layers and optimizer state replace the current
// values, and the saved freeze setting is applied again, so loaded pretrained
// variables stay frozen.
func (s *Stacked) Load(dir string) error {
	// Not Immediate(): GoMLX v0.28.8's immediate load leaves variables that
	// already exist (the head, the base) at their old values. The default load
	// overwrites those and hands the optimizer's state to its variables when a
	// trainer creates them.
	if _, err := checkpoint.Load(s.store).Dir(dir).Done(); err != nil {
		return fmt.Errorf("transfer: loading checkpoint %s: %w", dir, err)
	}
	return s.Freeze(s.Frozen())
}
