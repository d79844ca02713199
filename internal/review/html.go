package review

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"
)

// causesShown is how many suspected causes the report lists per problem.
const causesShown = 5

// legendItem is one entry of a chart's legend.
type legendItem struct {
	Label string
	// Color is one of the package's own colours, never input.
	Color template.CSS
}

// chart is one chart of the page with its legend.
type chart struct {
	Title  string
	SVG    template.HTML
	Legend []legendItem
}

// page is what the template renders.
type page struct {
	*Review
	Period        string
	Charts        []chart
	TTRChart      chart
	RuleChart     chart
	Timeline      template.HTML
	Top           *ProblemRow
	SnapshotBlock template.HTML
}

// WriteHTML writes the review as one self-contained HTML page: inline CSS
// and SVG, no scripts that run, no requests to anywhere. It carries the
// rules snapshot for the next review (see ReadSnapshot).
func (r *Review) WriteHTML(w io.Writer) error {
	snap, err := snapshotScript(r.Snapshot)
	if err != nil {
		return err
	}
	p := page{
		Review: r,
		Period: fmt.Sprintf("%s – %s", r.From.Format("2006-01-02 15:04"), r.To.Format("2006-01-02 15:04 MST")),
		// The snapshot is JSON with <, > and & escaped, so it can sit in a
		// script element of a data type verbatim.
		SnapshotBlock: template.HTML(`<script type="application/json" id="` + snapshotElement + `">` + snap + `</script>`),
	}
	sev := colorsFor(r.Severities, severityColors)
	cat := colorsFor(r.Categories, categoryColors)
	rule := colorsFor(r.SeriesRule, nil)
	p.Charts = []chart{
		{Title: "Incidents by severity", SVG: template.HTML(stackedBars("Incidents opened per "+bucketName(r.Bucket)+", by severity", r.Buckets, r.Bucket, r.Severities, sev, func(b Bucket, k string) int { return b.BySeverity[k] })), Legend: legend(r.Severities, sev)},
		{Title: "Incidents by category", SVG: template.HTML(stackedBars("Incidents opened per "+bucketName(r.Bucket)+", by category", r.Buckets, r.Bucket, r.Categories, cat, func(b Bucket, k string) int { return b.ByCategory[k] })), Legend: legend(r.Categories, cat)},
		{Title: "Incidents by rule", SVG: template.HTML(stackedBars("Incidents opened per "+bucketName(r.Bucket)+", by rule", r.Buckets, r.Bucket, r.SeriesRule, rule, func(b Bucket, k string) int { return b.ByRule[k] })), Legend: legend(r.SeriesRule, rule)},
	}
	var bins []bar
	for _, b := range r.Histogram {
		bins = append(bins, bar{label: b.Label, value: b.Count, color: "#1a73e8", note: fmt.Sprintf("%d incidents resolved in %s", b.Count, b.Label)})
	}
	p.TTRChart = chart{Title: "Time to resolve", SVG: template.HTML(hbars("Resolved incidents by time to resolve", bins))}
	var rb []bar
	for _, s := range r.Rules {
		if s.Incidents > 0 {
			rb = append(rb, bar{label: s.Name, value: s.Incidents, color: sev[orNone(s.Severity)], note: fmt.Sprintf("%s: %d incidents, %d resolved", s.Name, s.Incidents, s.Resolved)})
		}
	}
	p.RuleChart = chart{Title: "Incidents per rule", SVG: template.HTML(hbars("Incidents per rule in the period", rb))}
	if len(r.Problems) > 0 {
		p.Top = &r.Problems[0]
		p.Timeline = template.HTML(timeline(r.Problems[0], causesShown))
	}
	return pageTemplate.Execute(w, p)
}

func legend(keys []string, colors map[string]string) []legendItem {
	var out []legendItem
	for _, k := range keys {
		out = append(out, legendItem{Label: k, Color: template.CSS(colors[k])})
	}
	return out
}

func bucketName(d time.Duration) string {
	switch {
	case d < 24*time.Hour:
		return "hour"
	case d < 7*24*time.Hour:
		return "day"
	}
	return "week"
}

