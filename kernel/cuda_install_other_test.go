//go:build !(linux && amd64)

package kernel

import (
	"runtime"
	"strings"
	"testing"
)

// TestInstallCUDAUnsupported: off linux/amd64 InstallCUDA fails at once,
// naming the platform, instead of the build failing (go-xla's installer has
// no CUDA support there).
func TestInstallCUDAUnsupported(t *testing.T) {
	err := InstallCUDA(t.TempDir(), "", nil)
	if err == nil || !strings.Contains(err.Error(), runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("InstallCUDA: %v, want an error naming %s/%s", err, runtime.GOOS, runtime.GOARCH)
	}
}
