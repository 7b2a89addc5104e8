package transfer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/vggnb/vggnb/internal/atomicfile"
	"github.com/vggnb/vggnb/internal/errkind"
	"github.com/vggnb/vggnb/weights"
)

// initHead creates the head's variables (with their initial values) by running
// it once on zeros, so that Freeze and checkpoints see them from the start.
func (s *Stacked) initHead() error {
	f := s.FeatureShape()
	zeros := tensors.FromShape(shapes.Make(dtypes.Float32, append([]int{1}, f...)...))
	_, err := s.PredictFeatures(zeros)
	return err
}

// ErrNoCheckpoint is wrapped by CheckCheckpoint and Load where a directory
// holds no checkpoint.
var ErrNoCheckpoint = errors.New("no checkpoint")

// ErrBadCheckpoint is matched by CheckCheckpoint's errors for a checkpoint
// that cannot be read (damaged, cut short) or is of another model.
var ErrBadCheckpoint = errors.New("transfer: bad checkpoint")

// KeepCheckpoints is how many checkpoints Save leaves in a directory: the
// newest, and the one before it.
const KeepCheckpoints = 2

// saveFault, when set (by tests), is called once the new checkpoint's files
// are written under their temporary names: an error from it stands for an
// interrupt or a full disk at the worst moment.
var saveFault func() error

// checkpointName matches GoMLX checkpoint files: their number, and the rest.
var checkpointName = regexp.MustCompile(`^checkpoint-n(\d+)-(.*)\.(json|bin)$`)

// Save writes a new GoMLX checkpoint of the model into dir (created if
// missing): the head's variables, the base's layers up to the cut (frozen or
// fine-tuned), the optimizers' state and the freeze setting (Frozen), as they
// are in the model now. The layers past the cut, which the model never uses,
// are left out. Nothing is read from dir: a checkpoint already there stays
// beside the new one (the newest KeepCheckpoints are kept), never mixed into
// it.
//
// The files are written under a temporary directory inside dir, then synced
// and renamed into place (internal/atomicfile), the metadata (.json, which
// makes a checkpoint visible) last: an interrupt, a crash or a full disk leaves the previous
// checkpoint as it was and nothing under the new checkpoint's names.
func (s *Stacked) Save(dir string) (err error) {
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
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("transfer: checkpoint directory: %w", err)
	}
	tmp, err := os.MkdirTemp(dir, ".saving-")
	if err != nil {
		return fmt.Errorf("transfer: checkpoint directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	// A handler on the empty temporary directory loads nothing into the
	// model. It replaces the store's loader while attached: the previous one
	// (a Load's, with values for variables not created yet) is put back.
	prev := s.store.Loader()
	defer s.store.SetLoader(prev)
	h, err := checkpoint.Build(s.store).Dir(tmp).Keep(-1).ExcludeVars(unused...).Done()
	if err != nil {
		return fmt.Errorf("transfer: checkpoint %s: %w", dir, err)
	}
	if err := h.Save(); err != nil {
		return fmt.Errorf("transfer: saving checkpoint to %s: %w", dir, err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("transfer: saving checkpoint to %s: %w", dir, err)
	}
	var files []string // the .bin, then the .json
	for _, e := range entries {
		files = append(files, e.Name())
	}
	slices.Sort(files)
	if len(files) != 2 || checkpointName.FindStringSubmatch(files[0]) == nil || !strings.HasSuffix(files[1], ".json") {
		return fmt.Errorf("transfer: saving checkpoint to %s: GoMLX wrote %q, want a .bin and a .json", dir, files)
	}
	if saveFault != nil {
		if err := saveFault(); err != nil {
			return fmt.Errorf("transfer: saving checkpoint to %s: %w", dir, err)
		}
	}
	next, err := nextCheckpointNumber(dir)
	if err != nil {
		return err
	}
	rest := checkpointName.FindStringSubmatch(files[0])[2]
	for _, f := range files { // each synced, moved into place, the directory synced
		final := fmt.Sprintf("checkpoint-n%07d-%s%s", next, rest, filepath.Ext(f))
		if err := atomicfile.Rename(filepath.Join(tmp, f), filepath.Join(dir, final)); err != nil {
			return fmt.Errorf("transfer: saving checkpoint to %s: %w", dir, err)
		}
	}
	return pruneCheckpoints(dir, KeepCheckpoints)
}

// checkpoints lists the checkpoints in dir (the paths of their .json files),
// oldest first.
func checkpoints(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("transfer: checkpoint directory: %w", err)
	}
	var list []string
	for _, e := range entries {
		if m := checkpointName.FindStringSubmatch(e.Name()); m != nil && m[3] == "json" && !e.IsDir() {
			list = append(list, filepath.Join(dir, e.Name()))
		}
	}
	slices.Sort(list)
	return list, nil
}

// nextCheckpointNumber is one more than the largest checkpoint number in dir
// (a .bin left without its .json by an interrupted rename counts too).
func nextCheckpointNumber(dir string) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("transfer: checkpoint directory: %w", err)
	}
	next := 0
	for _, e := range entries {
		if m := checkpointName.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			next = max(next, n+1)
		}
	}
	return next, nil
}

