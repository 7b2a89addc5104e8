package style

import (
	. "github.com/gomlx/gomlx/core/graph" //nolint:staticcheck // GoMLX's own style for graph code.
)

// LossNodes gives the external tests the step graph's loss: the sum of the
// three weighted losses for x, built in x's graph with the targets as
// constants.
func (t *Transfer) LossNodes(x *Node) *Node {
	in := []*Node{x}
	for _, target := range t.targets {
		in = append(in, Const(x.Graph(), target))
	}
	content, style, tv := t.losses(in)
	return Add(Add(content, style), tv)
}
