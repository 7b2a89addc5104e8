//go:build purego || !(amd64 || arm64)

package kernels

// registerArch has nothing to add: a purego build, or an architecture
// without assembly kernels, runs the portable Go ones.
func registerArch() {}
