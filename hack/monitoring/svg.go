package main

import (
	"bytes"
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// The picture's geometry, in pixels: two panels side by side, as the dashboard's 12-column
// panels are.
const (
	pageWidth   = 1240
	margin      = 20
	panelGap    = 16
	panelWidth  = (pageWidth - 2*margin - panelGap) / 2
	plotHeight  = 170
	legendLines = 5
	lineHeight  = 14
	panelHeight = 34 + plotHeight + 26 + legendLines*lineHeight + 8
	rowHeight   = 30
)

// palette is Grafana's classic series palette.
var palette = []string{"#7EB26D", "#EAB839", "#6ED0E0", "#EF843C", "#E24D42", "#1F78C1", "#BA43A9", "#705DA0", "#508642", "#CCA300", "#447EBC", "#C15C17"}

// drawDashboard draws the panels in the dashboard's order: rows as headings, panels two by two.
func drawDashboard(title string, caption []string, panels []evaluated, steps []time.Time) []byte {
	var body bytes.Buffer
	y := margin + 44 + 14*len(caption)
	col := 0
	for _, p := range panels {
		if p.panel.Type == "row" {
			if col == 1 {
				y += panelHeight + panelGap
				col = 0
			}
			fmt.Fprintf(&body, `<text x="%d" y="%d" class="row">%s</text>`+"\n", margin, y+18, esc(p.panel.Title))
			fmt.Fprintf(&body, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="rule"/>`+"\n", margin, y+25, pageWidth-margin, y+25)
			y += rowHeight + 4
			continue
		}
		x := margin + col*(panelWidth+panelGap)
		drawPanel(&body, p, steps, x, y)
		col++
		if col == 2 {
			col = 0
			y += panelHeight + panelGap
		}
	}
	if col == 1 {
		y += panelHeight + panelGap
	}
	height := y + margin
	var out bytes.Buffer
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica, Arial, sans-serif">`+"\n",
		pageWidth, height, pageWidth, height)
	out.WriteString(`<style>
text { fill: #1f2328; font-size: 11px; }
.title { font-size: 20px; font-weight: bold; }
.caption { font-size: 11px; fill: #57606a; }
.row { font-size: 15px; font-weight: bold; }
.ptitle { font-size: 13px; font-weight: bold; }
.tick { font-size: 10px; fill: #57606a; }
.legend { font-size: 10.5px; }
.nodata { font-size: 14px; fill: #8c959f; }
.rule { stroke: #d0d7de; stroke-width: 1; }
.grid { stroke: #eaeef2; stroke-width: 1; }
.axis { stroke: #8c959f; stroke-width: 1; }
.panel { fill: #ffffff; stroke: #d0d7de; stroke-width: 1; }
.series { fill: none; stroke-width: 1.6; stroke-linejoin: round; }
</style>
`)
	fmt.Fprintf(&out, `<rect width="%d" height="%d" fill="#f6f8fa"/>`+"\n", pageWidth, height)
	fmt.Fprintf(&out, `<text x="%d" y="%d" class="title">%s</text>`+"\n", margin, margin+18, esc(title))
	for i, c := range caption {
		fmt.Fprintf(&out, `<text x="%d" y="%d" class="caption">%s</text>`+"\n", margin, margin+38+14*i, esc(c))
	}
	out.Write(body.Bytes())
	out.WriteString("</svg>\n")
	return out.Bytes()
}

// drawPanel draws one time series panel: title, y axis in the panel's unit, x axis in minutes
// and seconds since the recording began, one line per series, and a legend with each series'
// last value.
func drawPanel(w *bytes.Buffer, ev evaluated, steps []time.Time, x, y int) {
	fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" rx="4" class="panel"/>`+"\n", x, y, panelWidth, panelHeight)
	fmt.Fprintf(w, `<text x="%d" y="%d" class="ptitle">%s</text>`+"\n", x+10, y+20, esc(ev.panel.Title))
	unit := ev.panel.FieldConfig.Defaults.Unit
	px, py := x+58, y+34 // the plot's top left
	pw, ph := panelWidth-58-14, plotHeight

	lo, hi := 0.0, math.Inf(-1)
	for _, s := range ev.series {
		for _, v := range s.values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				hi = math.Max(hi, v)
				lo = math.Min(lo, v)
			}
		}
	}
	if math.IsInf(hi, -1) {
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="%d" height="%d" fill="#fafbfc" stroke="#eaeef2"/>`+"\n", px, py, pw, ph)
		fmt.Fprintf(w, `<text x="%d" y="%d" text-anchor="middle" class="nodata">No data</text>`+"\n", px+pw/2, py+ph/2+5)
		return
	}
	// Bytes get binary round ticks (MiB), everything else decimal ones.
	scale := 1.0
	if unit == "bytes" && hi >= 1<<20 {
		scale = 1 << 20
	}
	ticks := niceTicks(lo/scale, hi/scale, 4)
	for i := range ticks {
		ticks[i] *= scale
	}
	lo, hi = ticks[0], ticks[len(ticks)-1]
	yOf := func(v float64) float64 { return float64(py+ph) - (v-lo)/(hi-lo)*float64(ph) }
	n := len(steps)
	xOf := func(i int) float64 {
		if n < 2 {
			return float64(px)
		}
		return float64(px) + float64(i)/float64(n-1)*float64(pw)
	}
	for _, t := range ticks {
		yy := yOf(t)
		fmt.Fprintf(w, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" class="grid"/>`+"\n", px, yy, px+pw, yy)
		fmt.Fprintf(w, `<text x="%d" y="%.1f" text-anchor="end" class="tick">%s</text>`+"\n", px-5, yy+3.5, esc(formatValue(t, unit)))
	}
	// The x axis: time since the first scrape.
	total := steps[n-1].Sub(steps[0])
	every := niceDuration(total / 6)
	for d := time.Duration(0); d <= total; d += every {
		xx := float64(px) + float64(d)/float64(max(total, 1))*float64(pw)
		fmt.Fprintf(w, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="axis"/>`+"\n", xx, py+ph, xx, py+ph+4)
		fmt.Fprintf(w, `<text x="%.1f" y="%d" text-anchor="middle" class="tick">%s</text>`+"\n", xx, py+ph+15, minSec(d))
	}
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`+"\n", px, py+ph, px+pw, py+ph)
	fmt.Fprintf(w, `<line x1="%d" y1="%d" x2="%d" y2="%d" class="axis"/>`+"\n", px, py, px, py+ph)

	for i, s := range ev.series {
		color := palette[i%len(palette)]
		var path strings.Builder
		pen := false
		for j, v := range s.values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				pen = false
				continue
			}
			op := "L"
			if !pen {
				op = "M"
			}
			fmt.Fprintf(&path, "%s%.1f %.1f ", op, xOf(j), yOf(v))
			pen = true
		}
		if path.Len() > 0 {
			fmt.Fprintf(w, `<path d="%s" class="series" stroke="%s"/>`+"\n", strings.TrimSpace(path.String()), color)
		}
	}
	// The legend: one series a line, with its last value, in two columns.
	ly := py + ph + 32
	shown := min(len(ev.series), 2*legendLines)
	if len(ev.series) > 2*legendLines {
		shown = 2*legendLines - 1
	}
	for i := range shown {
		s := ev.series[i]
		lx := x + 12 + (i/legendLines)*(panelWidth/2)
		yy := ly + (i%legendLines)*lineHeight
		last := math.NaN()
		for _, v := range s.values {
			if !math.IsNaN(v) {
				last = v
			}
		}
		val := "-"
		if !math.IsNaN(last) {
			val = formatValue(last, unit)
		}
		label := s.legend
		if r := []rune(label); len(r) > 40 {
			label = string(r[:39]) + "…"
		}
		fmt.Fprintf(w, `<rect x="%d" y="%d" width="10" height="3" fill="%s"/>`+"\n", lx, yy-4, palette[i%len(palette)])
		fmt.Fprintf(w, `<text x="%d" y="%d" class="legend">%s <tspan fill="#57606a">%s</tspan></text>`+"\n", lx+15, yy, esc(label), esc(val))
	}
	if more := len(ev.series) - shown; more > 0 {
		lx := x + 12 + panelWidth/2
		yy := ly + (legendLines-1)*lineHeight
		fmt.Fprintf(w, `<text x="%d" y="%d" class="legend">and %d more series</text>`+"\n", lx+15, yy, more)
	}
}

