package review

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// Charts are drawn as inline SVG, sized by their viewBox so they scale
// with the page; every mark has a <title> the browser shows on hover.

const (
	chartW   = 720
	chartH   = 240
	padLeft  = 44
	padRight = 12
	padTop   = 12
	padBot   = 44
)

// palette colours series that have no colour of their own.
var palette = []string{"#1a73e8", "#e8710a", "#188038", "#9334e6", "#c5221f", "#007b83", "#b06000", "#5f6368"}

var severityColors = map[string]string{
	"critical": "#a50e0e", "high": "#e8710a", "medium": "#f9ab00", "low": "#1a73e8", "none": "#9aa0a6",
}

var categoryColors = map[string]string{
	"Availability": "#1a73e8", "Security": "#c5221f", "Performance": "#e8710a",
	"Cost": "#188038", "Recovery": "#9334e6", "none": "#9aa0a6",
}

// colorsFor gives each key its own colour, or one from the palette.
func colorsFor(keys []string, own map[string]string) map[string]string {
	out := map[string]string{}
	next := 0
	for _, k := range keys {
		if c, ok := own[k]; ok {
			out[k] = c
			continue
		}
		if k == "other" {
			out[k] = "#9aa0a6"
			continue
		}
		out[k] = palette[next%len(palette)]
		next++
	}
	return out
}

func esc(s string) string { return html.EscapeString(s) }

// niceMax rounds n up to 1, 2 or 5 times a power of ten, for the y axis.
func niceMax(n int) int {
	if n <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(float64(n))))
	for _, m := range []float64{1, 2, 5, 10} {
		if float64(n) <= m*p {
			return int(m * p)
		}
	}
	return n
}

func svgOpen(b *strings.Builder, label string, w, h int) {
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="%s" viewBox="0 0 %d %d" width="%d" height="%d"><title>%s</title>`,
		esc(label), w, h, w, h, esc(label))
}

// stackedBars draws one stacked bar per bucket, a segment per key.
func stackedBars(label string, buckets []Bucket, step time.Duration, keys []string, colors map[string]string, value func(Bucket, string) int) string {
	var b strings.Builder
	svgOpen(&b, label, chartW, chartH)
	top := 0
	for _, bk := range buckets {
		top = max(top, bk.Total)
	}
	ymax := niceMax(top)
	plotW, plotH := float64(chartW-padLeft-padRight), float64(chartH-padTop-padBot)
	// y axis: a gridline per step, five at most.
	tick := max(1, ymax/5)
	for v := 0; v <= ymax; v += tick {
		y := float64(padTop) + plotH - plotH*float64(v)/float64(ymax)
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#e0e0e0"/>`, padLeft, y, chartW-padRight, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end" font-size="11" fill="#5f6368">%d</text>`, padLeft-6, y+4, v)
	}
	n := max(len(buckets), 1)
	slot := plotW / float64(n)
	barW := math.Max(1, slot*0.8)
	labelEvery := int(math.Ceil(float64(n) / 12))
	for i, bk := range buckets {
		x := float64(padLeft) + slot*float64(i) + (slot-barW)/2
		y := float64(padTop) + plotH
		when := bucketLabel(bk.Start, step)
		for _, k := range keys {
			v := value(bk, k)
			if v == 0 {
				continue
			}
			h := plotH * float64(v) / float64(ymax)
			y -= h
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %d (%s)</title></rect>`,
				x, y, barW, h, colors[k], esc(k), v, esc(when))
		}
		if i%labelEvery == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle" font-size="11" fill="#5f6368">%s</text>`,
				x+barW/2, chartH-padBot+16, esc(when))
		}
	}
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#5f6368"/>`, padLeft, padTop+int(plotH), chartW-padRight, padTop+int(plotH))
	if top == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="14" fill="#5f6368">no incidents in this period</text>`, chartW/2, chartH/2)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func bucketLabel(t time.Time, step time.Duration) string {
	switch {
	case step < 24*time.Hour:
		return t.Format("Jan 2 15:04")
	case step < 7*24*time.Hour:
		return t.Format("Jan 2")
	}
	return "week of " + t.Format("Jan 2")
}

// bar is one bar of a bar chart.
type bar struct {
	label string
	value int
	color string
	note  string // the bar's title
}

// hbars draws horizontal bars, one per row, labelled on the left.
func hbars(label string, bars []bar) string {
	const rowH, labelW = 26, 220
	h := max(len(bars), 1)*rowH + 24
	var b strings.Builder
	svgOpen(&b, label, chartW, h)
	top := 0
	for _, br := range bars {
		top = max(top, br.value)
	}
	ymax := niceMax(top)
	plotW := float64(chartW - labelW - 60)
	for i, br := range bars {
		y := 8 + i*rowH
		w := plotW * float64(br.value) / float64(ymax)
		name := br.label
		if len([]rune(name)) > 30 {
			name = string([]rune(name)[:29]) + "…"
		}
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end" font-size="12" fill="#202124">%s</text>`, labelW-8, y+14, esc(name))
		fmt.Fprintf(&b, `<rect class="bar" x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>`,
			labelW, y, math.Max(w, 1), rowH-8, br.color, esc(br.note))
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="12" fill="#202124">%d</text>`, float64(labelW)+math.Max(w, 1)+6, y+14, br.value)
	}
	if len(bars) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle" font-size="14" fill="#5f6368">nothing to show</text>`, chartW/2, 20)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// timeline draws one problem: its incidents as bars from opening to
