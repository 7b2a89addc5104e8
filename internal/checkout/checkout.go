// Package checkout finds the vggnb source tree a program runs in or under.
package checkout

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ModulePath is vggnb's Go module path.
const ModulePath = "github.com/vggnb/vggnb"

// Find walks up from dir to the directory whose go.mod declares ModulePath.
func Find(dir string) (string, error) {
	for d := dir; ; d = filepath.Dir(d) {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), "module "+ModulePath+"\n") {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no vggnb checkout (go.mod of %s) in %s or above", ModulePath, dir)
		}
	}
}
