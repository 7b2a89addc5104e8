package transfer

import (
	"errors"
	"fmt"
	"sync"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// executors keeps a model's executors by name, each built once (a model.Exec
// compiles again only for a new input shape), and runs them one at a time.
type executors struct {
	mu sync.Mutex
	m  map[string]*model.Exec
}

// run runs the executor called name on x, building it with build the first time.
func (e *executors) run(name string, build func() (*model.Exec, error), x *tensors.Tensor) ([]*tensors.Tensor, error) {
	if x == nil {
		return nil, errors.New("transfer: nil input")
	}
	if x.DType() != dtypes.Float32 {
		return nil, fmt.Errorf("transfer: input is %s, want float32", x.DType())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	ex := e.m[name]
	if ex == nil {
		var err error
		if ex, err = build(); err != nil {
			return nil, fmt.Errorf("transfer: %w", err)
		}
		if e.m == nil {
			e.m = map[string]*model.Exec{}
		}
		e.m[name] = ex
	}
	outs, err := ex.Exec(x)
	if err != nil {
		return nil, fmt.Errorf("transfer: %s on input %s: %w", name, x.Shape(), err)
	}
	return outs, nil
}
