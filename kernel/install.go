// Package kernel is vggnb's GoNB glue: it installs a pinned GoNB with its Go
// tools and a Jupyter kernel ("Go (vggnb)") wired to this checkout, checks an
// installation (Doctor), and executes notebooks headless (Run), failing on any
// cell that does not compile, panics, exits non-zero or errors.
package kernel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/version"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/vggnb/vggnb/display/graphviz"
	"github.com/vggnb/vggnb/internal/atomicfile"
	"github.com/vggnb/vggnb/internal/checkout"
	"github.com/vggnb/vggnb/internal/python"
)

// Pinned versions: the module proxy refuses @latest here.
const (
	GoNBVersion      = "v0.11.5"
	GoImportsVersion = "v0.36.0"
	GoplsVersion     = "v0.21.0"
	// KernelName is the Jupyter kernelspec name; DisplayName what Jupyter shows.
	KernelName  = "vggnb"
	DisplayName = "Go (vggnb)"
	// ModulePath is this project's module.
	ModulePath = checkout.ModulePath
)

// Config says where things go; zero fields take their defaults.
type Config struct {
	// ToolsDir holds bin/gonb, bin/goimports, bin/gopls (default: $VGGNB_TOOLS,
	// else <user cache>/vggnb/tools).
	ToolsDir string
	// JupyterDataDir is where kernels/vggnb/kernel.json goes (default:
	// $JUPYTER_DATA_DIR, else ~/.local/share/jupyter).
	JupyterDataDir string
	// Checkout is the vggnb source tree notebooks import (default: found from the
	// working directory upwards).
	Checkout string
	// Python runs the PyTorch reference from notebooks (default python.FromEnv(): $VGGNB_PYTHON, else Debian's).
	Python string
	// Log receives progress lines (default: discarded).
	Log io.Writer
}

func (c Config) withDefaults() (Config, error) {
	if c.ToolsDir == "" {
		c.ToolsDir = os.Getenv("VGGNB_TOOLS")
	}
	if c.ToolsDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return c, fmt.Errorf("kernel: no tools directory: %w", err)
		}
		c.ToolsDir = filepath.Join(dir, "vggnb", "tools")
	}
	if c.JupyterDataDir == "" {
		c.JupyterDataDir = os.Getenv("JUPYTER_DATA_DIR")
	}
	if c.JupyterDataDir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return c, fmt.Errorf("kernel: no Jupyter data directory: %w", err)
		}
		c.JupyterDataDir = filepath.Join(home, ".local", "share", "jupyter")
	}
	if c.Checkout == "" {
		wd, err := os.Getwd()
		if err != nil {
			return c, err
		}
		if c.Checkout, err = FindCheckout(wd); err != nil {
			return c, err
		}
	}
	if c.Python == "" {
		c.Python = python.FromEnv()
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	abs, err := filepath.Abs(c.Checkout)
	c.Checkout = abs
	return c, err
}

// FindCheckout walks up from dir to the directory whose go.mod declares ModulePath.
func FindCheckout(dir string) (string, error) {
	d, err := checkout.Find(dir)
	if err != nil {
		return "", fmt.Errorf("kernel: %w; run from the checkout or pass --checkout", err)
	}
	return d, nil
}

// Bin returns the path of a tool in ToolsDir.
func (c Config) Bin(tool string) string { return filepath.Join(c.ToolsDir, "bin", tool) }

// KernelDir is where kernel.json lives.
func (c Config) KernelDir() string { return filepath.Join(c.JupyterDataDir, "kernels", KernelName) }

