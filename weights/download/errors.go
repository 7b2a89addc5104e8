package download

import (
	"errors"

	"github.com/vggnb/vggnb/internal/errkind"
)

// Errors callers can test with errors.Is; the messages of the errors that match
// them say more (file, URL, where to place it) and are unchanged by the match.
var (
	// ErrOffline: a download could not reach its server (no network, a refused
	// or stalled connection). The message says where to place the file by hand.
	ErrOffline = errors.New("download: cannot reach the server")
	// ErrChecksum: a file's size or MD5 differs from the pinned one.
	ErrChecksum = errors.New("download: checksum mismatch")
	// ErrServer: the server answered, but not with the file (an HTTP error,
	// or a page where the file should be). Nothing was kept.
	ErrServer = errors.New("download: the server did not send the file")
	// ErrIncomplete: the download stopped before the end (the connection
	// dropped, or no data came for the idle timeout); what arrived is kept and
	// the next fetch resumes it.
	ErrIncomplete = errors.New("download: incomplete")
)

// withKind returns err matching kind too (nil for nil), its message unchanged.
func withKind(kind, err error) error { return errkind.With(kind, err) }