// pruneCheckpoints removes all but the newest keep checkpoints in dir, each
// one's .json (which makes it visible) first.
func pruneCheckpoints(dir string, keep int) error {
	list, err := checkpoints(dir)
	if err != nil {
		return err
	}
	for _, j := range list[:max(0, len(list)-keep)] {
		for _, f := range []string{j, strings.TrimSuffix(j, ".json") + ".bin"} {
			if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("transfer: removing an old checkpoint: %w", err)
			}
		}
	}
	return nil
}

// CheckCheckpoint reads dir's newest checkpoint whole, without changing the
// model, and reports whether the model can load it: its files decode (a
// truncated or damaged file is an error naming it), and it holds the head's
// variables, each with the model's shape (a checkpoint of another model is an
// error). A directory without checkpoints is an error wrapping
// ErrNoCheckpoint. Load calls it first; call it before training into a
// directory, to fail before the work rather than after.
func (s *Stacked) CheckCheckpoint(dir string) error {
	list, err := checkpoints(dir)
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("transfer: %s: %w", dir, ErrNoCheckpoint)
	}
	latest := list[len(list)-1]
	scratch := model.NewStore()
	h, err := checkpoint.Load(scratch).Dir(dir).Done()
	if err != nil {
		return errkind.With(ErrBadCheckpoint, fmt.Errorf("transfer: checkpoint %s (and its .bin) cannot be read: %w", latest, err))
	}
	headLayers := map[string]bool{}
	for _, l := range s.Layers() {
		headLayers[l.Name] = !strings.HasPrefix(l.Name, "block") && l.Name != weights.InputLayerName
	}
	head := 0
	for v := range s.store.IterVariables() {
		value, found := h.LoadVariable(scratch, v.Path())
		if !found {
			continue
		}
		if want := v.Shape(); !value.Shape().Equal(want) {
			return errkind.With(ErrBadCheckpoint, fmt.Errorf("transfer: checkpoint %s is not of this model: %s is %s there, %s here", latest, v.Path(), value.Shape(), want))
		}
		if headLayers[layerOf(v.Path())] {
			head++
		}
	}
	if head == 0 {
		return errkind.With(ErrBadCheckpoint, fmt.Errorf("transfer: checkpoint %s is not of this model: it holds none of the head's variables", latest))
	}
	return nil
}

// Load reads the newest checkpoint in dir (written by Save) into the model,
// after CheckCheckpoint: the trained head, fine-tuned base layers and
// optimizer state replace the current values, and the saved freeze setting is
// applied again, so loaded pretrained variables stay frozen.
func (s *Stacked) Load(dir string) error {
	if err := s.CheckCheckpoint(dir); err != nil {
		return err
	}
	// Not Immediate(): GoMLX v0.28.8's immediate load leaves variables that
	// already exist (the head, the base) at their old values. The default load
	// overwrites those and hands the optimizer's state to its variables when a
	// trainer creates them.
	if _, err := checkpoint.Load(s.store).Dir(dir).Done(); err != nil {
		return fmt.Errorf("transfer: loading checkpoint %s: %w", dir, err)
	}
	return s.Freeze(s.Frozen())
}