// niceTicks returns about n+1 round values from at most lo to at least hi.
func niceTicks(lo, hi float64, n int) []float64 {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ts []float64
	for v := math.Floor(lo/step) * step; ; v += step {
		ts = append(ts, v)
		if v >= hi-step*1e-9 {
			break
		}
	}
	return ts
}

// niceDuration rounds a tick spacing up to a round number of seconds or minutes.
func niceDuration(d time.Duration) time.Duration {
	for _, c := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
		time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour} {
		if c >= d {
			return c
		}
	}
	return time.Hour
}

func minSec(d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// formatValue formats a value in a Grafana unit.
func formatValue(v float64, unit string) string {
	switch unit {
	case "bytes":
		for _, u := range []struct {
			div  float64
			name string
		}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
			if math.Abs(v) >= u.div {
				return trim(v/u.div) + " " + u.name
			}
		}
		return trim(v) + " B"
	case "s":
		switch {
		case v == 0:
			return "0 s"
		case math.Abs(v) < 1e-3:
			return trim(v*1e6) + " µs"
		case math.Abs(v) < 1:
			return trim(v*1e3) + " ms"
		}
		return trim(v) + " s"
	case "reqps":
		return si(v) + " req/s"
	case "ops":
		return si(v) + " ops/s"
	case "percentunit":
		return trim(v*100) + "%"
	}
	return si(v)
}

func si(v float64) string {
	switch a := math.Abs(v); {
	case a >= 1e9:
		return trim(v/1e9) + " G"
	case a >= 1e6:
		return trim(v/1e6) + " M"
	case a >= 1e4:
		return trim(v/1e3) + " K"
	}
	return trim(v)
}

// trim formats with at most three significant digits after the point, without trailing zeros.
func trim(v float64) string {
	s := fmt.Sprintf("%.3g", v)
	if strings.Contains(s, "e") {
		s = fmt.Sprintf("%.0f", v)
	}
	return s
}

func esc(s string) string { return html.EscapeString(s) }
