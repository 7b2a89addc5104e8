//go:build xla

package gomlx_vgg

import _ "github.com/gomlx/go-xla/compute/xla" // registers the "xla" backend, without auto-install

// xlaLinked reports whether the XLA backend is compiled in (build tag xla).
const xlaLinked = true
