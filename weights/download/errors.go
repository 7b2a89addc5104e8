package download

import "errors"

// Errors callers can test with errors.Is; the messages of the errors that match
// them say more (file, URL, where to place it) and are unchanged by the match.
var (
	// ErrOffline: a download could not reach its server (no network, a refused
	// or stalled connection). The message says where to place the file by hand.
	ErrOffline = errors.New("download: cannot reach the server")
	// ErrChecksum: a file's size or MD5 differs from the pinned one.
	ErrChecksum = errors.New("download: checksum mismatch")
)

// kindError gives err a sentinel to match with errors.Is, its message unchanged.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// withKind returns err matching kind too (nil for nil).
func withKind(kind, err error) error {
	if err == nil {
		return nil
	}
	return &kindError{kind: kind, err: err}
}
