package kernels

import (
	"fmt"
	"math"

	"github.com/vggnb/vggnb/internal/parallel"
)

// RMSpropParams are RMSprop's scalars for one step, in float32 as GoMLX's
// graph computes them.
type RMSpropParams struct {
	// Rho is the moving average's decay, LR the learning rate, Epsilon the
	// denominator's term and Debias 1/(1-ρ^step).
	Rho, LR, Epsilon, Debias float32
}

// RMSprop is one RMSprop step for a variable of len(old) values with gradient
// g: the second moment m2 is updated in place to ρ·m2 + (1-ρ)·g², and nv gets
// old - LR·g / (sqrt(m2·Debias) + Epsilon), each operation rounded to float32
// in that order, like GoMLX's graph. It runs on Best's kernels, on all cores.
func RMSprop(nv, m2, old, g []float32, p RMSpropParams) error {
	return Kernels{}.RMSprop(nv, m2, old, g, p)
}

// RMSprop is the package's RMSprop on k.
func (k Kernels) RMSprop(nv, m2, old, g []float32, p RMSpropParams) error {
	if len(nv) != len(old) || len(m2) != len(old) || len(g) != len(old) {
		return fmt.Errorf("kernels: RMSprop on %d values: new values %d, moments %d, gradient %d", len(old), len(nv), len(m2), len(g))
	}
	f := k.or().vec.rmsprop
	s := [5]float32{p.Rho, 1 - p.Rho, p.Debias, p.LR, p.Epsilon}
	parallel.Ranges(len(g), 1<<15, func(from, to int) { f(nv[from:to], m2[from:to], old[from:to], g[from:to], &s) })
	return nil
}

// rmspropGo is vectorOps.rmsprop in portable Go; s holds ρ, 1-ρ, Debias, LR
// and Epsilon.
func rmspropGo(nv, m2, old, g []float32, s *[5]float32) {
	rho, omr, debias, lr, eps := s[0], s[1], s[2], s[3], s[4]
	nv, m2, old = nv[:len(g)], m2[:len(g)], old[:len(g)]
	for j, gj := range g {
		// float32(): each product rounded, never fused into an FMA (which
		// Go does on arm64), as the graph and the assembly compute it.
		m := float32(rho*m2[j]) + float32(omr*float32(gj*gj))
		m2[j] = m
		denom := sqrt32(float32(m*debias)) + eps
		nv[j] = old[j] - float32(float32(lr*gj)/denom)
	}
}

// sqrt32 is float32's correctly rounded square root (as SQRTPS's).
func sqrt32(x float32) float32 { return float32(math.Sqrt(float64(x))) }