var funcs = template.FuncMap{
	"dur": func(d time.Duration) string {
		if d <= 0 {
			return "–"
		}
		return Duration(d)
	},
	"secs": func(s int64) string {
		if s <= 0 {
			return "–"
		}
		return Duration(time.Duration(s) * time.Second)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "–"
		}
		return t.UTC().Format("2006-01-02 15:04 MST")
	},
	"causes": func(v any) []causeView {
		var p ProblemRow
		switch x := v.(type) {
		case ProblemRow:
			p = x
		case *ProblemRow:
			p = *x
		}
		var out []causeView
		for _, c := range p.SuspectedCauses[:min(len(p.SuspectedCauses), causesShown)] {
			out = append(out, causeView{c.EventName, c.Principal, c.Time, c.Resource, c.Via, c.Incidents, p.Incidents})
		}
		return out
	},
	"join": strings.Join,
}

// causeView is one suspected cause as the page lists it.
type causeView struct {
	EventName, Principal string
	Time                 time.Time
	Resource, Via        string
	Preceded, Of         int
}

var pageTemplate = template.Must(template.New("review").Funcs(funcs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}: {{.Period}}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;margin:0;color:#202124;background:#f8f9fa;line-height:1.45}
header{background:#202124;color:#fff;padding:20px 32px}
header h1{margin:0 0 4px;font-size:24px}
header p{margin:0;color:#dadce0}
main{max-width:1080px;margin:0 auto;padding:16px 32px 48px}
section{background:#fff;border:1px solid #dadce0;border-radius:8px;padding:16px 20px;margin:16px 0}
h2{font-size:18px;margin:0 0 12px}
h3{font-size:15px;margin:16px 0 8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{flex:1 1 140px;background:#fff;border:1px solid #dadce0;border-radius:8px;padding:12px 16px}
.card .n{font-size:26px;font-weight:600}
.card .l{color:#5f6368;font-size:13px}
svg.chart{display:block;width:100%;max-width:720px;height:auto}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12px;color:#3c4043;margin:4px 0 12px}
.legend span.sw{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:middle}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #e8eaed;vertical-align:top}
th{color:#5f6368;font-weight:600}
td.num,th.num{text-align:right}
td.nowrap,td.nowrap code,code.nowrap{white-space:nowrap}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;background:#f1f3f4;padding:1px 4px;border-radius:3px;word-break:break-all}
.status{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.status-open{background:#fce8e6;color:#a50e0e}
.status-known-error{background:#fef7e0;color:#b06000}
.status-resolved{background:#e6f4ea;color:#137333}
.muted{color:#5f6368}
.cause-top{font-weight:600}
footer{color:#5f6368;font-size:12px;text-align:center;margin:24px 0}
</style>
</head>
<body>
<header>
<h1>{{.Title}}</h1>
<p>{{.Period}} · generated {{when .Generated}}{{if .Events}} · {{.Events}} events{{end}} · {{len .Snapshot.Rules}} rules</p>
</header>
<main>
<section id="summary">
<h2>Summary</h2>
<div class="cards">
<div class="card"><div class="n">{{.Totals.Incidents}}</div><div class="l">incidents opened</div></div>
<div class="card"><div class="n">{{.Totals.Resolved}}</div><div class="l">resolved ({{.Totals.Open}} still open)</div></div>
<div class="card"><div class="n">{{dur .Totals.MedianTTR}}</div><div class="l">median time to resolve (p90 {{dur .Totals.P90TTR}})</div></div>
<div class="card"><div class="n">{{.Totals.ProblemsOpen}}</div><div class="l">open problems ({{.Totals.KnownErrors}} known errors, {{.Totals.Closed}} resolved)</div></div>
<div class="card"><div class="n">{{len .Noisy}} / {{len .Silent}}</div><div class="l">noisy / silent rules</div></div>
</div>
</section>

<section id="over-time">
<h2>Incidents over time</h2>
{{range .Charts}}<h3>{{.Title}}</h3>
{{.SVG}}
<div class="legend">{{range .Legend}}<span><span class="sw" style="background:{{.Color}}"></span>{{.Label}}</span>{{end}}</div>
{{end}}
<h3>{{.RuleChart.Title}}</h3>
{{.RuleChart.SVG}}
</section>

<section id="time-to-resolve">
<h2>Time to resolve</h2>
{{.TTRChart.SVG}}
<table>
<tr><th>severity</th><th class="num">incidents</th><th class="num">resolved</th><th class="num">median</th><th class="num">p90</th><th class="num">mean</th><th class="num">longest</th></tr>
{{range .TTR}}<tr><td>{{.Severity}}</td><td class="num">{{.Incidents}}</td><td class="num">{{.Resolved}}</td><td class="num">{{dur .Median}}</td><td class="num">{{dur .P90}}</td><td class="num">{{dur .Mean}}</td><td class="num">{{dur .Max}}</td></tr>
{{else}}<tr><td colspan="7" class="muted">no incidents in this period</td></tr>{{end}}
</table>
</section>

<section id="problems">
<h2>Top problems</h2>
{{with .Top}}
<h3>{{.Key}}: {{.Title}}</h3>
<p><span class="status status-{{.Status}}">{{.Status}}</span> rule <code>{{.Rule}}</code> · {{.Incidents}} incidents ({{.InPeriod}} in this period) · MTTR {{secs .MTTRSeconds}} · MTBF {{secs .MTBFSeconds}} · first seen {{when .FirstSeen}} · last seen {{when .LastSeen}}{{if .Note}} · note: {{.Note}}{{end}}</p>
{{$.Timeline}}
<h3>Suspected causes</h3>
<table>
<tr><th>change</th><th>who</th><th>when</th><th>resource</th><th class="num">preceded</th></tr>
{{range $i, $c := causes .}}<tr{{if eq $i 0}} class="cause-top"{{end}}><td>{{$c.EventName}}</td><td><code>{{$c.Principal}}</code></td><td>{{when $c.Time}}</td><td><code>{{$c.Resource}}</code>{{if $c.Via}}<br><span class="muted">related to <code>{{$c.Via}}</code></span>{{end}}</td><td class="num">{{$c.Preceded}} of {{$c.Of}}</td></tr>
{{else}}<tr><td colspan="5" class="muted">no change recorded to its resources before its incidents</td></tr>{{end}}
</table>
{{end}}
<h3>All problems</h3>
<table>
<tr><th>problem</th><th>status</th><th>rule</th><th class="num">incidents</th><th class="num">MTTR</th><th class="num">MTBF</th><th>top suspected cause</th><th>OpsItems</th></tr>
{{range .Problems}}<tr><td><code class="nowrap">{{.Key}}</code><br>{{.Title}}</td><td class="nowrap"><span class="status status-{{.Status}}">{{.Status}}</span></td><td class="nowrap"><code>{{.Rule}}</code></td><td class="num">{{.InPeriod}} / {{.Incidents}}</td><td class="num">{{secs .MTTRSeconds}}</td><td class="num">{{secs .MTBFSeconds}}</td>
<td>{{with causes .}}{{with index . 0}}{{.EventName}} by <code>{{.Principal}}</code> at {{when .Time}} ({{.Preceded}} of {{.Of}}){{end}}{{else}}<span class="muted">none found</span>{{end}}</td><td>{{join .OpsItems ", "}}</td></tr>
{{else}}<tr><td colspan="8" class="muted">no problems: no incident recurred often enough</td></tr>{{end}}
</table>
</section>

{{if .Accounts}}<section id="accounts">
<h2>By account</h2>
<table>
<tr><th>account</th><th>organizational unit</th><th>incidents</th><th>resolved</th><th>median time to resolve</th></tr>
{{range .Accounts}}<tr><td><code>{{.Account}}</code></td><td>{{if .OU}}<code>{{.OU}}</code>{{else}}<span class="muted">not listed</span>{{end}}</td><td class="num">{{.Incidents}}</td><td class="num">{{.Resolved}}</td><td class="num">{{dur .MedianTTR}}</td></tr>
{{end}}</table>
</section>
{{end}}
<section id="noisy">
<h2>Noisy rules</h2>
<p class="muted">Rules that opened at least 3 incidents that were resolved within 15 minutes (median) or flapped.</p>
<table>
<tr><th>rule</th><th>why</th><th>threshold now</th><th>suggested</th><th>what it changes</th></tr>
{{range .Noisy}}<tr><td><code>{{.Rule}}</code></td><td>{{.Why}}</td><td>{{if .Current}}<code>{{.Current}}</code>{{else}}<span class="muted">none</span>{{end}}</td><td><code>{{.Suggested}}</code></td><td>{{.Suggestion}}</td></tr>
{{else}}<tr><td colspan="5" class="muted">none</td></tr>{{end}}
</table>
</section>

<section id="held-back">
<h2>Held back by the OpsItem budget</h2>
<p class="muted">Rules whose new incidents passed a cap of the OpsItem budget: each roll-up OpsItem lists the incidents it held back (<code>opsloop:heldBack</code>).</p>
<table>
<tr><th>rule</th><th>day</th><th>roll-up OpsItem</th><th>title</th></tr>
{{range .HeldBack}}<tr><td><code>{{.Rule}}</code></td><td class="nowrap">{{.Opened.UTC.Format "2006-01-02"}}</td><td><code>{{.OpsItemID}}</code></td><td>{{.Title}}</td></tr>
{{else}}<tr><td colspan="4" class="muted">none: every incident got its own OpsItem</td></tr>{{end}}
</table>
</section>

<section id="analyses">
<h2>Post-incident analyses</h2>
<p class="muted">Incidents of the severities that ask for an analysis, once resolved: record the root cause, lessons and action items with <code>opsloop analysis edit</code>.</p>
<table>
<tr><th>OpsItem</th><th>rule</th><th>resolved</th><th>title</th></tr>
{{range .OpenAnalyses}}<tr><td><code>{{.OpsItemID}}</code></td><td><code>{{.Rule}}</code></td><td class="nowrap">{{.Resolved.UTC.Format "2006-01-02 15:04"}}</td><td>{{.Title}}</td></tr>
{{else}}<tr><td colspan="4" class="muted">none open</td></tr>{{end}}
</table>
<h3>Action items not done</h3>
<table>
<tr><th>action</th><th>owner</th><th>from</th></tr>
{{range .Actions}}<tr><td>{{.Text}}</td><td>{{if .Owner}}{{.Owner}}{{else}}<span class="muted">none</span>{{end}}</td><td><code>{{.OpsItemID}}</code> {{.Title}}</td></tr>
{{else}}<tr><td colspan="3" class="muted">none</td></tr>{{end}}
</table>
<h3>Lessons of this period</h3>
<ul>
{{range .Lessons}}<li>{{.Text}} <span class="muted">(<code>{{.OpsItemID}}</code>, <code>{{.Rule}}</code>)</span></li>
{{else}}<li class="muted">none recorded</li>{{end}}
</ul>
</section>

<section id="silent">
<h2>Silent rules</h2>
<p class="muted">Incident rules that opened no incident in this period.</p>
<table>
<tr><th>rule</th><th>why</th><th>suggestion</th></tr>
{{range .Silent}}<tr><td><code>{{.Rule}}</code></td><td>{{.Why}}</td><td>{{.Suggestion}}{{if .Suggested}} (now <code>{{.Current}}</code>){{end}}</td></tr>
{{else}}<tr><td colspan="3" class="muted">none</td></tr>{{end}}
</table>
{{if .Unused}}<p class="muted">Record and ignore rules that matched nothing: {{range $i, $u := .Unused}}{{if $i}}, {{end}}<code>{{$u}}</code>{{end}}.</p>{{end}}
</section>

<section id="rules-changes">
<h2>Rules changes since the last review</h2>
{{if .HasPrevious}}
<table>
<tr><th>rule</th><th>change</th><th>fields</th></tr>
{{range .RuleChanges}}<tr><td><code>{{.Rule}}</code></td><td>{{.Change}}</td><td>{{join .Fields ", "}}</td></tr>
{{else}}<tr><td colspan="3" class="muted">no rule changed</td></tr>{{end}}
</table>
{{else}}<p class="muted">No earlier review to compare with: this review's rules are kept in this file for the next one.</p>{{end}}
</section>

<section id="rules">
<h2>Incidents by rule</h2>
<table>
<tr><th>rule</th><th>severity</th><th>category</th><th class="num">incidents</th><th class="num">groups</th><th class="num">resolved</th><th class="num">median to resolve</th><th class="num">flapping</th>{{if .ActivityKnown}}<th class="num">matched</th>{{end}}</tr>
{{range .Rules}}<tr><td><code>{{.Name}}</code></td><td>{{.Severity}}</td><td>{{.Category}}</td><td class="num">{{.Incidents}}</td><td class="num">{{.Fingerprints}}</td><td class="num">{{.Resolved}}</td><td class="num">{{dur .MedianTTR}}</td><td class="num">{{.Flapping}}</td>{{if $.ActivityKnown}}<td class="num">{{.Matched}}</td>{{end}}</tr>
{{end}}
</table>
</section>
</main>
<footer>opsloop review · OPS10-BP01: use data from past incidents, review events, thresholds and response regularly.</footer>
{{.SnapshotBlock}}
</body>
</html>
`))
