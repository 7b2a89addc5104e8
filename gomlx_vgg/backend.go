package gomlx_vgg

import (
	"fmt"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// NewBackend returns the compute backend named by config, in $GOMLX_BACKEND's
// syntax: "" or "go" for the pure-Go backend (always available), "xla:cpu",
// "xla:cuda" or "xla:/abs/path/plugin.so" for XLA/PJRT, which needs a binary
// built with -tags xla. Unlike GoMLX's default, it never tries to download a
// plugin: an unavailable backend is an error that says what to do.
func NewBackend(config string) (compute.Backend, error) {
	name, _, _ := strings.Cut(config, ":")
	switch name {
	case "", gobackend.BackendName:
		return gobackend.GetBackend(), nil
	case "xla", "stablehlo":
		if !xlaLinked {
			return nil, withKind(ErrBackend, fmt.Errorf("gomlx_vgg: backend %q: this binary has only the pure Go backend; rebuild with `-tags xla` (go build -tags xla ./cmd/vggnb) to use XLA/PJRT plugins", config))
		}
		disableAutoInstall()
		b, err := compute.NewWithConfig(config)
		if err != nil {
			return nil, withKind(ErrBackend, fmt.Errorf("gomlx_vgg: backend %q: %w", config, err))
		}
		return b, nil
	}
	return nil, withKind(ErrBackend, fmt.Errorf("gomlx_vgg: unknown backend %q: want go, xla:cpu, xla:cuda or xla:/path/to/pjrt_plugin.so", config))
}

// XLALinked reports whether this binary includes the XLA backend (built with -tags xla).
func XLALinked() bool { return xlaLinked }

// onGoBackend reports whether the model's backend is the pure-Go one.
func (m *Model) onGoBackend() bool {
	return m != nil && m.backend != nil && m.backend.Name() == gobackend.GetBackend().Name()
}
