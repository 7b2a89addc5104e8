package imagenet

import "errors"

// The kinds of error this package returns, for errors.Is; each error's
// message says the rest (the file, the sizes, the limit).
var (
	// ErrTooManyPixels: an image (or a requested size) over MaxPixels.
	ErrTooManyPixels = errors.New("imagenet: too many pixels")
	// ErrImage: images Batch cannot stack (none, nil, shapes that differ).
	ErrImage = errors.New("imagenet: images do not fit together")
)
