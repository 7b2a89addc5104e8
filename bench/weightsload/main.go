// Command weightsload measures, in one run on one machine, how long it takes to
// bring the 80 MB VGG19 no-top weights (SYNTHETIC values in the published Keras
// file layout) into memory as float32 tensors:
//
//   - Go, cold: parsing the .h5 with the pure-Go reader (no cache);
//   - Go, warm: the fast-reload cache, in a fresh process as every GoNB cell is
//     (time inside the process including one pass over every value, and the
//     whole process from exec to exit);
//   - h5py: reading every dataset into numpy arrays (Debian's python3-h5py).
//
// Usage: go run ./bench/weightsload [-n 5] [-python /usr/bin/python3]
//
// Output is one line per measurement, "name: median ms (min ms) n=N", then ratios;
// the format is stable so runs can be compared.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vggnb/vggnb/weights"
)

func main() {
	n := flag.Int("n", 5, "repetitions")
	python := flag.String("python", "/usr/bin/python3", "python3 with h5py")
	child := flag.String("child", "", "internal: load FILE with the cache in CACHEDIR and print ms")
	cacheDir := flag.String("cache", "", "internal")
	flag.Parse()
	if *child != "" {
		t0 := time.Now()
		f, err := weights.LoadVGG(*child, weights.MustVGG("vgg19", false, 0), weights.WithCacheDir(*cacheDir))
		if err != nil {
			fail(err)
		}
		// Touch every value, as copying them into a model does.
		var sum float32
		for _, l := range f.Layers {
			for _, w := range l.Weights {
				for _, v := range w.Data {
					sum += v
				}
			}
		}
		fmt.Printf("%.3f %d %g\n", ms(time.Since(t0)), f.NumParams(), sum)
		return
	}
	if err := run(*n, *python); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "weightsload:", err)
	os.Exit(1)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

type stat struct{ med, min float64 }

func summarize(xs []float64) stat {
	s := slices.Clone(xs)
	slices.Sort(s)
	return stat{med: s[len(s)/2], min: s[0]}
}

func run(n int, python string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "vggnb-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	const name = "vgg19_tf2016_notop.h5"
	gen := exec.Command(python, filepath.Join(root, "weights/testdata/make_fixtures.py"), dir, name)
	if out, err := gen.CombinedOutput(); err != nil {
		return fmt.Errorf("generating the synthetic file: %v\n%s", err, out)
	}
	file := filepath.Join(dir, name)
	st, _ := os.Stat(file)
	fmt.Printf("file: %s (%d bytes, SYNTHETIC weights, Keras 2016 layout)\n", name, st.Size())
	fmt.Printf("machine: %s/%s, %d CPUs, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
	spec := weights.MustVGG("vgg19", false, 0)

	var cold []float64
	for i := 0; i < n; i++ {
		t0 := time.Now()
		if _, err := weights.LoadVGG(file, spec, weights.WithoutCache()); err != nil {
			return err
		}
		cold = append(cold, ms(time.Since(t0)))
		runtime.GC()
	}

	self, err := os.Executable()
	if err != nil {
		return err
	}
	cache := filepath.Join(dir, "cache")
	if _, err := weights.LoadVGG(file, spec, weights.WithCacheDir(cache)); err != nil { // fills the cache
		return err
	}
	var warmIn, warmProc []float64
	for i := 0; i < n; i++ {
		t0 := time.Now()
		out, err := exec.Command(self, "-child", file, "-cache", cache).Output()
		if err != nil {
			return fmt.Errorf("child: %v", err)
		}
		warmProc = append(warmProc, ms(time.Since(t0)))
		f := strings.Fields(string(out))
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return err
		}
		warmIn = append(warmIn, v)
	}

	script := `
import sys, time, h5py, numpy as np
path, n = sys.argv[1], int(sys.argv[2])
for _ in range(n):
    t0 = time.perf_counter()
    arrays = []
    with h5py.File(path, "r") as f:
        f.visititems(lambda k, o: arrays.append(o[()]) if isinstance(o, h5py.Dataset) else None)
    print((time.perf_counter() - t0) * 1000)
`
	out, err := exec.Command(python, "-c", script, file, strconv.Itoa(n)).Output()
	if err != nil {
		return fmt.Errorf("h5py: %v", err)
	}
	var h5py []float64
	for _, l := range strings.Fields(string(out)) {
		v, _ := strconv.ParseFloat(l, 64)
		h5py = append(h5py, v)
	}

	rows := []struct {
		name string
		s    stat
	}{
		{"go cold .h5 load", summarize(cold)},
		{"go warm cached load (in process)", summarize(warmIn)},
		{"go warm cached load (whole process)", summarize(warmProc)},
		{"h5py load", summarize(h5py)},
	}
	for _, r := range rows {
		fmt.Printf("%-38s %9.1f ms (min %8.1f) n=%d\n", r.name+":", r.s.med, r.s.min, n)
	}
	h := summarize(h5py).med
	fmt.Printf("ratio go cold / h5py: %.2f\n", summarize(cold).med/h)
	fmt.Printf("ratio go warm (in process) / h5py: %.2f\n", summarize(warmIn).med/h)
	fmt.Printf("target warm <= 150 ms: %v\n", summarize(warmIn).med <= 150)
	return nil
}

// moduleRoot finds the directory holding go.mod, from the working directory up.
func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", fmt.Errorf("run from inside the vggnb module")
		}
		d = p
	}
}
