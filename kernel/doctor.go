package kernel

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"

	"github.com/vggnb/vggnb/gomlx_vgg"
	"github.com/vggnb/vggnb/gomlx_vgg/torchref"
	"github.com/vggnb/vggnb/weights"
	"github.com/vggnb/vggnb/weights/download"
)

// Check is one line of Doctor's report.
type Check struct {
	// Name of the piece (jupyter, gonb, kernelspec, backend xla, ...).
	Name string
	// OK is whether it is present and usable; Required whether notebooks need it.
	OK, Required bool
	// Detail says what was found, or where it was looked for.
	Detail string
	// Fix is the command that fixes a missing piece.
	Fix string
}

// Doctor checks everything notebooks need or can use and returns one Check each:
// Jupyter, the Go tools, the kernelspec, the PyTorch reference, backends (pure
// Go, XLA plugins and where it looked), GPU, the weights cache.
func Doctor(cfg Config) []Check {
	c, err := cfg.withDefaults()
	var checks []Check
	add := func(ch Check) { checks = append(checks, ch) }
	if err != nil {
		add(Check{Name: "checkout", Required: true, Detail: err.Error(), Fix: "cd into the vggnb checkout"})
	}
	if out, err := exec.Command("go", "version").Output(); err == nil {
		add(Check{Name: "go", OK: true, Required: true, Detail: strings.TrimSpace(string(out))})
	} else {
		add(Check{Name: "go", Required: true, Detail: "no go on PATH", Fix: "eval \"$(bash scripts/deps.sh)\""})
	}
	add(kernelBuildCheck(c))
	// The doctor's own build matters only for the CLI (features, predict): a detail.
	own := fmt.Sprintf("%s, native VGG kernels: %s (%s); the CLI's own build, not the cells'",
		runtime.Version(), gomlx_vgg.NativeKernels(), nativeSpeed[gomlx_vgg.NativeSIMD()])
	if fix := gomlx_vgg.NativeFix(); fix != "" {
		own += "; " + fix
	}
	add(Check{Name: "this vggnb binary", OK: true, Detail: own})
	if out, err := exec.Command("jupyter", "nbconvert", "--version").Output(); err == nil {
		add(Check{Name: "jupyter nbconvert", OK: true, Required: true, Detail: strings.TrimSpace(string(out))})
	} else {
		add(Check{Name: "jupyter nbconvert", Required: true, Detail: "not found",
			Fix: "apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient python3-ipykernel"})
	}
	for _, t := range []struct{ name, pkg string }{
		{"gonb", "github.com/janpfeifer/gonb@" + GoNBVersion},
		{"goimports", "golang.org/x/tools/cmd/goimports@" + GoImportsVersion},
		{"gopls", "golang.org/x/tools/gopls@" + GoplsVersion},
	} {
		ch := Check{Name: t.name, Required: t.name != "gopls", Detail: c.Bin(t.name)}
		if installedVersion(c.Bin(t.name), t.pkg) {
			ch.OK = true
			ch.Detail += " (" + t.pkg + ")"
		} else {
			ch.Detail = "no " + t.pkg + " at " + c.Bin(t.name)
			ch.Fix = "vggnb kernel install"
		}
		add(ch)
	}
	add(kernelSpecCheck(c))
	if err := torchref.Check(c.Python); err == nil {
		add(Check{Name: "PyTorch reference", OK: true, Detail: c.Python + " has torch, h5py, PIL"})
	} else {
		add(Check{Name: "PyTorch reference", Detail: err.Error(), Fix: "apt-get install python3-torch python3-h5py python3-pil"})
	}
	add(Check{Name: "backend go", OK: true, Required: true, Detail: "pure Go (github.com/gomlx/compute/gobackend), always available"})
	plugins, looked := FindPJRTPlugins()
	xla := Check{Name: "backend xla", OK: gomlx_vgg.XLALinked() && len(plugins) > 0}
	switch {
	case !gomlx_vgg.XLALinked():
		xla.Detail = "not in this binary"
		xla.Fix = "go build -tags xla ./cmd/vggnb, then --backend xla:/path/to/pjrt_plugin.so"
	case len(plugins) == 0:
		xla.Detail = "no PJRT plugin found; looked in " + strings.Join(looked, ", ")
		xla.Fix = "vggnb kernel install-cuda (JAX " + JAXCUDAVersion + "'s CUDA 13 plugin), or set PJRT_PLUGIN_LIBRARY_PATH, or GOMLX_BACKEND=xla:/abs/path/plugin.so"
	default:
		xla.Detail = "plugins: " + strings.Join(plugins, ", ")
	}
	if len(plugins) > 0 && !gomlx_vgg.XLALinked() {
		xla.Detail += "; plugins found: " + strings.Join(plugins, ", ")
	}
	add(xla)
	if out, err := exec.Command("nvidia-smi", "-L").Output(); err == nil {
		add(Check{Name: "GPU", OK: true, Detail: strings.TrimSpace(string(out))})
	} else {
		add(Check{Name: "GPU", Detail: "none (nvidia-smi not found or failed); CPU backends only"})
	}
	for _, model := range []string{"vgg16", "vgg19"} {
		for _, top := range []bool{false, true} {
			e, _ := weights.ImageNet(model, top)
			ch := Check{Name: "weights " + e.FileName}
			if p, err := download.Local(e); err == nil {
				ch.OK, ch.Detail = true, p
			} else {
				ch.Detail = "absent: notebooks use SYNTHETIC weights"
				ch.Fix = fmt.Sprintf("vggnb weights fetch --model %s%s (needs network)", model, map[bool]string{true: " --include-top"}[top])
			}
			add(ch)
		}
	}
	return checks
}

