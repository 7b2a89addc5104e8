package gomlx_vgg

import (
	"errors"

	"github.com/vggnb/vggnb/internal/errkind"
)

// The kinds of error this package returns, for errors.Is; each error's message
// says the rest (the model, the layer, the shapes).
var (
	// ErrConfig: a Builder option or combination that Keras would refuse too
	// (an unknown model, include_top with the wrong input_shape, ...).
	ErrConfig = errors.New("gomlx_vgg: invalid model configuration")
	// ErrUnknownLayer: a layer name the model does not have (or, for
	// package tape, that is not a convolution).
	ErrUnknownLayer = errors.New("gomlx_vgg: no such layer")
	// ErrInputShape: an input (or a gradient) whose type or shape the model
	// cannot take.
	ErrInputShape = errors.New("gomlx_vgg: input does not fit the model")
	// ErrBackend: a compute backend that is unknown or not in this binary.
	ErrBackend = errors.New("gomlx_vgg: backend not available")
)

// withKind marks err (nil stays nil) as being of the given kind, its
// message unchanged.
func withKind(kind, err error) error { return errkind.With(kind, err) }
