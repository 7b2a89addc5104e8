// Package errkind marks an error as being of a kind (a sentinel error that
// callers test with errors.Is) without changing its message.
package errkind

// kindError is err, whose message it keeps, matching kind too.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// With returns err, its message unchanged, matching kind with errors.Is as
// well as everything err matches; nil for a nil err.
func With(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}
