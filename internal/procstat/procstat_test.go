package procstat

import (
	"os"
	"runtime"
	"testing"
)

// TestKB: on Linux the peak and current resident sets are read and positive
// (the kernel updates the peak lazily: it may trail the current set briefly);
// an unknown field is not found.
func TestKB(t *testing.T) {
	if runtime.GOOS != "linux" {
		if _, ok := KB("VmHWM"); ok {
			t.Error("VmHWM found outside Linux")
		}
		return
	}
	hwm, ok1 := KB("VmHWM")
	rss, ok2 := KB("VmRSS")
	if !ok1 || !ok2 || rss <= 0 || hwm <= 0 {
		t.Errorf("VmHWM %d kB (%v), VmRSS %d kB (%v): want both read and positive", hwm, ok1, rss, ok2)
	}
	if _, ok := KB("NoSuchField"); ok {
		t.Error("an unknown field was found")
	}
	if kb, ok := ProcessKB(os.Getpid(), "VmHWM"); !ok || kb < hwm {
		t.Errorf("ProcessKB(own pid, VmHWM) = %d, %v; want at least %d", kb, ok, hwm)
	}
	if _, ok := ProcessKB(-1, "VmHWM"); ok {
		t.Error("ProcessKB(-1) found a process")
	}
}

func TestMemoryLimit(t *testing.T) {
	b, ok := MemoryLimit()
	if !ok {
		t.Skip("no /proc/meminfo: not Linux")
	}
	rss, _ := KB("VmRSS")
	if b < rss*1024 || b > 1<<50 {
		t.Errorf("MemoryLimit() = %d bytes, below this process's resident %d kB or absurd", b, rss)
	}
}
