package kernels

import (
	"runtime"
	"testing"
	"unsafe"
)

// TestMakeLarge checks MakeLarge's buffers: the length and capacity asked
// for, zeros, and (on Linux, from 1 MB) a start on a 2 MB boundary in pages
// advised huge; and that AdviseHugePages leaves values as they were.
func TestMakeLarge(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 300_000, 1 << 20, 3<<20 + 7} {
		s := MakeLarge(n)
		if len(s) != n || cap(s) != n {
			t.Fatalf("MakeLarge(%d): len %d, cap %d", n, len(s), cap(s))
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("MakeLarge(%d)[%d] = %g, want 0", n, i, v)
			}
		}
		if runtime.GOOS == "linux" && n*4 >= 1<<20 {
			if p := uintptr(unsafe.Pointer(unsafe.SliceData(s))); p%(2<<20) != 0 {
				t.Errorf("MakeLarge(%d) starts at %#x, not on a 2 MB boundary", n, p)
			}
			if adviceSeen(t) && !advisedHuge(t, s) {
				t.Errorf("MakeLarge(%d): its pages are not advised huge", n)
			}
		}
		for i := range s {
			s[i] = float32(i % 251)
		}
		AdviseHugePages(s)
		AdviseHugePages(s[n/3:])
		for i, v := range s {
			if v != float32(i%251) {
				t.Fatalf("after AdviseHugePages, [%d] = %g, want %d", i, v, i%251)
			}
		}
	}
}

// TestMapLarge checks mapLarge's buffers: the length asked for, zeros, on
// Linux a start on a 2 MB boundary in pages advised huge, writable until
// unmapped.
func TestMapLarge(t *testing.T) {
	for _, n := range []int{0, 1, 1000, 3<<20 + 7} {
		s, unmap := mapLarge(n)
		if len(s) != n {
			t.Fatalf("mapLarge(%d): len %d", n, len(s))
		}
		for i, v := range s {
			if v != 0 {
				t.Fatalf("mapLarge(%d)[%d] = %g, want 0", n, i, v)
			}
		}
		if runtime.GOOS == "linux" && n > 0 {
			if p := uintptr(unsafe.Pointer(unsafe.SliceData(s))); p%(2<<20) != 0 {
				t.Errorf("mapLarge(%d) starts at %#x, not on a 2 MB boundary", n, p)
			}
			if adviceSeen(t) && !advisedHuge(t, s) {
				t.Errorf("mapLarge(%d): its pages are not advised huge", n)
			}
		}
		for i := range s {
			s[i] = float32(i)
		}
		for i, v := range s {
			if v != float32(i) {
				t.Fatalf("mapLarge(%d)[%d] = %g after writing %d", n, i, v, i)
			}
		}
		unmap()
	}
}