// Install installs GoNB, goimports and gopls (pinned, through the Go module
// proxy, skipped when already there) and vggnb-graphviz (from the checkout),
// and writes the vggnb kernelspec. It returns
// the completed Config.
func Install(ctx context.Context, cfg Config) (Config, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return c, err
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return c, errors.New("kernel: no go on PATH: install Go 1.26.5+ (scripts/deps.sh does)")
	}
	bin := filepath.Join(c.ToolsDir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return c, fmt.Errorf("kernel: %w", err)
	}
	env := append(os.Environ(), "GOBIN="+bin, "GOFLAGS=-mod=mod", "GOEXPERIMENT=")
	for _, t := range []struct{ name, pkg string }{
		{"goimports", "golang.org/x/tools/cmd/goimports@" + GoImportsVersion},
		{"gopls", "golang.org/x/tools/gopls@" + GoplsVersion},
	} {
		if installedVersion(c.Bin(t.name), t.pkg) {
			continue
		}
		fmt.Fprintf(c.Log, "kernel: installing %s\n", t.pkg)
		if err := run(ctx, c.ToolsDir, env, goBin, "install", t.pkg); err != nil {
			return c, err
		}
	}
	if !installedVersion(c.Bin("gonb"), "github.com/janpfeifer/gonb@"+GoNBVersion) {
		// `go install gonb@version` fails on the proxy; a tiny module pinning it works.
		mod := filepath.Join(c.ToolsDir, "gonb-module")
		if err := os.MkdirAll(mod, 0o755); err != nil {
			return c, err
		}
		gomod := fmt.Sprintf("module vggnb-tools\n\ngo 1.26\n\nrequire github.com/janpfeifer/gonb %s\n", GoNBVersion)
		tools := "//go:build tools\n\npackage tools\n\nimport _ \"github.com/janpfeifer/gonb\"\n"
		if err := os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644); err != nil {
			return c, err
		}
		if err := os.WriteFile(filepath.Join(mod, "tools.go"), []byte(tools), 0o644); err != nil {
			return c, err
		}
		fmt.Fprintf(c.Log, "kernel: installing github.com/janpfeifer/gonb@%s\n", GoNBVersion)
		if err := run(ctx, mod, env, goBin, "mod", "tidy"); err != nil {
			return c, err
		}
		if err := run(ctx, mod, env, goBin, "install", "github.com/janpfeifer/gonb"); err != nil {
			return c, err
		}
	}
	// Graph drawing runs Graphviz (WebAssembly) in this helper's process, found on
	// the kernel's PATH (display.RenderDOT); rebuilt from the checkout each time,
	// it is small and quick with a warm build cache.
	fmt.Fprintf(c.Log, "kernel: building %s from %s\n", graphviz.Command, c.Checkout)
	if err := graphviz.Build(ctx, goBin, c.Checkout, c.Bin(graphviz.Command), env); err != nil {
		return c, fmt.Errorf("kernel: %w", err)
	}
	if err := writeKernelSpec(c, goBin); err != nil {
		return c, err
	}
	fmt.Fprintf(c.Log, "kernel: %q installed in %s (GoNB %s, imports of %s/... from %s)\n",
		DisplayName, c.KernelDir(), GoNBVersion, ModulePath, c.Checkout)
	return c, nil
}

// installedVersion reports whether the binary exists and was built from pkg@version
// (read from its embedded build information).
func installedVersion(path, pkgAtVersion string) bool {
	out, err := exec.Command("go", "version", "-m", path).Output()
	if err != nil {
		return false
	}
	pkg, version, _ := strings.Cut(pkgAtVersion, "@")
	modPath := pkg
	if strings.HasPrefix(pkg, "golang.org/x/tools/cmd/") {
		modPath = "golang.org/x/tools"
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && (f[0] == "mod" || f[0] == "dep") && f[1] == modPath && f[2] == version {
			return true
		}
	}
	return false
}

func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kernel: %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// kernelSpec is Jupyter's kernel.json.
type kernelSpec struct {
	Argv          []string          `json:"argv"`
	DisplayName   string            `json:"display_name"`
	Language      string            `json:"language"`
	InterruptMode string            `json:"interrupt_mode"`
	Env           map[string]string `json:"env"`
	Metadata      map[string]any    `json:"metadata,omitempty"`
}

