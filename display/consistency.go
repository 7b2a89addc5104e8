package display

import (
	"fmt"
	"math"

	"github.com/vggnb/vggnb/gomlx_vgg/consistency"
)

// ConsistencyTable renders a consistency report: both means side by side, the
// differences, PASS/FAIL, and the peer's relative error when Beside added one.
func ConsistencyTable(r *consistency.Report) HTML {
	var rows [][]string
	for _, row := range r.Rows {
		verdict := `<span class="pass">PASS</span>`
		if !row.Pass {
			verdict = `<span class="fail">FAIL</span>`
		}
		var cells []string
		if row.Problem != "" {
			cells = []string{esc(row.Layer), esc(fmt.Sprint(row.Shape)), "", "", "", esc(row.Problem)}
		} else {
			cells = []string{esc(row.Layer), esc(fmt.Sprint(row.Shape)), num(row.MeanA), num(row.MeanB),
				num(row.MaxAbs), esc(fmt.Sprintf("%.2e", row.Rel))}
		}
		if r.Peer != "" {
			peer := "—"
			if !math.IsNaN(row.PeerRel) {
				peer = esc(fmt.Sprintf("%.2e", row.PeerRel))
			}
			cells = append(cells, peer)
		}
		rows = append(rows, append(cells, verdict))
	}
	overall := "PASS"
	if !r.Passed() {
		overall = fmt.Sprintf("FAIL (%d layers)", len(r.Failed()))
	}
	caption := fmt.Sprintf("%s vs %s — max|a−b| / max|b| ≤ %g: %s", r.A, r.B, r.Tolerance, overall)
	head := []string{"layer", "shape", "mean " + r.A, "mean " + r.B, "max |a−b|", "rel (a)"}
	if r.Peer != "" {
		head = append(head, "rel ("+r.Peer+")")
	}
	return table(caption, append(head, ""), rows)
}

// DifferenceChart draws a consistency report as one bar per layer: max|a−b| /
// max|b|, so where two implementations (or two conversions of a weight file)
// start to disagree shows at a glance. A layer that could not be compared
// (missing, other shape) has no bar and says why in its tooltip.
func DifferenceChart(r *consistency.Report) SVG {
	labels := make([]string, len(r.Rows))
	values := make([]float64, len(r.Rows))
	failed := 0
	for i, row := range r.Rows {
		labels[i] = row.Layer
		if row.Problem != "" {
			labels[i] += " (" + row.Problem + ")"
		} else {
			values[i] = row.Rel
		}
		if !row.Pass {
			failed++
		}
	}
	title := fmt.Sprintf("%s vs %s: %d of %d layers differ", r.A, r.B, failed, len(r.Rows))
	return barChart(title, labels, values, fmt.Sprintf("max|a−b| / max|b| (tolerance %.0e)", r.Tolerance), "layer", true)
}
