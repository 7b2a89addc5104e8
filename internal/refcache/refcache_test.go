package refcache

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for p, content := range map[string]string{a: "same", b: "same"} {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	key := func(k *Key) string {
		t.Helper()
		s, err := k.String()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fileKey := func(path string) string {
		k := NewKey("x")
		k.AddFile(path)
		return key(k)
	}
	if key(NewKey("ab", "c")) == key(NewKey("a", "bc")) {
		t.Error(`("ab", "c") and ("a", "bc") have the same key`)
	}
	if key(NewKey("a", "b")) != key(NewKey("a", "b")) {
		t.Error("the same parts give different keys")
	}
	if fileKey(a) != fileKey(b) {
		t.Error("two files of the same contents give different keys")
	}
	before := fileKey(a)
	if err := os.WriteFile(a, []byte("other contents"), 0o644); err != nil {
		t.Fatal(err)
	}
	if fileKey(a) == before {
		t.Error("a file's new contents give its old key")
	}
	k := NewKey("x")
	k.AddFile(filepath.Join(dir, "missing"))
	if _, err := k.String(); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("key of a missing file: %v, want os.ErrNotExist", err)
	}
}

func TestPutAndLookup(t *testing.T) {
	root := filepath.Join(t.TempDir(), "cache")
	if _, ok := Lookup(root, "k"); ok {
		t.Fatal("an empty cache has k")
	}
	failed := errors.New("the program failed")
	if _, err := Put(root, "k", func(dir string) error {
		return errors.Join(os.WriteFile(filepath.Join(dir, "half"), []byte("x"), 0o644), failed)
	}); !errors.Is(err, failed) {
		t.Fatalf("Put of a failing program: %v", err)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 0 {
		t.Errorf("a failed Put left %v", entries)
	}
	dir, err := Put(root, "k", func(dir string) error { return os.WriteFile(filepath.Join(dir, "out"), []byte("1"), 0o644) })
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := Lookup(root, "k"); !ok || got != dir {
		t.Fatalf("Lookup after Put: %q, %v; want %q", got, ok, dir)
	}
	// A second Put of the same key (another process first) keeps the first entry.
	again, err := Put(root, "k", func(dir string) error { return os.WriteFile(filepath.Join(dir, "out"), []byte("2"), 0o644) })
	if err != nil || again != dir {
		t.Fatalf("second Put: %q, %v", again, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "out")); string(b) != "1" {
		t.Errorf("the entry holds %q, want the first Put's", b)
	}
	if entries, _ := os.ReadDir(root); len(entries) != 1 {
		t.Errorf("the cache holds %d entries, want 1 (no temporary directory left)", len(entries))
	}
}

// TestPrune: Put removes entries unused for MaxAge; Lookup keeps an entry in
// use.
func TestPrune(t *testing.T) {
	root := t.TempDir()
	write := func(dir string) error { return os.WriteFile(filepath.Join(dir, "out"), nil, 0o644) }
	for _, k := range []string{"old", "used"} {
		dir, err := Put(root, k, write)
		if err != nil {
			t.Fatal(err)
		}
		long := time.Now().Add(-MaxAge - time.Hour)
		if err := os.Chtimes(dir, long, long); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := Lookup(root, "used"); !ok {
		t.Fatal("no entry used")
	}
	if _, err := Put(root, "new", write); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]bool{"old": false, "used": true, "new": true} {
		if _, ok := Lookup(root, k); ok != want {
			t.Errorf("entry %s there: %v, want %v", k, ok, want)
		}
	}
}

// TestDo: the first Do of a key produces its entry, the next reads it.
func TestDo(t *testing.T) {
	root := t.TempDir()
	runs := 0
	produce := func(dir string) error { runs++; return os.WriteFile(filepath.Join(dir, "out"), []byte("x"), 0o644) }
	first, cached, err := Do(root, "k", produce)
	if err != nil || cached {
		t.Fatalf("first Do: %v, cached %v", err, cached)
	}
	again, cached, err := Do(root, "k", produce)
	if err != nil || !cached || again != first || runs != 1 {
		t.Errorf("second Do: %q, cached %v, %v, %d runs; want %q, cached, 1 run", again, cached, err, runs, first)
	}
}
