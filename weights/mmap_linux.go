package weights

import (
	"os"
	"syscall"
)

// mapFile maps a whole file private and copy-on-write: an 80 MB cached form
// becomes tensors without a copy, its pages coming lazily from the page cache
// (a fresh process pays more to fault in new heap pages than to read the file).
// Writes to the tensors stay private to the process. release frees the mapping
// (or nothing, where the file was read instead); while tensors use the buffer it
// must not be called, and the mapping lives as long as the process.
func mapFile(path string) (b []byte, release func(), err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() > 0 && st.Size() == int64(int(st.Size())) {
		b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
		if err == nil {
			return b, func() { _ = syscall.Munmap(b) }, nil
		}
	}
	b, err = os.ReadFile(path)
	return b, func() {}, err
}

// dropPages tells the kernel that b (whole pages of a private file mapping,
// unmodified) is not needed: it leaves the process's memory, and reading it
// again would read the file. Errors are ignored: the pages then just stay.
func dropPages(b []byte) {
	if len(b) > 0 {
		_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
