//go:build linux && amd64

package kernel

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gomlx/go-xla/installer"
)

// InstallCUDA installs JAX's CUDA 13 PJRT plugin at jaxVersion (JAXCUDAVersion
// when empty) and the NVIDIA libraries it needs into dir (a ".../lib/go-xla"
// folder, default ~/.local/lib/go-xla, where go-xla looks), through go-xla's
// installer: PyPI's wheels, their publisher checked (the JAX team) and their
// SHA-256 against PyPI's. The plugin lands in dir/nvidia, where
// FindPJRTPlugins and go-xla find it. It needs the network (pypi.org); a GPU is
// not needed to install, only to run.
func InstallCUDA(dir, jaxVersion string, log io.Writer) error {
	if jaxVersion == "" {
		jaxVersion = JAXCUDAVersion
	}
	if dir == "" {
		var err error
		if dir, err = homeGoXLADir(); err != nil {
			return fmt.Errorf("kernel: install-cuda: %w", err)
		}
	}
	if log == nil {
		log = io.Discard
	}
	fmt.Fprintf(log, "kernel: installing the CUDA 13 PJRT plugin of JAX %s (PJRT C API %s wanted) into %s\n",
		jaxVersion, PJRTAPIVersion, dir)
	if err := installer.CudaInstall("cuda13", jaxVersion, dir, false, installer.Normal); err != nil {
		return fmt.Errorf("kernel: install-cuda: jax-cuda13-pjrt %s into %s (needs https://pypi.org): %w", jaxVersion, dir, err)
	}
	plugin := filepath.Join(dir, "nvidia", installer.NVIDIAPJRTPluginFileName)
	if _, err := os.Stat(plugin); err != nil {
		return errors.New("kernel: install-cuda: the installer finished but " + plugin + " is not there")
	}
	fmt.Fprintf(log, "kernel: CUDA PJRT plugin at %s; `vggnb kernel install` now builds cells with -tags xla\n", plugin)
	return nil
}
