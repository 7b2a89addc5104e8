package filepairs

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTwoWay: on a small module, the pair of files that call each other is
// found with what each uses of the other, a one-way use is not a pair, and
// Across keeps the pair unless a group holds both files.
func TestTwoWay(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"go.mod": "module example.com/p\n\ngo 1.26\n",
		"a.go":   "package p\n\ntype T struct{ F int }\n\nfunc A() int { return B() }\n",
		"b.go":   "package p\n\nfunc B() int { return T{}.F }\n\nfunc (T) M() {}\n",
		"c.go":   "package p\n\nfunc C() { A(); T{}.M() }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	pairs, err := TwoWay(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 1 || pairs[0].A != "a.go" || pairs[0].B != "b.go" ||
		len(pairs[0].AUses) != 1 || pairs[0].AUses[0] != "B" || len(pairs[0].BUses) != 2 {
		t.Fatalf("TwoWay = %v, want a.go <-> b.go (a uses B; b uses F, T)", pairs)
	}
	if got := Across(pairs, []string{"a.go", "c.go"}); len(got) != 1 {
		t.Errorf("Across with a.go and c.go grouped: %v, want the pair", got)
	}
	if got := Across(pairs, []string{"a.go", "b.go"}); len(got) != 0 {
		t.Errorf("Across with a.go and b.go grouped: %v, want none", got)
	}
}
