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
func KB(field string) (kb int64, ok bool) {
	b, err := os.ReadFile("/proc/self/status")
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
