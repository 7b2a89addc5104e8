package errkind

import (
	"errors"
	"io/fs"
	"testing"
)

func TestWith(t *testing.T) {
	kind := errors.New("kind")
	inner := &fs.PathError{Op: "open", Path: "/x", Err: fs.ErrNotExist}
	err := With(kind, inner)
	var pe *fs.PathError
	if !errors.Is(err, kind) || !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &pe) || err.Error() != inner.Error() {
		t.Errorf("With(kind, %v) = %v: want the same message, matching kind, fs.ErrNotExist and *fs.PathError", inner, err)
	}
	if With(kind, nil) != nil {
		t.Error("With(kind, nil) is not nil")
	}
}
