//go:build !xla

package gomlx_vgg

// xlaLinked reports whether the XLA backend is compiled in (build tag xla).
const xlaLinked = false

// disableAutoInstall is a no-op without XLA.
func disableAutoInstall() {}
