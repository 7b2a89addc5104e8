package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestRMSprop checks RMSprop on every instruction set against the step
// written out in float32, to the bit, on lengths around the vector widths and
// past one chunk of the cores' work.
func TestRMSprop(t *testing.T) {
	p := RMSpropParams{Rho: 0.9, LR: 1e-3, Epsilon: 1e-7, Debias: 1 / (1 - float32(math.Pow(0.9, 3)))}
	for name, ks := range registered {
		for _, n := range []int{0, 1, 7, 8, 15, 16, 17, 100, 1<<15 + 33} {
			t.Run(fmt.Sprintf("%s/%d", name, n), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(n), 7))
				old, g, m2 := randSlice(r, n), randSlice(r, n), randSlice(r, n)
				for i := range m2 {
					m2[i] *= m2[i] // moments are not negative
				}
				if n > 3 {
					g[1], m2[2] = 0, 0 // the ε alone in the denominator
				}
				wantM2, wantNV := slices.Clone(m2), make([]float32, n)
				for j, gj := range g {
					m := float32(p.Rho*wantM2[j]) + float32((1-p.Rho)*float32(gj*gj))
					wantM2[j] = m
					denom := float32(math.Sqrt(float64(float32(m*p.Debias)))) + p.Epsilon
					wantNV[j] = old[j] - float32(float32(p.LR*gj)/denom)
				}
				nv := randSlice(r, n) // junk: every value must be written
				if err := ks.RMSprop(nv, m2, old, g, p); err != nil {
					t.Fatal(err)
				}
				exact(t, m2, wantM2)
				exact(t, nv, wantNV)
			})
		}
	}
	if err := RMSprop(make([]float32, 3), make([]float32, 4), make([]float32, 4), make([]float32, 4), p); err == nil {
		t.Error("new values of the wrong length are accepted")
	}
}
