// Package environ turns vggnb's environment variables into the options of its
// libraries. Only the commands (cmd/, bench/), the kernel (kernel/) and the
// notebooks' helpers (notebooks/nb) use it: library packages read no
// environment, apart from the weight cache's location (weights/download, as
// os.UserCacheDir and Keras do) and the Python that runs the references
// (internal/python).
//
// Variables lists every variable vggnb reads; README.md's table is checked
// against it.
package environ

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vggnb/vggnb/display"
	"github.com/vggnb/vggnb/display/graphviz"
	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/freeze/ort"
	"github.com/vggnb/vggnb/internal/checkout"
)

// Variable is one environment variable vggnb reads.
type Variable struct {
	// Name is the variable; Meaning what it sets, and who reads it.
	Name, Meaning string
}

// Variables is every environment variable vggnb's code reads, in README.md's order.
var Variables = []Variable{
	{"VGGNB_SIMD", "the native kernels' instructions: `AVX-512`, `AVX2`, `NEON` or `none` (default: the best this CPU has); CLI, bench/vgg, bench/style (in Go: `Builder.SIMD`)"},
	{"VGGNB_CONV", "`direct`: the direct 3x3 convolution instead of Winograd; `winograd2`: Winograd F(2x2,3x3) only, not F(4x4,3x3); to compare; CLI, bench/vgg, bench/style (in Go: `Builder.ConvAlgorithm`)"},
	{"VGGNB_CACHE", "the vggnb cache (weights, features, tools, notebook files; default `$XDG_CACHE_HOME/vggnb`, else `~/.cache/vggnb`)"},
	{"XDG_CACHE_HOME", "the user's cache directory, when VGGNB_CACHE is not set"},
	{"KERAS_HOME", "Keras' own directory (default `~/.keras`), where ImageNet weights already downloaded by Keras are found"},
	{"VGGNB_PYTHON", "the Python with torch, h5py and PIL for the references, fixtures and benchmarks (default `/usr/bin/python3`; python.FromEnv): kernel, notebooks, benchmarks, tests"},
	{"VGGNB_REFERENCE_CACHE", "where the PyTorch references' outputs are kept between runs, keyed by a SHA-256 of every input (default `vggnb-reference-cache` in `$TMPDIR`; `off`: none); notebooks, tests"},
	{"VGGNB_DISPLAY_DIR", "where display.Show writes files outside a notebook (default `vggnb-display`); CLI, notebooks"},
	{"VGGNB_GRAPHVIZ", "the vggnb-graphviz helper that draws graphs (default: found on PATH, beside the program or in the cache, else built); CLI, notebooks"},
	{"VGGNB_CHECKOUT", "the vggnb checkout the kernel was installed from (set in the kernelspec): where the notebooks build the graphviz helper and find scripts/ort"},
	{"VGGNB_ORT_DIR", "the pinned ONNX Runtime's directory (default the checkout's `scripts/ort`); notebooks"},
	{"VGGNB_TOOLS", "where `vggnb kernel install` puts GoNB, goimports, gopls and the graphviz helper (default `vggnb/tools` in the user's cache directory)"},
	{"JUPYTER_DATA_DIR", "where `vggnb kernel install` puts the kernelspec (default Jupyter's user data directory)"},
	{"JUPYTER_PATH", "extra kernelspec directories `vggnb kernel run` passes on to Jupyter"},
	{"GOMLX_BACKEND", "the GoMLX backend the kernelspec and `vggnb kernel doctor` use (`go`, `xla:cpu`, `xla:cuda`, `xla:/path/plugin.so`)"},
	{"PJRT_PLUGIN_LIBRARY_PATH", "directories `vggnb kernel install`/`doctor` search for PJRT plugins"},
	{"VGGNB_XLA_PLUGIN", "the PJRT plugin the kernel found at install (set in the kernelspec); notebook 01 runs on it when the binary has XLA"},
	{"VGGNB_QUICK", "`1`: the notebooks' heavy cells run sized down, as CI runs them, and say so (notebook 02's full schedule, 04's sizes, 07's steps); make test sets it"},
	{"VGGNB_SERVE_TOKEN", "the bearer token `vggnb serve` requires when `--token` is not given; CLI"},
	{"JOB_COMPLETION_INDEX", "a Kubernetes Indexed Job's index: with JOB_COMPLETIONS, the default `--shard` of `vggnb features|predict --dataset`; CLI"},
	{"JOB_COMPLETIONS", "the Indexed Job's completions (the manifest sets it to `spec.completions`: Kubernetes does not); CLI"},
	{"SLURM_ARRAY_TASK_ID", "a Slurm array task's index: with SLURM_ARRAY_TASK_COUNT, the default `--shard` where JOB_COMPLETION_INDEX is not set; CLI"},
	{"SLURM_ARRAY_TASK_COUNT", "the Slurm array's task count; CLI"},
	{"VGGNB_TRANSFER_SIZE", "notebook 04's sizes, `TRAIN,TEST[,TUNE]` (default `300,100,64`, `100,50,32` with VGGNB_QUICK; the post's `2000,500,512`)"},
	{"VGGNB_EXECUTED_NOTEBOOKS", "tests only: a directory of notebooks the browser test executed, which the kernel package's notebook tests check instead of executing them again (make test)"},
	{"PATH", "where `vggnb kernel install` finds go; the kernelspec's PATH puts the tools and that Go first"},
	{"GOGC", "Go's garbage collector target; bench/vgg reports it"},
	{"CC", "the C compiler bench/vgg builds its oneDNN peer with (default `gcc`)"},
}