// writeKernelSpec writes kernel.json atomically: GoNB with raw (text) errors and
// a go.work that resolves this module to the checkout; the Go tools on PATH; the
// pure-Go backend (with SIMD) as default and no plugin auto-install.
func writeKernelSpec(c Config, goBin string) error {
	goRoot := filepath.Dir(goBin)
	cells, err := cellsBuild(goBin)
	if err != nil {
		return err
	}
	spec := kernelSpec{
		Argv: []string{c.Bin("gonb"), "--kernel", "{connection_file}", "--raw_error",
			"--go_work=" + c.Checkout},
		DisplayName: DisplayName, Language: "go", InterruptMode: "message",
		Env: map[string]string{
			"PATH":                  kernelPath(filepath.Join(c.ToolsDir, "bin"), goRoot, os.Getenv("PATH")),
			"GOMLX_BACKEND":         "go",
			"GOMLX_NO_AUTO_INSTALL": "1",
			"GOEXPERIMENT":          cells.Experiment,
			"VGGNB_CHECKOUT":        c.Checkout,
			"VGGNB_PYTHON":          c.Python,
		},
		Metadata: map[string]any{"vggnb": map[string]string{"gonb": GoNBVersion, "go": runtime.Version(),
			"cells_go": cells.GoVersion, "cells_goexperiment": cells.Why}},
	}
	fmt.Fprintf(c.Log, "kernel: cells build with %s, GOEXPERIMENT=%q: %s\n", cells.GoVersion, cells.Experiment, cells.Why)
	if b := os.Getenv("GOMLX_BACKEND"); b != "" {
		spec.Env["GOMLX_BACKEND"] = b
	}
	// With a PJRT plugin on this machine, cells are built with the XLA backend
	// linked in (the default stays pure Go) and can compare against it.
	if plugins, _ := FindPJRTPlugins(); len(plugins) > 0 {
		spec.Env["GOFLAGS"] = "-tags=xla"
		spec.Env["VGGNB_XLA_PLUGIN"] = plugins[0]
		fmt.Fprintf(c.Log, "kernel: PJRT plugin %s found: cells link the XLA backend (-tags=xla)\n", plugins[0])
	}
	if err := os.MkdirAll(c.KernelDir(), 0o755); err != nil {
		return fmt.Errorf("kernel: %w", err)
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(c.KernelDir(), "kernel.json"), append(b, '\n')); err != nil {
		return fmt.Errorf("kernel: %w", err)
	}
	return nil
}

// CellsBuild is how the kernel's cells are built: the Go that builds them
// and the GOEXPERIMENT the kernelspec gives them, with the reason.
type CellsBuild struct {
	GoVersion  string // "go1.26.8"
	Experiment string // "simd" or ""
	Why        string
}

// simdExperimentMaxGo is the newest Go whose archsimd API GoMLX compute (the
// version go.mod pins, v0.1.6) is written for: its SIMD matmul builds with
// GOEXPERIMENT=simd on Go 1.26 only. The compute releases written for Go
// 1.27's API (v0.1.11 and later) require Go 1.27 in their go.mod, which
// would drop Go 1.26, so vggnb stays on v0.1.6 and cells built by Go 1.27 go
// without the experiment.
const simdExperimentMaxGo = "go1.26"

// cellsBuild asks the go at goBin for its version (GOTOOLCHAIN applied) and
// chooses the cells' GOEXPERIMENT. vggnb's native kernels are assembly
// chosen at run time and need no experiment either way; it only speeds up
// GoMLX's graph (the pure-Go backend's matmul).
func cellsBuild(goBin string) (CellsBuild, error) {
	out, err := exec.Command(goBin, "env", "GOVERSION").Output()
	if err != nil {
		return CellsBuild{}, fmt.Errorf("kernel: %s env GOVERSION: %w", goBin, err)
	}
	return cellsBuildFor(strings.TrimSpace(string(out))), nil
}

// cellsBuildFor is cellsBuild for a Go version ("go1.27.3").
func cellsBuildFor(v string) CellsBuild {
	if version.IsValid(v) && version.Compare(version.Lang(v), simdExperimentMaxGo) <= 0 {
		return CellsBuild{v, "simd", "GoMLX's pure-Go backend runs its SIMD matmul"}
	}
	return CellsBuild{v, "", "GoMLX compute v0.1.6's SIMD matmul does not build on " + v +
		" (archsimd's API changed in Go 1.27), so GoMLX's graph runs its portable matmul; vggnb's native kernels are unaffected"}
}

// kernelPath is the kernel's PATH: the tools, then Go, then the rest of path,
// each directory once (in a shell that already has them, they are not repeated).
func kernelPath(tools, goRoot, path string) string {
	var dirs []string
	for _, d := range append([]string{tools, goRoot}, filepath.SplitList(path)...) {
		if d != "" && !slices.Contains(dirs, filepath.Clean(d)) {
			dirs = append(dirs, filepath.Clean(d))
		}
	}
	return strings.Join(dirs, string(os.PathListSeparator))
}
