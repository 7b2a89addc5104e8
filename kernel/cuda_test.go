//go:build linux && amd64

package kernel

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/go-xla/installer"
)

// TestCUDAPluginFound: a plugin where InstallCUDA (go-xla's installer) puts it,
// ~/.local/lib/go-xla/nvidia, is found, and the kernelspec then compiles cells
// with the XLA backend linked (-tags=xla) while the default stays pure Go.
func TestCUDAPluginFound(t *testing.T) {
	home := t.TempDir()
	// The go command run below keeps the user's configuration and caches: with
	// HOME alone moved it would write its telemetry counters under home (and
	// may leave a child process writing there after it exits, so that removing
	// home at the end fails now and then).
	config, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CONFIG_HOME", config)
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("GOPATH", strings.TrimSpace(string(gopath)))
	t.Setenv("HOME", home)
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", "")
	t.Setenv("GOMLX_BACKEND", "")
	if found, _ := FindPJRTPlugins(); len(found) != 0 {
		t.Fatalf("found %v in an empty home", found)
	}
	plugin := filepath.Join(home, ".local", "lib", "go-xla", "nvidia", installer.NVIDIAPJRTPluginFileName)
	if err := os.MkdirAll(filepath.Dir(plugin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plugin, []byte("not really a plugin"), 0o644); err != nil {
		t.Fatal(err)
	}
	found, _ := FindPJRTPlugins()
	if !slices.Contains(found, plugin) {
		t.Fatalf("FindPJRTPlugins() = %v, want %s", found, plugin)
	}
	c := Config{ToolsDir: filepath.Join(home, "tools"), JupyterDataDir: filepath.Join(home, "jupyter"), Checkout: home, Python: "/usr/bin/python3", Log: io.Discard}
	goBin, err := exec.LookPath("go") // the kernelspec asks it for its version
	if err != nil {
		t.Fatal(err)
	}
	if err := writeKernelSpec(c, goBin); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(c.KernelDir(), "kernel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var spec kernelSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Env["GOFLAGS"] != "-tags=xla" || spec.Env["VGGNB_XLA_PLUGIN"] != plugin || spec.Env["GOMLX_BACKEND"] != "go" {
		t.Errorf("kernelspec env = %v, want GOFLAGS=-tags=xla, VGGNB_XLA_PLUGIN=%s, GOMLX_BACKEND=go", spec.Env, plugin)
	}
}

// TestInstallCUDAError: without pypi.org, InstallCUDA fails naming the package,
// the version and the folder, and leaves no plugin behind.
func TestInstallCUDAError(t *testing.T) {
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1") // refused at once: no network needed
	t.Setenv("https_proxy", "http://127.0.0.1:1")
	dir := filepath.Join(t.TempDir(), "go-xla")
	err := InstallCUDA(dir, "", nil)
	if err == nil {
		t.Fatal("InstallCUDA succeeded without pypi.org")
	}
	for _, want := range []string{"jax-cuda13-pjrt " + JAXCUDAVersion, dir, "pypi.org"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "nvidia", installer.NVIDIAPJRTPluginFileName)); err == nil {
		t.Error("a plugin file was left behind")
	}
}
