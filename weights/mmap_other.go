//go:build !linux

package weights

import "os"

// mapFile reads a whole file (the Linux build maps it instead); release is a no-op.
func mapFile(path string) (b []byte, release func(), err error) {
	b, err = os.ReadFile(path)
	return b, func() {}, err
}

// dropPages does nothing where files are read rather than mapped.
func dropPages(b []byte) {}
