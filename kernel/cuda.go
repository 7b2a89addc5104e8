package kernel

import (
	"path/filepath"

	"github.com/gomlx/go-xla/installer"
)

// JAXCUDAVersion is the JAX release whose CUDA 13 PJRT plugin (PyPI's
// jax-cuda13-pjrt, with the NVIDIA libraries jax-cuda13-plugin depends on)
// InstallCUDA installs by default: the release built on XLA's PJRT C API
// nearest above PJRTAPIVersion (a plugin must be at least as new as the C API
// its caller was compiled against; newer ones stay compatible through the
// structs' sizes). docker/Dockerfile.cuda pins the same.
const JAXCUDAVersion = "0.10.2"

// PJRTAPIVersion is the PJRT C API version (major.minor) that go-xla v0.4.5,
// the XLA backend vggnb links with -tags xla, is compiled against.
const PJRTAPIVersion = "0.104"

// homeGoXLADir is go-xla's user folder, ~/.local/lib/go-xla on Linux: where its
// installer puts plugins by default and its loader looks.
func homeGoXLADir() (string, error) {
	d, err := installer.DefaultHomeLibPath()
	return filepath.Join(d, "go-xla"), err
}

// goXLADirs are where go-xla installs PJRT plugins (the system folder and
// homeGoXLADir) and InstallCUDA puts the CUDA one (their nvidia subfolders).
func goXLADirs() []string {
	libs := []string{"/usr/local/lib/go-xla"}
	if d, err := homeGoXLADir(); err == nil {
		libs = append(libs, d)
	}
	var dirs []string
	for _, lib := range libs {
		dirs = append(dirs, lib, filepath.Join(lib, "nvidia"))
	}
	return dirs
}
