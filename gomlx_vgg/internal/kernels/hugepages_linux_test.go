package kernels

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviceSeen reports whether this system shows MADV_HUGEPAGE in
// /proc/self/smaps: Linux does, qemu-user (the arm64 tests) takes the advice
// and drops it. It advises a mapping of its own to see.
func adviceSeen(t *testing.T) bool {
	t.Helper()
	b, err := unix.Mmap(-1, 0, 4*hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(b)
	if err := unix.Madvise(b, unix.MADV_HUGEPAGE); err != nil {
		t.Fatal(err)
	}
	s := unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
	if !advisedHuge(t, s) {
		t.Log("this system does not show madvise's MADV_HUGEPAGE in /proc/self/smaps: not checked")
		return false
	}
	return true
}

// advisedHuge reports whether the memory mapping holding s's first value has
// the MADV_HUGEPAGE flag ("hg" in /proc/self/smaps' VmFlags).
func advisedHuge(t *testing.T, s []float32) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	p := uint64(uintptr(unsafe.Pointer(unsafe.SliceData(s))))
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if lo, hi, ok := strings.Cut(strings.Fields(line + " x")[0], "-"); ok {
			l, err1 := strconv.ParseUint(lo, 16, 64)
			h, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && l <= p && p < h
			continue
		}
		if in {
			if flags, ok := strings.CutPrefix(line, "VmFlags:"); ok {
				return slices.Contains(strings.Fields(flags), "hg")
			}
		}
	}
	t.Fatalf("no mapping holds %#x", p)
	return false
}
