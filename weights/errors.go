package weights

import "errors"

// Errors callers can test with errors.Is; the messages of the errors that
// match them say more (file, layer, URL) and are unchanged by the matching.
var (
	// ErrOffline: a download could not reach its server (no network, a refused
	// or stalled connection). The message says where to place the file by hand.
	ErrOffline = errors.New("weights: cannot reach the download server")
	// ErrChecksum: a file's size or MD5 differs from the pinned one.
	ErrChecksum = errors.New("weights: checksum mismatch")
	// ErrWrongModel: a weight file does not fit the model: another model (VGG16
	// against VGG19), no classifier top, layers missing or extra, or a weight's
	// shape (then the error is also a *ShapeError).
	ErrWrongModel = errors.New("weights: the file does not fit the model")
)

// ShapeError is a weight whose shape in the file differs from the model's.
// It matches ErrWrongModel.
type ShapeError struct {
	// File, Layer and Weight ("kernel" or "bias") locate it.
	File, Layer, Weight string
	// Got is its shape in the file, Want the model's.
	Got, Want []int
	msg       string
}

func (e *ShapeError) Error() string { return e.msg }

// Is makes a ShapeError match ErrWrongModel.
func (e *ShapeError) Is(target error) bool { return target == ErrWrongModel }

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
