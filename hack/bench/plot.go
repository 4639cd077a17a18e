package main

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// Layout of the plot: one panel per number of Extensions, stacked, each with its own time axis.
const (
	plotWidth    = 820
	panelHeight  = 320
	marginLeft   = 70
	marginRight  = 24
	marginBottom = 52
	// legendLine is the height of one legend line; the legend sits between the panel's title and
	// its plot area, so that it never hides a line.
	legendLine = 18
)

var plotColors = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"}

// plot draws the share of Extensions Ready over the time since the apply started, one line per
// run, as an SVG document. A dot on each line marks the apply's return.
func plot(runs []result) string {
	var sizes []int
	for _, r := range runs {
		if len(r.Curve) > 0 && !slices.Contains(sizes, r.N) {
			sizes = append(sizes, r.N)
		}
	}
	slices.Sort(sizes)
	// A latency (and number of shards) has the same colour in every panel.
	var kinds []lineKind
	for _, r := range runs {
		if k := kindOf(r); !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
	}
	slices.SortFunc(kinds, func(a, b lineKind) int {
		if a.latencyMS != b.latencyMS {
			return int(a.latencyMS - b.latencyMS)
		}
		return a.shards - b.shards
	})
	colors := map[lineKind]string{}
	for i, k := range kinds {
		colors[k] = plotColors[i%len(plotColors)]
	}
	height := max(1, len(sizes)) * panelHeight
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		plotWidth, height, plotWidth, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", plotWidth, height)
	if len(sizes) == 0 {
		b.WriteString(`<text x="20" y="40">No run converged.</text>` + "\n")
	}
	for i, n := range sizes {
		var panel []result
		for _, r := range runs {
			if r.N == n && len(r.Curve) > 0 {
				panel = append(panel, r)
			}
		}
		drawPanel(&b, i*panelHeight, n, panel, colors)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// lineKind is what gives a run its colour: its PBX latency and its number of shards.
type lineKind struct {
	latencyMS int64
	shards    int
}

func kindOf(r result) lineKind { return lineKind{latencyMS: r.LatencyMS, shards: max(1, r.Shards)} }

func drawPanel(b *strings.Builder, top, n int, runs []result, colors map[lineKind]string) {
	x0, x1 := float64(marginLeft), float64(plotWidth-marginRight)
	y0, y1 := float64(top+panelHeight-marginBottom), float64(top+40+legendLine*len(runs))
	tMax := 0.0
	for _, r := range runs {
		tMax = max(tMax, r.Curve[len(r.Curve)-1].T, r.ApplySeconds)
	}
	step := niceStep(tMax / 8)
	xMax := math.Max(step, math.Ceil(tMax*1.02/step)*step)
	px := func(t float64) float64 { return x0 + (x1-x0)*t/xMax }
	py := func(ready int) float64 { return y0 - (y0-y1)*float64(ready)/float64(n) }

	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s Extensions: Ready (solid) and created (dashed) since kubectl apply started</text>`+"\n",
		marginLeft, top+24, thousands(n))
	// Grid, ticks and labels.
	for t := 0.0; t <= xMax+step/2; t += step {
		x := px(t)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x, y1, x, y0)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", x, y0+16, trimFloat(t))
	}
	for pct := 0; pct <= 100; pct += 25 {
		y := y0 - (y0-y1)*float64(pct)/100
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x0, y, x1, y)
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%d%%</text>`+"\n", x0-6, y+4, pct)
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x0, y0, x1, y0)
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", x0, y0, x0, y1)
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">seconds since kubectl apply started</text>`+"\n", (x0+x1)/2, y0+38)
	fmt.Fprintf(b, `<text transform="translate(%d %.1f) rotate(-90)" text-anchor="middle">Extensions (share of N)</text>`+"\n", 18, (y0+y1)/2)

	for i, r := range runs {
		color := colors[kindOf(r)]
		fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", color, stepLine(r.Curve, px, py))
		if len(r.CreatedCurve) > 0 {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="1" stroke-dasharray="4 3" points="%s"/>`+"\n",
				color, stepLine(r.CreatedCurve, px, py))
		}
		fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="4" fill="white" stroke="%s" stroke-width="2"/>`+"\n",
			px(r.ApplySeconds), py(readyAt(r.Curve, r.ApplySeconds)), color)
		// Legend, under the title.
		ly := float64(top + 40 + legendLine*i)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", x0+12, ly, x0+36, ly, color)
		what := fmt.Sprintf("PBX latency %d ms", r.LatencyMS)
		if r.Shards > 1 {
			what += fmt.Sprintf(", %d shards", r.Shards)
		}
		label := fmt.Sprintf("%s: all Ready %.2f s after apply returned (o: apply returned after %.2f s)",
			what, r.ReadySeconds, r.ApplySeconds)
		if r.Error != "" {
			label = fmt.Sprintf("%s: did not finish (%s)", what, firstLine(r.Error))
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f">%s</text>`+"\n", x0+42, ly+4, html.EscapeString(label))
	}
}

// stepLine is the points of a polyline whose count rises at each point's time.
func stepLine(curve []point, px func(float64) float64, py func(int) float64) string {
	pts := []string{fmt.Sprintf("%.1f,%.1f", px(0), py(0))}
	prev := 0
	for _, p := range curve {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p.T), py(prev)), fmt.Sprintf("%.1f,%.1f", px(p.T), py(p.Ready)))
		prev = p.Ready
	}
	return strings.Join(pts, " ")
}

// readyAt is the Ready count of a curve at time t.
func readyAt(curve []point, t float64) int {
	n := 0
	for _, p := range curve {
		if p.T <= t {
			n = p.Ready
		}
	}
	return n
}

// niceStep rounds d up to 1, 2 or 5 times a power of ten.
func niceStep(d float64) float64 {
	if d <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(d)))
	for _, m := range []float64{1, 2, 5, 10} {
		if d <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", f), "0"), ".")
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	if len(line) > 80 {
		line = line[:80] + "…"
	}
	return line
}
