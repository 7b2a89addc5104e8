package kernels

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on Linux's x86-64 and arm64.
const hugePage = 2 << 20

// AdviseHugePages asks Linux to back the 2 MB pages s overlaps with
// transparent huge pages (madvise MADV_HUGEPAGE: the kernel's default
// "madvise" mode gives them to no Go heap otherwise). Call it on a large
// buffer not yet written: each of its 2 MB pages then costs one page fault
// instead of 512, which is most of the time a fresh process spends filling
// its weights and Winograd kernels (about 12 µs a fault in some virtual
// machines). A hint, on the pages around s too (a page already partly in
// memory keeps its small pages); nothing changes where the kernel declines,
// and buffers under 2 MB are left alone.
func AdviseHugePages(s []float32) { adviseHuge(s) }

func adviseHuge[T float32 | float64](s []T) {
	if len(s)*int(unsafe.Sizeof(T(0))) >= hugePage {
		adviseAround(s)
	}
}

// adviseAround advises huge the 2 MB pages s overlaps.
func adviseAround[T float32 | float64](s []T) {
	size := int(unsafe.Sizeof(T(0)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	start := p &^ (hugePage - 1)
	end := (p + uintptr(len(s)*size) + hugePage - 1) &^ (hugePage - 1)
	// The pages around s are the Go heap's, in the same arena (64 MB,
	// aligned): the advice changes how they are backed, never their values.
	// Addresses only (no pointer outside s is made); errors change nothing.
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, start, end-start, unix.MADV_HUGEPAGE)
	runtime.KeepAlive(s)
}

// MakeLarge is make([]float32, n) for a large long-lived or reused buffer
// (weights, transformed kernels, activations, the kernels' work buffers):
// from 1 MB, it starts on a 2 MB boundary and the 2 MB pages it overlaps
// (its own: it is made with 2 MB to spare) are advised huge
// (AdviseHugePages) before its first write.
func MakeLarge(n int) []float32 { return makeLarge[float32](n) }

func makeLarge[T float32 | float64](n int) []T {
	size := int(unsafe.Sizeof(T(0)))
	if n*size < hugePage/2 {
		return make([]T, n)
	}
	align := hugePage / size
	s := make([]T, n+align)
	off := int(uintptr(unsafe.Pointer(unsafe.SliceData(s))) % hugePage / uintptr(size))
	if off != 0 {
		off = align - off
	}
	s = s[off : off+n : off+n]
	// s's last 2 MB page is all this allocation's: 2 MB were spared.
	adviseAround(s[:n:n])
	return s
}

// mapLarge returns n zeroed float32s outside the Go heap, in memory mapped for
// them alone, advised huge before their first write, and the function that
// unmaps them (the caller's to call once, when no slice of them is used
// any more). Unlike MakeLarge's, these pages were never another buffer's:
// the Go runtime, reusing its heap, zeroes (writes) a large buffer in small
// pages before AdviseHugePages can apply, one page fault for each 4 kB.
func mapLarge(n int) (s []float32, unmap func()) {
	if n == 0 {
		return nil, func() {}
	}
	size := (n*4 + hugePage - 1) &^ (hugePage - 1)
	b, err := unix.Mmap(-1, 0, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil { // Out of address space or maps: the Go heap reports it its way.
		return MakeLarge(n), func() {}
	}
	off := int(-uintptr(unsafe.Pointer(unsafe.SliceData(b))) & (hugePage - 1))
	s = unsafe.Slice((*float32)(unsafe.Pointer(&b[off])), n)
	adviseAround(s)
	return s, func() { _ = unix.Munmap(b) }
}
