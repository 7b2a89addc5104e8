package weights

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/scigolib/hdf5"

	"github.com/vggnb/vggnb/internal/atomicfile"
)

// ExportKerasVersion is the keras_version written by WriteKeras2.
const ExportKerasVersion = "2.15.0"

// WriteKeras2 writes f's layers as a Keras 2 HDF5 weight file that
// keras Model.load_weights and h5py read: a /model_weights group with the
// layer_names, backend and keras_version attributes, and per layer a group with
// weight_names and datasets <layer>/<layer>/<weight>:0 holding float32 values
// exactly as given (channels_last unless f was converted).
//
// The file is written to a temporary name beside path and renamed into place, so
// an interrupted export leaves no half-written file at path. It is readable by
// all (0644), like files Keras writes.
func WriteKeras2(path string, f *File) error {
	return WriteKeras2Context(context.Background(), path, f)
}

// WriteKeras2Context is WriteKeras2 stopped by ctx between weights: the
// temporary file is removed and ctx's error returned.
func WriteKeras2Context(ctx context.Context, path string, f *File) (err error) {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("weights: export %s: %w", path, err)
	}
	// The HDF5 writer opens the temporary file by its name.
	err = atomicfile.Write(path, func(tmp *os.File) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("HDF5 writer failed: %v", r)
			}
		}()
		fw, err := hdf5.CreateForWrite(tmp.Name(), hdf5.CreateTruncate)
		if err != nil {
			return err
		}
		if err := writeKeras2Groups(ctx, fw, f); err != nil {
			fw.Close()
			return err
		}
		if err := fw.Close(); err != nil {
			return err
		}
		return ctx.Err()
	})
	if err != nil {
		return fmt.Errorf("weights: export %s: %w", path, err)
	}
	return nil
}

// kerasWeightName is the Keras 2 name of a weight: "<layer>/<kernel|bias>:0".
func kerasWeightName(layer, name string) string {
	base := name
	if i := strings.LastIndex(base, "/"); i >= 0 {
		base = base[i+1:]
	}
	base = strings.TrimSuffix(base, ":0")
	return layer + "/" + base + ":0"
}

func writeKeras2Groups(ctx context.Context, fw *hdf5.FileWriter, f *File) error {
	const root = "/model_weights"
	mw, err := fw.CreateGroup(root)
	if err != nil {
		return err
	}
	var names []string
	for _, l := range f.Layers {
		names = append(names, l.Name)
		g, err := fw.CreateGroup(root + "/" + l.Name)
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Name, err)
		}
		if len(l.Weights) == 0 {
			continue // Keras reads a missing weight_names as "no weights".
		}
		if _, err := fw.CreateGroup(root + "/" + l.Name + "/" + l.Name); err != nil {
			return fmt.Errorf("layer %s: %w", l.Name, err)
		}
		var wnames []string
		for _, t := range l.Weights {
			if err := ctx.Err(); err != nil {
				return err
			}
			wn := kerasWeightName(l.Name, t.Name)
			wnames = append(wnames, wn)
			if len(t.Data) != Size(t.Shape) {
				return fmt.Errorf("layer %s weight %s: shape %v needs %d values, has %d", l.Name, t.Name, t.Shape, Size(t.Shape), len(t.Data))
			}
			dims := make([]uint64, len(t.Shape))
			for i, d := range t.Shape {
				dims[i] = uint64(d)
			}
			ds, err := fw.CreateDataset(root+"/"+l.Name+"/"+wn, hdf5.Float32, dims)
			if err != nil {
				return fmt.Errorf("layer %s weight %s shape %v: %w", l.Name, wn, t.Shape, err)
			}
			if err := ds.Write(t.Data); err != nil {
				return fmt.Errorf("layer %s weight %s shape %v: %w", l.Name, wn, t.Shape, err)
			}
		}
		if err := g.WriteAttribute("weight_names", wnames); err != nil {
			return fmt.Errorf("layer %s: weight_names: %w", l.Name, err)
		}
	}
	if err := mw.WriteAttribute("layer_names", names); err != nil {
		return fmt.Errorf("layer_names: %w", err)
	}
	if err := mw.WriteAttribute("backend", "tensorflow"); err != nil {
		return err
	}
	return mw.WriteAttribute("keras_version", ExportKerasVersion)
}
