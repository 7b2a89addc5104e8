package atomicfile_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vggnb/vggnb/internal/atomicfile"
)

func ExampleWriteFile() {
	dir, _ := os.MkdirTemp("", "atomicfile-")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "report.html")
	if err := atomicfile.WriteFile(path, []byte("<p>ok</p>")); err != nil {
		fmt.Println(err)
	}
	b, _ := os.ReadFile(path)
	fi, _ := os.Stat(path)
	fmt.Println(string(b), fi.Mode())
	// Output: <p>ok</p> -rw-r--r--
}
