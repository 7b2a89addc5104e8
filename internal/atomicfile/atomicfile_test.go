package atomicfile

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWrite covers each kind of path: new, existing (mode kept), a symbolic
// link (its target written, the link kept), a dangling link (its target
// created), and the kinds refused untouched: a directory, a named pipe, a
// socket. (A device is refused by the same check; tests do not point at one.)
func TestWrite(t *testing.T) {
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	if err := os.WriteFile(at("old"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(at("target"), []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	must(t, os.Symlink("target", at("link")))
	must(t, os.Symlink(filepath.Join("sub", "made"), at("dangling")))
	must(t, os.Mkdir(at("sub"), 0o755))
	must(t, os.Mkdir(at("adir"), 0o755))
	must(t, syscall.Mkfifo(at("fifo"), 0o644))
	l, err := net.Listen("unix", at("sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	for _, c := range []struct {
		path, file string // written, and the file that must then hold "new"
		mode       os.FileMode
	}{
		{at("new"), at("new"), 0o644},
		{at("old"), at("old"), 0o600},
		{at("link"), at("target"), 0o640},
		{at("dangling"), at("sub/made"), 0o644},
	} {
		if err := WriteFile(c.path, []byte("new")); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		b, err := os.ReadFile(c.file)
		fi, _ := os.Stat(c.file)
		if err != nil || string(b) != "new" || fi.Mode().Perm() != c.mode {
			t.Errorf("%s: %s holds %q (%v), mode %v, want \"new\", %v", c.path, c.file, b, err, fi.Mode().Perm(), c.mode)
		}
	}
	for _, link := range []string{at("link"), at("dangling")} {
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symbolic link", link)
		}
	}
	for _, c := range []struct{ name, kind string }{{"adir", "a directory"}, {"fifo", "a named pipe"}, {"sock", "a socket"}} {
		before, _ := os.Lstat(at(c.name))
		err := WriteFile(at(c.name), []byte("new"))
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), c.kind) || !strings.Contains(err.Error(), at(c.name)) {
			t.Errorf("%s: %v, want ErrNotRegular naming it and %q", c.name, err, c.kind)
		}
		if after, _ := os.Lstat(at(c.name)); after.Mode() != before.Mode() {
			t.Errorf("%s: mode %v after the refused write, %v before", c.name, after.Mode(), before.Mode())
		}
	}
	leftovers(t, dir)
}

// TestWriteFails: a fill that fails leaves the old file and no temporary
// file.
func TestWriteFails(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	must(t, os.WriteFile(path, []byte("old"), 0o644))
	boom := errors.New("boom")
	err := Write(path, func(f *os.File) error {
		if _, err := f.WriteString("half"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write: %v, want the fill's error", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("%s holds %q after a failed write", path, b)
	}
	leftovers(t, dir)
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing directory: %v", err)
	}
}

// TestRename: a file another program wrote is moved into place with the
// target's mode (0644 for a new one; CreateTemp's 0600 before), and a
// refused target leaves neither it nor the temporary file changed.
func TestRename(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, ".x.tmp-1")
	must(t, os.WriteFile(tmp, []byte("new"), 0o600))
	if err := Rename(tmp, filepath.Join(dir, "x")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "x")); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("renamed file: %v, mode %v, want 0644", err, fi.Mode().Perm())
	}
	must(t, os.WriteFile(tmp, []byte("new"), 0o600))
	must(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644))
	if err := Rename(tmp, filepath.Join(dir, "fifo")); !errors.Is(err, ErrNotRegular) {
		t.Errorf("onto a FIFO: %v, want ErrNotRegular", err)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "fifo")); fi.Mode()&os.ModeNamedPipe == 0 {
		t.Error("the FIFO was replaced")
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("the temporary file is still there after a refused rename: %v", err)
	}
}

func leftovers(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", p)
		}
		return nil
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
