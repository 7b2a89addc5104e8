//go:build !linux

package weights

import "os"

// mapFile reads a whole file (the Linux build maps it instead).
func mapFile(path string) ([]byte, error) { return os.ReadFile(path) }

// unmapFile is a no-op where mapFile reads.
func unmapFile([]byte) {}
