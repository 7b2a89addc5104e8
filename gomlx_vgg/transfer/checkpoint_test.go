package transfer

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
)

// trainedPost is the post's model after one head step at learning rate lr.
func trainedPost(t *testing.T, lr float64) *Stacked {
	t.Helper()
	s := postModel(t)
	feats := tensors.FromShape(shapes.Make(dtypes.Float32, 2, 40, 40, 128))
	tensors.MutableFlatData(feats, func(f []float32) {
		for i := range f {
			f[i] = float32(i%97) / 10
		}
	})
	if _, err := s.HeadTrainer(RMSprop(lr)).Step(feats, []int32{1, 2}); err != nil {
		t.Fatal(err)
	}
	return s
}

// headValues are the head's variables' values (the layers the post adds).
func headValues(s *Stacked) map[string][]float32 {
	out := map[string][]float32{}
	for p, v := range values(s) {
		if strings.HasPrefix(p, "/dense_") || strings.HasPrefix(p, "/conv2d_") {
			out[p] = v
		}
	}
	return out
}

// listing is a directory's file names and contents.
func listing(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		out[e.Name()] = string(b)
	}
	return out
}

// TestSaveWritesLiveValues: two runs trained with different learning rates
// save into one directory; its newest checkpoint holds the second run's
// values, as a fresh directory does (before, Save loaded the first run's
// checkpoint over the live values and saved those: the new training was lost).
func TestSaveWritesLiveValues(t *testing.T) {
	dir, fresh := t.TempDir(), t.TempDir()
	if err := trainedPost(t, 1e-4).Save(dir); err != nil {
		t.Fatal(err)
	}
	second := trainedPost(t, 1e-2)
	want := headValues(second)
	if err := second.Save(dir); err != nil {
		t.Fatal(err)
	}
	if got := headValues(second); !mapsEqual(got, want) {
		t.Error("Save changed the model's own values")
	}
	if err := second.Save(fresh); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dir, fresh} {
		m := postModel(t)
		if err := m.Load(d); err != nil {
			t.Fatal(err)
		}
		if got := headValues(m); !mapsEqual(got, want) {
			t.Errorf("%s: the newest checkpoint does not hold the second run's values", d)
		}
	}
	list, err := checkpoints(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Errorf("%d checkpoints in %s after two saves, want both", len(list), dir)
	}
	// A third save keeps the newest two, and leaves nothing else behind.
	if err := second.Save(dir); err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range listing(t, dir) {
			if !yield(n) {
				return
			}
		}
	})
	if len(names) != 4 || !strings.Contains(names[0], "-n0000001-") || !strings.Contains(names[3], "-n0000002-") {
		t.Errorf("after three saves %s holds %q, want checkpoints 1 and 2 (.bin, .json)", dir, names)
	}
}

func mapsEqual(a, b map[string][]float32) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// TestSaveInterrupted: a save that fails after writing its files (an
// interrupt, a full disk) leaves the directory exactly as it was: the
// previous checkpoint whole, nothing under new names, no temporary files.
func TestSaveInterrupted(t *testing.T) {
	dir := t.TempDir()
	s := trainedPost(t, 1e-3)
	if err := s.Save(dir); err != nil {
		t.Fatal(err)
	}
	before := listing(t, dir)
	interrupt := errors.New("interrupted")
	saveFault = func() error { return interrupt }
	defer func() { saveFault = nil }()
	if err := s.Save(dir); !errors.Is(err, interrupt) {
		t.Fatalf("Save with a fault: %v", err)
	}
	if after := listing(t, dir); len(after) != len(before) {
		t.Errorf("after an interrupted save %s holds %d files, before %d", dir, len(after), len(before))
	} else {
		for n, b := range before {
			if after[n] != b {
				t.Errorf("%s changed", n)
			}
		}
	}
	if err := postModel(t).Load(dir); err != nil {
		t.Errorf("the previous checkpoint no longer loads: %v", err)
	}
}

// TestCheckCheckpoint: an empty directory, truncated or garbled files and a
// checkpoint of another model are reported before any training, naming the
// file.
func TestCheckCheckpoint(t *testing.T) {
	s := trainedPost(t, 1e-3)
	if err := s.CheckCheckpoint(t.TempDir()); !errors.Is(err, ErrNoCheckpoint) {
		t.Errorf("empty directory: %v, want ErrNoCheckpoint", err)
	}
	saved := func(t *testing.T) (dir, base string) {
		dir = t.TempDir()
		if err := s.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckCheckpoint(dir); err != nil {
			t.Fatalf("a good checkpoint: %v", err)
		}
		list, _ := checkpoints(dir)
		return dir, strings.TrimSuffix(list[0], ".json")
	}
	t.Run("truncated bin", func(t *testing.T) {
		dir, base := saved(t)
		b, _ := os.ReadFile(base + ".bin")
		if err := os.WriteFile(base+".bin", b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckCheckpoint(dir); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), filepath.Base(base)) {
			t.Errorf("truncated .bin: %v, want an error naming %s", err, filepath.Base(base))
		}
		if err := postModel(t).Load(dir); err == nil {
			t.Error("Load accepted a truncated checkpoint")
		}
	})
	t.Run("empty json", func(t *testing.T) {
		dir, base := saved(t)
		if err := os.WriteFile(base+".json", nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := s.CheckCheckpoint(dir); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), filepath.Base(base)) {
			t.Errorf("empty .json: %v", err)
		}
	})
	foreign := func(t *testing.T, path string, dims ...int) string {
		store := model.NewStore()
		if _, err := store.CreateVariable(path, tensors.FromShape(shapes.Make(dtypes.Float32, dims...))); err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		h, err := checkpoint.Build(store).Dir(dir).Done()
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Save(); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	for _, c := range []struct {
		name, path string
		dims       []int
		want       string
	}{
		{"other shape", "/dense_1/dense/weights", []int{3, 3}, "is not of this model: /dense_1/dense/weights"},
		{"other variables", "/mlp/weights", []int{3}, "none of the head's variables"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := foreign(t, c.path, c.dims...)
			if err := s.CheckCheckpoint(dir); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), dir) {
				t.Errorf("%v, want %q naming %s", err, c.want, dir)
			}
		})
	}
}
