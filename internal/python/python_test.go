package python

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFromEnv(t *testing.T) {
	t.Setenv("VGGNB_PYTHON", "")
	if got := FromEnv(); got != Interpreter {
		t.Errorf("FromEnv() with VGGNB_PYTHON unset = %q, want %q", got, Interpreter)
	}
	t.Setenv("VGGNB_PYTHON", "/opt/py/bin/python3")
	if got := FromEnv(); got != "/opt/py/bin/python3" {
		t.Errorf("FromEnv() = %q, want $VGGNB_PYTHON", got)
	}
}

func TestReferenceCacheFromEnv(t *testing.T) {
	for _, c := range []struct{ env, want string }{
		{"", filepath.Join(os.TempDir(), "vggnb-reference-cache")},
		{"off", ""},
		{"/var/cache/refs", "/var/cache/refs"},
	} {
		t.Setenv("VGGNB_REFERENCE_CACHE", c.env)
		if got := ReferenceCacheFromEnv(); got != c.want {
			t.Errorf("VGGNB_REFERENCE_CACHE=%q: ReferenceCacheFromEnv() = %q, want %q", c.env, got, c.want)
		}
	}
}
