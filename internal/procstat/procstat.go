// Package procstat reads this process's memory figures from /proc/self/status
// (Linux): the peak resident set a benchmark or a load test reports, the
// file-backed pages a test watches.
package procstat

import (
	"os"
	"strconv"
	"strings"
)

// KB returns the named field of /proc/self/status (VmHWM: the peak resident
// set, VmRSS, RssFile, ...) in kB; ok is false where there is no such file or
// field (not Linux).
func KB(field string) (kb int64, ok bool) { return fieldKB("/proc/self/status", field) }

// fieldKB returns the named "Field:  N kB" line's N of a /proc file.
func fieldKB(path, field string) (kb int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, found := strings.CutPrefix(line, field+":"); found {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}

// MemoryLimit returns the memory this process may use, in bytes: the
// machine's (MemTotal of /proc/meminfo), or its cgroup's limit where that is
// lower (cgroup v2 memory.max: a container's); ok is false where neither is
// known (not Linux).
func MemoryLimit() (bytes int64, ok bool) {
	kb, ok := fieldKB("/proc/meminfo", "MemTotal")
	bytes = kb * 1024
	if c, err := os.ReadFile("/sys/fs/cgroup/memory.max"); err == nil {
		if v, err := strconv.ParseInt(strings.TrimSpace(string(c)), 10, 64); err == nil && v > 0 && (!ok || v < bytes) {
			bytes, ok = v, true
		}
	}
	return bytes, ok
}

// ProcessKB is KB for another process: the named field of /proc/PID/status
// (a server's VmHWM, read by the benchmark that started it).
func ProcessKB(pid int, field string) (kb int64, ok bool) {
	return fieldKB("/proc/"+strconv.Itoa(pid)+"/status", field)
}
