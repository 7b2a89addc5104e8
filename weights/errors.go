package weights

import "errors"

// ErrWrongModel matches (errors.Is) the errors of a weight file that does not
// fit the model: another model (VGG16 against VGG19), no classifier top, layers
// missing or extra, or a weight's shape (then the error is also a *ShapeError).
// Their messages name the file, the layer and the shapes. Downloads fail with
// download.ErrOffline and download.ErrChecksum.
var ErrWrongModel = errors.New("weights: the file does not fit the model")

// ErrTooManyClasses matches (errors.Is) VGG's error for more classes than its
// limit (MaxClasses, or VGGUpTo's).
var ErrTooManyClasses = errors.New("over the limit")

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

// wrongModel returns err, its message unchanged, matching ErrWrongModel.
func wrongModel(err error) error { return &wrongModelError{err} }

type wrongModelError struct{ err error }

func (e *wrongModelError) Error() string        { return e.err.Error() }
func (e *wrongModelError) Unwrap() error        { return e.err }
func (e *wrongModelError) Is(target error) bool { return target == ErrWrongModel }