// resolution (a dot while open) and its top suspected causes as marks
// before them, on one time axis.
func timeline(p ProblemRow, causes int) string {
	const h = 170
	var b strings.Builder
	svgOpen(&b, "Timeline of problem "+p.Key+": incidents and suspected causes", chartW, h)
	cs := p.SuspectedCauses[:min(len(p.SuspectedCauses), causes)]
	lo, hi := p.FirstSeen, p.LastSeen
	for _, o := range p.History {
		if o.Resolved.After(hi) {
			hi = o.Resolved
		}
	}
	for _, c := range cs {
		if c.Time.Before(lo) {
			lo = c.Time
		}
	}
	span := hi.Sub(lo)
	if span <= 0 {
		span = time.Hour
	}
	lo, hi = lo.Add(-span/20), hi.Add(span/20)
	span = hi.Sub(lo)
	plotW := float64(chartW - padLeft - padRight)
	x := func(t time.Time) float64 { return float64(padLeft) + plotW*float64(t.Sub(lo))/float64(span) }
	const axisY, incY, causeY = 120, 80, 40
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#5f6368"/>`, padLeft, axisY, chartW-padRight, axisY)
	for i := 0; i <= 4; i++ {
		t := lo.Add(span * time.Duration(i) / 4)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#5f6368"/>`, x(t), axisY, x(t), axisY+4)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="%s" font-size="11" fill="#5f6368">%s</text>`, x(t), axisY+18, anchor(x(t)), esc(t.Format("Jan 2 15:04")))
	}
	fmt.Fprintf(&b, `<text x="4" y="%d" font-size="11" fill="#5f6368">incidents</text>`, incY-12)
	fmt.Fprintf(&b, `<text x="4" y="%d" font-size="11" fill="#5f6368">changes</text>`, causeY-14)
	for _, o := range p.History {
		if o.Opened.Before(lo) {
			continue
		}
		if d := o.TimeToResolve(); d > 0 {
			w := math.Max(x(o.Resolved)-x(o.Opened), 3)
			fmt.Fprintf(&b, `<rect class="incident" x="%.1f" y="%d" width="%.1f" height="14" rx="3" fill="#c5221f"><title>%s opened %s, resolved after %s</title></rect>`,
				x(o.Opened), incY-7, w, esc(o.OpsItemID), esc(o.Opened.Format(time.RFC3339)), esc(Duration(d)))
			continue
		}
		fmt.Fprintf(&b, `<circle class="incident" cx="%.1f" cy="%d" r="6" fill="#c5221f"><title>%s opened %s, not resolved</title></circle>`,
			x(o.Opened), incY, esc(o.OpsItemID), esc(o.Opened.Format(time.RFC3339)))
	}
	for i, c := range cs {
		cx := x(c.Time)
		color := "#1a73e8"
		if i == 0 {
			color = "#e8710a"
		}
		fmt.Fprintf(&b, `<path class="cause" d="M%.1f %d l7 7 l-7 7 l-7 -7 z" fill="%s"><title>%s by %s at %s on %s: preceded %d incidents</title></path>`,
			cx, causeY-7, color, esc(c.EventName), esc(c.Principal), esc(c.Time.Format(time.RFC3339)), esc(c.Resource), c.Incidents)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s" stroke-dasharray="3 3"/>`, cx, causeY+7, cx, axisY, color)
		if i == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-size="11" fill="#202124" text-anchor="%s">%s</text>`,
				cx, causeY-12, anchor(cx), esc(shorten(c.EventName, 40)))
		}
	}
	b.WriteString(`</svg>`)
	return b.String()
}

func anchor(x float64) string {
	switch {
	case x < chartW/4:
		return "start"
	case x > chartW*3/4:
		return "end"
	}
	return "middle"
}

func shorten(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
