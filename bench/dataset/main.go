// Command dataset benchmarks dataset runs (`vggnb features --dataset`) on a
// few thousand images made from Debian's Fashion-MNIST (28x28, resized by
// load_img as any image) and the bundled photos, in one run: one process with
// 2 threads, two shards of one thread each at once, and the Apache Beam
// pipeline (beam/cmd/vggnb-beam) on Prism with 2 shards; images/s for each,
// Beam's overhead against the one process at the same parallelism (goal <=
// 10%), and the projected hours and core-hours per million images. Every run
// writes VGG19 block5_pool features pooled to 512 values, 224x224, with
// SYNTHETIC weights (no ImageNet file here: the figures are about speed).
//
//	GOEXPERIMENT=simd go run ./bench/dataset [-images 2000]
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vggnb/vggnb/gomlx_vgg/dataset"
	"github.com/vggnb/vggnb/gomlx_vgg/imagenet"
	"github.com/vggnb/vggnb/gomlx_vgg/mlp"
)

func main() {
	n := flag.Int("images", 2000, "images in the dataset (Fashion-MNIST and the bundled photos)")
	beamDir := flag.String("beam", "beam", "the beam module's directory (run from the checkout's root)")
	flag.Parse()
	if err := run(*n, *beamDir); err != nil {
		fmt.Fprintln(os.Stderr, "bench/dataset:", err)
		os.Exit(1)
	}
}

func run(n int, beamDir string) error {
	dir, err := os.MkdirTemp("", "vggnb-bench-dataset-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "images")
	if err := makeImages(in, n); err != nil {
		return err
	}
	bin := filepath.Join(dir, "vggnb")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/vggnb/vggnb/cmd/vggnb").CombinedOutput(); err != nil {
		return fmt.Errorf("building vggnb: %v\n%s", err, out)
	}
	beamBin := filepath.Join(dir, "vggnb-beam")
	build := exec.Command("go", "build", "-o", beamBin, "./cmd/vggnb-beam")
	build.Dir = beamDir
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building vggnb-beam in %s: %v\n%s", beamDir, err, out)
	}
	common := []string{"--model", "vgg19", "--weights", "synthetic", "--layer", "block5_pool", "--pooling", "avg", "--size", "224x224", "--batch", "8", "--dataset", in}
	fmt.Printf("bench/dataset: %d images (Fashion-MNIST and the bundled photos), VGG19 block5_pool avg-pooled, 224x224, SYNTHETIC weights; %d CPUs\n", n, runtime.NumCPU())

	type result struct {
		name    string
		threads int
		took    time.Duration
	}
	var results []result
	// One process, 2 threads.
	start := time.Now()
	if err := command(bin, 2, append(clone(common), "--out", filepath.Join(dir, "one"))...); err != nil {
		return err
	}
	results = append(results, result{"one process, 2 threads", 2, time.Since(start)})
	// Two shards of one thread each, at once.
	start = time.Now()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Go(func() {
			errs[i] = command(bin, 1, append(clone(common), "--out", filepath.Join(dir, "two"), "--shard", fmt.Sprintf("%d/2", i))...)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	results = append(results, result{"two shards, 1 thread each", 2, time.Since(start)})
	// Beam on Prism, 2 shards, in one process of 2 threads.
	start = time.Now()
	beam := exec.Command(beamBin, "--images", filepath.Join(in, "*"), "--out", filepath.Join(dir, "beam"), "--shards", "2",
		"--model", "vgg19", "--weights", "synthetic", "--layer", "block5_pool", "--pooling", "avg", "--batch", "8")
	beam.Env = append(os.Environ(), "GOMAXPROCS=2")
	if out, err := beam.CombinedOutput(); err != nil {
		return fmt.Errorf("vggnb-beam: %v\n%s", err, tail(out))
	}
	results = append(results, result{"Beam on Prism, 2 shards", 2, time.Since(start)})

	// The same rows everywhere.
	one, err := rows(filepath.Join(dir, "one"), 1)
	if err != nil {
		return err
	}
	for _, d := range []string{"two", "beam"} {
		got, err := rows(filepath.Join(dir, d), 2)
		if err != nil {
			return err
		}
		if got != one {
			return fmt.Errorf("the %s run's rows differ from one process's", d)
		}
	}
	fmt.Println("rows: identical in the three runs")
	fmt.Printf("\n%-28s %8s %10s %12s %16s\n", "run", "seconds", "images/s", "h/million", "core-h/million")
	rate := map[string]float64{}
	for _, r := range results {
		ips := float64(n) / r.took.Seconds()
		rate[r.name] = ips
		hours := 1e6 / ips / 3600
		fmt.Printf("%-28s %8.1f %10.2f %12.1f %16.1f\n", r.name, r.took.Seconds(), ips, hours, hours*float64(r.threads))
	}
	overhead := rate["one process, 2 threads"]/rate["Beam on Prism, 2 shards"] - 1
	fmt.Printf("\nBeam's overhead against one process at the same parallelism: %+.1f%% (goal <= 10%%: %s)\n", 100*overhead,
		map[bool]string{true: "met", false: "NOT met"}[overhead <= 0.10])
	fmt.Println("(each run includes starting its process and building the model: about a second)")
	return nil
}

func clone(s []string) []string { return append([]string(nil), s...) }

// command runs vggnb with GOMAXPROCS threads.
func command(bin string, threads int, args ...string) error {
	cmd := exec.CommandContext(context.Background(), bin, append([]string{"features"}, args...)...)
	cmd.Env = append(os.Environ(), fmt.Sprintf("GOMAXPROCS=%d", threads))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("vggnb %s: %v\n%s", strings.Join(args, " "), err, tail(out))
	}
	return nil
}

func tail(b []byte) []byte {
	if len(b) > 3000 {
		return b[len(b)-3000:]
	}
	return b
}

// rows is a digest of the rows of a directory's shard files, merged in order.
func rows(dir string, shards int) (string, error) {
	var b strings.Builder
	for i := range shards {
		s := dataset.Shard{Index: i, Count: shards}
		if shards == 1 {
			s = dataset.Shard{}
		}
		rs, err := dataset.Read[dataset.FeatureRow](filepath.Join(dir, s.Name()))
		if err != nil {
			return "", err
		}
		for _, r := range rs {
			fmt.Fprintf(&b, "%s %v %v\n", r.Path, r.Shape, r.Values)
		}
	}
	return b.String(), nil
}

// makeImages writes n PNGs: Fashion-MNIST's test images, and every tenth a
// bundled photo.
func makeImages(dir string, n int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	_, test, err := mlp.LoadFashionMNIST(mlp.FashionMNISTDir)
	if err != nil {
		return err
	}
	photos := [][]byte{imagenet.DemoImagePNG()}
	for i := range n {
		var b []byte
		if i%10 == 9 {
			b = photos[0]
		} else {
			k := i % test.Len()
			img := image.NewGray(image.Rect(0, 0, test.Cols, test.Rows))
			for p := range test.Rows * test.Cols {
				img.Pix[p] = uint8(255 * test.Images[k*test.Rows*test.Cols+p])
			}
			var buf bytes.Buffer
			if err := png.Encode(&buf, img); err != nil {
				return err
			}
			b = buf.Bytes()
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%06d.png", i)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}
