//go:build !linux

package kernels

import "testing"

// adviceSeen: only Linux has transparent huge pages.
func adviceSeen(*testing.T) bool { return false }

// advisedHuge: only Linux has transparent huge pages.
func advisedHuge(*testing.T, []float32) bool { return false }
