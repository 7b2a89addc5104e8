//go:build !(linux && amd64)

package kernel

import (
	"fmt"
	"io"
	"runtime"
)

// InstallCUDA fails: JAX publishes its CUDA PJRT plugins for linux/amd64 only
// (go-xla's installer has no CUDA support elsewhere). The rest of vggnb, the
// native kernels included, runs here.
func InstallCUDA(dir, jaxVersion string, log io.Writer) error {
	return fmt.Errorf("kernel: install-cuda: JAX's CUDA PJRT plugins are published for linux/amd64 only, not %s/%s", runtime.GOOS, runtime.GOARCH)
}
