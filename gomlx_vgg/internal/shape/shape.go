// Package shape names a tensor's shape in error messages.
package shape

import "github.com/gomlx/gomlx/core/tensors"

// Of is x's shape, or "nil" for a nil tensor: what an error says a caller
// passed.
func Of(x *tensors.Tensor) any {
	if x == nil {
		return "nil"
	}
	return x.Shape()
}