func kernelSpecCheck(c Config) Check {
	ch := Check{Name: "kernelspec " + KernelName, Required: true, Fix: "vggnb kernel install"}
	path := filepath.Join(c.KernelDir(), "kernel.json")
	b, err := os.ReadFile(path)
	if err != nil {
		ch.Detail = "no " + path
		return ch
	}
	var spec kernelSpec
	if err := json.Unmarshal(b, &spec); err != nil || len(spec.Argv) == 0 {
		ch.Detail = path + " is not a kernel spec"
		return ch
	}
	if _, err := os.Stat(spec.Argv[0]); err != nil {
		ch.Detail = path + " runs " + spec.Argv[0] + ", which is missing"
		return ch
	}
	for _, a := range spec.Argv {
		if w, ok := strings.CutPrefix(a, "--go_work="); ok {
			if _, err := FindCheckout(w); err != nil {
				ch.Detail = path + ": its checkout " + w + " is gone"
				return ch
			}
			ch.OK, ch.Detail = true, fmt.Sprintf("%s (%s, imports from %s)", path, spec.DisplayName, w)
			return ch
		}
	}
	ch.Detail = path + " does not resolve vggnb imports (no --go_work)"
	return ch
}

// nativeSpeed is what each of the native kernels' instruction sets gives.
var nativeSpeed = map[string]string{
	"AVX-512": "VGG19 224x224 in ~0.07-0.11 s on 2 cores",
	"AVX2":    "VGG19 224x224 in ~0.25 s on 2 cores",
	"NEON":    "128-bit vectors: a fourth of AVX-512's lanes",
	"none":    "portable Go, ~30x slower than AVX-512",
}

// kernelBuildCheck reports what the kernel's cells run: the Go and the
// GOEXPERIMENT its kernelspec builds them with (and why), and the native
// kernels this CPU gets (chosen at run time, whatever the build).
func kernelBuildCheck(c Config) Check {
	ch := Check{Name: "kernel cells' build", Fix: "vggnb kernel install"}
	var spec kernelSpec
	b, err := os.ReadFile(filepath.Join(c.KernelDir(), "kernel.json"))
	if err == nil {
		err = json.Unmarshal(b, &spec)
	}
	if err != nil {
		ch.Detail = "no kernelspec to read"
		return ch
	}
	exp := spec.Env["GOEXPERIMENT"]
	meta, _ := spec.Metadata["vggnb"].(map[string]any)
	goVersion, _ := meta["cells_go"].(string)
	why, _ := meta["cells_goexperiment"].(string)
	if goVersion == "" {
		goVersion, why = "an unrecorded Go", "kernelspec written by an older vggnb"
	}
	vec := gomlx_vgg.NativeSIMD()
	ch.OK = vec != "none" || gomlx_vgg.NativeFix() == ""
	ch.Detail = fmt.Sprintf("cells build with %s, GOEXPERIMENT=%q (%s); native VGG kernels %s (%s)", goVersion, exp, why, vec, nativeSpeed[vec])
	if !ch.OK {
		ch.Fix = gomlx_vgg.NativeFix()
	}
	return ch
}

// FindPJRTPlugins looks for PJRT plugin libraries (pjrt_c_api_*_plugin.so,
// xla_cuda_plugin.so) where GoMLX and JAX install them, and returns those found
// and the places it looked.
func FindPJRTPlugins() (found, looked []string) {
	var dirs []string
	for _, d := range strings.Split(os.Getenv("PJRT_PLUGIN_LIBRARY_PATH"), string(os.PathListSeparator)) {
		if d != "" {
			dirs = append(dirs, d)
		}
	}
	home, _ := os.UserHomeDir()
	dirs = append(dirs, "/usr/local/lib/gomlx/pjrt", filepath.Join(home, ".local", "lib", "gomlx", "pjrt"))
	dirs = append(dirs, goXLADirs()...)
	globs := []string{"/usr/lib/python3/dist-packages/jax_plugins/*", "/usr/local/lib/python3*/dist-packages/jax_plugins/*",
		filepath.Join(home, ".local", "lib", "python3*", "site-packages", "jax_plugins", "*")}
	for _, g := range globs {
		m, _ := filepath.Glob(g)
		dirs = append(dirs, m...)
		if len(m) == 0 {
			looked = append(looked, g)
		}
	}
	if cfg := os.Getenv("GOMLX_BACKEND"); strings.HasPrefix(cfg, "xla:/") {
		p := strings.TrimPrefix(cfg, "xla:")
		looked = append(looked, p)
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	for _, d := range dirs {
		looked = append(looked, d)
		for _, pat := range []string{"pjrt_c_api_*_plugin.so", "xla_*_plugin.so", "pjrt-plugin-*.so"} {
			m, _ := filepath.Glob(filepath.Join(d, pat))
			found = append(found, m...)
		}
	}
	return found, looked
}

// WriteReport prints checks as a table and returns how many required ones failed.
func WriteReport(w io.Writer, checks []Check) int {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	missing := 0
	for _, c := range checks {
		mark := "ok"
		if !c.OK {
			mark = "--"
			if c.Required {
				mark, missing = "MISSING", missing+1
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, c.Name, c.Detail)
		if !c.OK && c.Fix != "" {
			fmt.Fprintf(tw, "\t\t  fix: %s\n", c.Fix)
		}
	}
	_ = tw.Flush()
	return missing
}
