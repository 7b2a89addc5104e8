// Package graphviz finds, builds and runs vggnb-graphviz (cmd/vggnb-graphviz),
// the helper that lays out Graphviz DOT graphs as SVG: Graphviz runs as
// WebAssembly in that process, so nothing graphviz-related happens in the
// caller's until a graph is drawn. Package display draws with it; the kernel
// installs it (vggnb kernel install).
package graphviz

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vggnb/vggnb/weights/download"
)

// Command is the helper's name.
const Command = "vggnb-graphviz"

// Package is the Go package that builds Command.
const Package = "github.com/vggnb/vggnb/cmd/" + Command

// Helper says where the helper is, or where to build it from. The zero value
// finds it on PATH, beside this executable or in the vggnb cache, and failing
// those builds it into the cache from the working directory's module.
type Helper struct {
	// Path is the helper to run; "" finds it (above).
	Path string
	// ModuleDir is where `go build` builds the helper from (a vggnb checkout,
	// or a module that requires vggnb); "" is the working directory.
	ModuleDir string
	// CacheDir holds the built helper (bin/) and Graphviz's compiled
	// WebAssembly (graphviz/); "" is download.CacheDir().
	CacheDir string
	// Timeout bounds one drawing (default 2 minutes).
	Timeout time.Duration
}

func (h Helper) cacheDir() string {
	if h.CacheDir != "" {
		return h.CacheDir
	}
	return download.CacheDir()
}

// Render lays out dot and returns the helper's SVG. Errors name the helper
// and what it wrote on stderr.
func (h Helper) Render(ctx context.Context, dot string) (string, error) {
	helper, err := h.command()
	if err != nil {
		return "", err
	}
	tmp := filepath.Join(h.cacheDir(), "graphviz")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return "", fmt.Errorf("graphviz: cache: %w (set VGGNB_CACHE to a writable directory)", err)
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, helper)
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	cmd.Stdin = strings.NewReader(dot)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("graphviz (%s): %v: %s", helper, err, strings.TrimSpace(clip(stderr.String(), 1000)))
	}
	return stdout.String(), nil
}

// Build builds the helper from moduleDir into dst with goBin and env (nil:
// this process's), through a temporary file renamed into place: a reader
// never runs half a binary. GoMLX's GOEXPERIMENT is not needed and not set.
func Build(ctx context.Context, goBin, moduleDir, dst string, env []string) error {
	if env == nil {
		env = os.Environ()
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("graphviz: building %s: %w", Command, err)
	}
	tmp := fmt.Sprintf("%s.%d.tmp", dst, os.Getpid())
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", tmp, Package)
	cmd.Dir = moduleDir
	cmd.Env = append(env, "GOEXPERIMENT=")
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("graphviz: building %s: %v: %s", Command, err, strings.TrimSpace(tail(string(out), 1000)))
	}
	if err := os.Rename(tmp, dst); err != nil {
		_ = os.Remove(tmp)
		return errors.Join(fmt.Errorf("graphviz: installing %s", Command), err)
	}
	return nil
}

var (
	foundMu sync.Mutex
	found   = map[Helper]string{} // the helper each configuration found or built
)

// command finds (or, once per configuration, builds) the helper.
func (h Helper) command() (string, error) {
	if h.Path != "" {
		if _, err := os.Stat(h.Path); err != nil {
			return "", fmt.Errorf("graphviz: helper: %w", err)
		}
		return h.Path, nil
	}
	key := h
	key.Timeout = 0
	foundMu.Lock()
	defer foundMu.Unlock()
	if p, ok := found[key]; ok {
		return p, nil
	}
	p, err := h.findOrBuild()
	if err != nil {
		return "", err
	}
	found[key] = p
	return p, nil
}

func (h Helper) findOrBuild() (string, error) {
	if p, err := exec.LookPath(Command); err == nil {
		return p, nil
	}
	cached := filepath.Join(h.cacheDir(), "bin", Command)
	candidates := []string{cached}
	if exe, err := os.Executable(); err == nil {
		candidates = append([]string{filepath.Join(filepath.Dir(exe), Command)}, candidates...)
	}
	goBin, goErr := exec.LookPath("go")
	for _, p := range candidates {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			// The cached copy is ours: rebuilt when the module has moved on.
			if p != cached || goErr != nil || !stale(goBin, h.ModuleDir, p) {
				return p, nil
			}
		}
	}
	install := "go install " + Package + " (vggnb kernel install does), or give its path (VGGNB_GRAPHVIZ in the CLI and notebooks)"
	if goErr != nil {
		return "", fmt.Errorf("graphviz: drawing graphs needs the %s command, not found on PATH, beside %s or in %s, and no go to build it: %s",
			Command, os.Args[0], filepath.Dir(cached), install)
	}
	if err := Build(context.Background(), goBin, h.ModuleDir, cached, nil); err != nil {
		return "", fmt.Errorf("%w; %s", err, install)
	}
	return cached, nil
}

// helperModules are the modules whose versions the built helper's behaviour
// depends on: go-graphviz and the WebAssembly runtime it runs Graphviz with
// (wazero 1.8 crashes on Go 1.24+ on Intel CPUs with fast string moves: its
// compiled code calls runtime.memmove, whose register use changed).
var helperModules = []string{"github.com/goccy/go-graphviz", "github.com/tetratelabs/wazero"}

// stale reports whether the helper at path was built with other versions of
// go-graphviz or wazero than the module in moduleDir ("" the working
// directory) selects now. When either cannot be read it reports false: the
// helper there is used as it is.
func stale(goBin, moduleDir, path string) bool {
	built, err := buildinfo.ReadFile(path)
	if err != nil {
		return false
	}
	list := exec.Command(goBin, append([]string{"list", "-m", "-f", "{{.Path}} {{.Version}}"}, helperModules...)...)
	list.Dir = moduleDir
	want, err := list.Output()
	if err != nil {
		return false
	}
	have := map[string]string{}
	for _, dep := range built.Deps {
		have[dep.Path] = dep.Version
	}
	for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		if mod, version, ok := strings.Cut(line, " "); ok && have[mod] != version {
			return true
		}
	}
	return false
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// clip keeps the first and the last n bytes of s: a crash's reason (a Go
// runtime's "fatal error: ..." comes first) and its last words.
func clip(s string, n int) string {
	if len(s) > 2*n {
		return s[:n] + " … " + s[len(s)-n:]
	}
	return s
}
