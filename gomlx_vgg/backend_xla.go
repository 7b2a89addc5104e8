//go:build xla

package gomlx_vgg

import "github.com/gomlx/go-xla/compute/xla" // registers the "xla" backend

// disableAutoInstall keeps go-xla from downloading a PJRT plugin when none is
// installed: an unavailable backend is an error that says what to do.
func disableAutoInstall() { xla.EnableAutoInstall(false) }

// xlaLinked reports whether the XLA backend is compiled in (build tag xla).
const xlaLinked = true
