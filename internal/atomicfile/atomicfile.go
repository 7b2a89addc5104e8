// Package atomicfile writes files whole or not at all: every file vggnb
// writes (frozen models, weight files, caches, executed notebooks, reports,
// kernelspecs) goes through it.
//
// The content is written to a temporary file in the target's directory,
// synced, given the target's mode (0644 for a new file), renamed over the
// target and the directory synced: an interrupt, a crash or a full disk
// leaves the old file (or none) and at most a hidden temporary file, which a
// failed write removes.
//
// Only regular files are replaced. A path naming a directory, a device, a
// named pipe or a socket is refused before anything is written, with an error
// wrapping ErrNotRegular (renaming over /dev/null as root would replace the
// system's /dev/null with a regular file). A symbolic link is followed: its
// target is written and the link stays a link (a dangling link's target is
// created).
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotRegular is wrapped by Write's error when the path names something
// that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// maxLinks is how many symbolic links Write follows before giving up.
const maxLinks = 40

// Write writes path: fill gets a new temporary file, open for writing, in the
// directory of path (or of the file a symbolic link at path points to), and
// writes the content to it, or to f.Name() with a writer that opens files by
// name. If fill returns an error, nothing is replaced and its error is
// returned as it is; the errors of the other steps name path.
func Write(path string, fill func(f *os.File) error) (err error) {
	target, mode, err := resolve(path, 0)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".tmp-*")
	if err != nil {
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	tmp, closed := f.Name(), false
	defer func() {
		if err != nil {
			if !closed {
				f.Close()
			}
			os.Remove(tmp)
		}
	}()
	if err = fill(f); err != nil {
		return err
	}
	if err = f.Chmod(mode); err == nil {
		err = f.Sync()
	}
	closed = true
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	// The target may have become something else while fill ran.
	if _, _, err = resolve(target, maxLinks); err != nil {
		return err
	}
	if err = os.Rename(tmp, target); err != nil {
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	if err = syncDir(filepath.Dir(target)); err != nil {
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	return nil
}

// Rename moves a finished file, written by another program to tmp in the
// directory of path, over path as Write does: the same refusal of what is
// not a regular file, the same mode, and the file and directory synced. tmp
// is removed if the move fails.
func Rename(tmp, path string) (err error) {
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	target, mode, err := resolve(path, 0)
	if err != nil {
		return err
	}
	f, err := os.Open(tmp)
	if err != nil {
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	if err = f.Chmod(mode); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, target)
	}
	if err == nil {
		err = syncDir(filepath.Dir(target))
	}
	if err != nil {
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	return nil
}

// WriteFile writes data to path as Write does.
func WriteFile(path string, data []byte) error {
	return Write(path, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// resolve returns the file to write for path (symbolic links followed) and
// the mode to give it: the existing file's, or 0644. links counts the links
// followed so far.
func resolve(path string, links int) (string, fs.FileMode, error) {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path, 0o644, nil
	case err != nil:
		return "", 0, fmt.Errorf("atomicfile: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		if links >= maxLinks {
			return "", 0, fmt.Errorf("atomicfile: %s: too many symbolic links", path)
		}
		to, err := os.Readlink(path)
		if err != nil {
			return "", 0, fmt.Errorf("atomicfile: %w", err)
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(path), to)
		}
		return resolve(to, links+1)
	case !fi.Mode().IsRegular():
		return "", 0, fmt.Errorf("atomicfile: %s is %s: refusing to replace it: %w", path, kind(fi.Mode()), ErrNotRegular)
	}
	return path, fi.Mode().Perm(), nil
}

// kind names what a non-regular file is.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file (" + m.String() + ")"
}

// syncDir flushes a directory's entries (the rename) to the disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