// Shard is the default `--shard` of a dataset run, "i/N", from a Kubernetes
// Indexed Job (JOB_COMPLETION_INDEX, JOB_COMPLETIONS) or a Slurm array
// (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT, with IDs from 0); "" where
// neither is set. An index without its count is an error.
func Shard() (string, error) {
	pairs := []struct{ index, count, indexName, countName string }{
		{os.Getenv("JOB_COMPLETION_INDEX"), os.Getenv("JOB_COMPLETIONS"), "JOB_COMPLETION_INDEX", "JOB_COMPLETIONS"},
		{os.Getenv("SLURM_ARRAY_TASK_ID"), os.Getenv("SLURM_ARRAY_TASK_COUNT"), "SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT"},
	}
	for _, p := range pairs {
		switch {
		case p.index != "" && p.count != "":
			return p.index + "/" + p.count, nil
		case p.index != "":
			return "", fmt.Errorf("$%s is %s but $%s is not set: set it to the number of shards (or give --shard i/N)", p.indexName, p.index, p.countName)
		}
	}
	return "", nil
}

// Configure applies the process-wide settings from the environment:
// display's Config (VGGNB_DISPLAY_DIR, VGGNB_GRAPHVIZ, VGGNB_CHECKOUT).
func Configure() { display.Configure(Display()) }

// NativeKernels sets b's native kernels from $VGGNB_SIMD and $VGGNB_CONV
// (Builder.SIMD, Builder.ConvAlgorithm: slower ones, to compare); unset, b
// keeps the fastest. A value the CPU or build lacks fails b's Done.
func NativeKernels(b *gomlx_vgg.Builder) *gomlx_vgg.Builder {
	return b.SIMD(os.Getenv("VGGNB_SIMD")).ConvAlgorithm(gomlx_vgg.ConvAlgorithm(os.Getenv("VGGNB_CONV")))
}

// Display is display's Config from the environment.
func Display() display.Config {
	return display.Config{
		Dir:      os.Getenv("VGGNB_DISPLAY_DIR"),
		Graphviz: graphviz.Helper{Path: os.Getenv("VGGNB_GRAPHVIZ"), ModuleDir: os.Getenv("VGGNB_CHECKOUT")},
	}
}

// ORT is the pinned ONNX Runtime: $VGGNB_ORT_DIR, else scripts/ort of
// $VGGNB_CHECKOUT, else of the vggnb checkout at or above the working
// directory.
func ORT() (ort.Runtime, error) {
	if d := os.Getenv("VGGNB_ORT_DIR"); d != "" {
		return ort.Runtime{Dir: d}, nil
	}
	root := os.Getenv("VGGNB_CHECKOUT")
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return ort.Runtime{}, fmt.Errorf("ONNX Runtime: %w", err)
		}
		if root, err = checkout.Find(wd); err != nil {
			return ort.Runtime{}, fmt.Errorf("ONNX Runtime: %w (set VGGNB_ORT_DIR to a checkout's scripts/ort)", err)
		}
	}
	return ort.Runtime{Dir: filepath.Join(root, "scripts", "ort")}, nil
}
