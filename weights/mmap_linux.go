package weights

import (
	"os"
	"syscall"
)

// mapFile maps a whole file copy-on-write, pre-faulted (MAP_POPULATE) from the
// page cache: an 80 MB cached form becomes tensors without copying or touching
// fresh heap pages, which in a new process costs more than the read itself.
// Writes to the tensors stay private to the process. The mapping lives as long as
// the process.
func mapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 || st.Size() != int64(int(st.Size())) {
		return os.ReadFile(path)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return os.ReadFile(path)
	}
	return b, nil
}

// unmapFile releases a mapping from mapFile that no tensor uses.
func unmapFile(b []byte) { _ = syscall.Munmap(b) }
