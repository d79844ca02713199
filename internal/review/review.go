// Package review builds the regular review of events, thresholds and
// response that OPS10-BP01 asks for: incidents by rule, severity and
// category over time, time to resolve, top problems, noisy and silent rules
// with suggested threshold changes, and the rules changed since the last
// review, and what post-incident analyses ask and taught. It renders as one self-contained HTML file with inline SVG
// charts and as a short text for the notification topic.
package review

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/rules"
)

// Incident is one incident of the period under review.
type Incident struct {
	OpsItemID   string `json:"opsItemId,omitempty"`
	Fingerprint string `json:"fingerprint"`
	Rule        string `json:"rule"`
	Title       string `json:"title,omitempty"`
	Severity    string `json:"severity,omitempty"`
	Category    string `json:"category,omitempty"`
	// Account and Region are where the incident's first event came from.
	Account     string    `json:"account,omitempty"`
	Region      string    `json:"region,omitempty"`
	Opened      time.Time `json:"opened"`
	Resolved    time.Time `json:"resolved,omitzero"`
	Occurrences int       `json:"occurrences,omitempty"`
	Flapping    bool      `json:"flapping,omitempty"`
}

// TimeToResolve is how long the incident was open; ok is false while it is.
func (i Incident) TimeToResolve() (d time.Duration, ok bool) {
	if i.Resolved.IsZero() || i.Resolved.Before(i.Opened) {
		return 0, false
	}
	return i.Resolved.Sub(i.Opened), true
}

// Activity is what one rule did with the period's events, where that is
// known (a replay knows it; the deployed functions know only incidents).
type Activity struct {
	Matched int `json:"matched"`
	// BelowThreshold counts matches a threshold held back, and MaxCount is
	// the most matches seen within the threshold window for one group.
	BelowThreshold int `json:"belowThreshold,omitempty"`
	MaxCount       int `json:"maxCount,omitempty"`
}

// Input is what a review is built from.
type Input struct {
	Title string
	// From and To bound the period; zero values take the span of the
	// incidents and problems.
	From, To  time.Time
	Generated time.Time
	Rules     *rules.Set
	// Previous is the snapshot of the last review's rules; nil when there
	// was none.
	Previous  *RulesSnapshot
	Incidents []Incident
	Problems  []problems.Problem
	// Activity, by rule name, is nil when unknown: silent rules are then
	// those that opened no incident.
	Activity map[string]Activity
	// Events counts the events seen, when known.
	Events int
	// Analyses are the post-incident analyses: the open ones, and the done
	// ones whose lessons to share.
	Analyses []analysis.Analysis
}

// Thresholds of the noisy-rule heuristics.
const (
	// NoisyMinIncidents is how many incidents a rule must open in the
	// period to be considered noisy.
	NoisyMinIncidents = 3
	// NoisyFastResolve is the median time to resolve under which a rule's
	// incidents are transient.
	NoisyFastResolve = 15 * time.Minute
	// TopProblems is how many problems the review lists.
	TopProblems = 10
	// maxSeriesRules is how many rules the by-rule chart shows before "other".
	maxSeriesRules = 6
)

// Review is a built review: the data the HTML and the text show.
type Review struct {
	Title     string
	From, To  time.Time
	Generated time.Time
	Events    int
	// Bucket is the width of the time series' buckets.
	Bucket time.Duration
	Totals Totals
	// Buckets hold the incidents opened per bucket, by severity, category and rule.
	Buckets    []Bucket
	Severities []string // severity names, most severe first
	Categories []string
	SeriesRule []string // the rules of the by-rule series; "other" last when needed
	Rules      []RuleStat
	// Accounts are the incidents by account, most first; empty when the
	// incidents name no account.
	Accounts  []AccountStat
	TTR       []TTRRow
	Histogram []Bin
	Problems  []ProblemRow
	Noisy     []Finding
	Silent    []Finding
	// HeldBack are the roll-up OpsItems opened in the period: each holds
	// back a rule's incidents of a day past the OpsItem budget. They are
	// not counted as incidents.
	HeldBack []Incident
	// OpenAnalyses are the post-incident analyses awaiting their
	// responders, oldest first; Actions the action items not done, of any
	// analysis; Lessons those of the analyses closed in the period.
	OpenAnalyses []analysis.Analysis
	Actions      []Learned
	Lessons      []Learned
	// Unused are record and ignore rules that matched nothing.
	Unused      []string
	RuleChanges []RuleChange
	// HasPrevious says whether RuleChanges compares with an earlier review.
	HasPrevious bool
	// ActivityKnown says whether rule matches were known.
	ActivityKnown bool
	Snapshot      RulesSnapshot
}

// Totals sums up the period.
type Totals struct {
	Incidents, Resolved, Open         int
	ProblemsOpen, KnownErrors, Closed int
	MedianTTR, P90TTR, MeanTTR        time.Duration
}

// Bucket is one interval of the time series.
type Bucket struct {
	Start      time.Time
	BySeverity map[string]int
	ByCategory map[string]int
	ByRule     map[string]int
	Total      int
}

// RuleStat is one rule's incidents in the period.
type RuleStat struct {
	Name         string
	Action       string
	Severity     string
	Category     string
	Incidents    int
	Resolved     int
	Flapping     int
	Fingerprints int
	MedianTTR    time.Duration
	Matched      int
}

// AccountStat is what one account's incidents were in the period; OU is
// its organizational unit as the rules' "organization" lists it.
type AccountStat struct {
	Account   string
	OU        string
	Incidents int
	Resolved  int
	MedianTTR time.Duration
}

// TTRRow is the time to resolve of one severity.
type TTRRow struct {
	Severity               string
	Incidents, Resolved    int
	Median, P90, Mean, Max time.Duration
}

// Bin is one bar of the time-to-resolve histogram.
type Bin struct {
	Label string
	Count int
}

// ProblemRow is one of the top problems, with its incidents in the period.
type ProblemRow struct {
	problems.Problem
	InPeriod int
}

// Finding is a noisy or silent rule, why, and what to change.
type Finding struct {
	Rule       string
	Why        string
	Suggestion string
	// Current and Suggested are the threshold before and after, in the
	// rules file's JSON, when the suggestion is a threshold change.
	Current, Suggested string
	// Estimate is the incidents the suggested threshold would have opened,
	// -1 when not estimated.
	Estimate int
}

// ttrBins are the histogram's upper bounds.
var ttrBins = []struct {
	label string
	upTo  time.Duration
}{
	{"< 5m", 5 * time.Minute}, {"5–15m", 15 * time.Minute}, {"15m–1h", time.Hour},
	{"1–4h", 4 * time.Hour}, {"4–24h", 24 * time.Hour}, {"> 1d", math.MaxInt64},
}

// Build computes the review.
func Build(in Input) *Review {
	r := &Review{Title: in.Title, Generated: in.Generated.UTC(), Events: in.Events, ActivityKnown: in.Activity != nil}
	if r.Title == "" {
		r.Title = "opsloop review"
	}
	r.From, r.To = period(in)
	r.Bucket = bucketFor(r.To.Sub(r.From))
	var incs []Incident
	for _, inc := range inPeriod(in.Incidents, r.From, r.To) {
		if incidents.IsRollup(inc.Fingerprint) {
			r.HeldBack = append(r.HeldBack, inc)
			continue
		}
		incs = append(incs, inc)
	}
	r.severities(in.Rules, incs)
	r.series(incs)
	r.ruleStats(in, incs)
	r.accountStats(in, incs)
	r.timeToResolve(incs)
	r.topProblems(in.Problems)
	r.findNoisy(in, incs)
	r.findSilent(in)
	r.learned(in.Analyses)
	r.Snapshot = Snapshot(in.Rules, r.Generated)
	if in.Previous != nil {
		r.HasPrevious = true
		r.RuleChanges = DiffRules(*in.Previous, r.Snapshot)
	}
	return r
}

// Learned is an action item or a lesson of a post-incident analysis.
type Learned struct {
	OpsItemID string
	Rule      string
	Title     string
	Text      string
	Owner     string
}

// learned lists what the analyses ask of the team and what they taught.
func (r *Review) learned(as []analysis.Analysis) {
	for _, a := range as {
		switch a.Status {
		case analysis.Open:
			r.OpenAnalyses = append(r.OpenAnalyses, a)
		case analysis.Done:
			if !a.Closed.Before(r.From) && !a.Closed.After(r.To) {
				for _, l := range a.Lessons {
					r.Lessons = append(r.Lessons, Learned{OpsItemID: a.OpsItemID, Rule: a.Rule, Title: a.Title, Text: l})
				}
			}
		}
		for _, it := range a.Undone() {
			r.Actions = append(r.Actions, Learned{OpsItemID: a.OpsItemID, Rule: a.Rule, Title: a.Title, Text: it.Text, Owner: it.Owner})
		}
	}
	slices.SortStableFunc(r.OpenAnalyses, func(a, b analysis.Analysis) int { return a.Resolved.Compare(b.Resolved) })
}

func period(in Input) (from, to time.Time) {
	from, to = in.From.UTC(), in.To.UTC()
	if !from.IsZero() && !to.IsZero() && to.After(from) {
		return from, to
	}
	var lo, hi time.Time
	see := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if t.After(hi) {
			hi = t
		}
	}
	for _, i := range in.Incidents {
		see(i.Opened)
		see(i.Resolved)
	}
	for _, p := range in.Problems {
		see(p.FirstSeen)
		see(p.LastSeen)
	}
	if from.IsZero() {
		from = lo
	}
	if to.IsZero() {
		to = hi
	}
	if from.IsZero() {
		from = in.Generated.UTC()
	}
	if !to.After(from) {
		to = from.Add(time.Hour)
	}
	return from.UTC(), to.UTC()
}

// bucketFor picks the time series' bucket width: hours for a few days,
// days for up to three months, weeks beyond.
func bucketFor(span time.Duration) time.Duration {
	switch {
	case span <= 3*24*time.Hour:
		return time.Hour
	case span <= 92*24*time.Hour:
		return 24 * time.Hour
	}
	return 7 * 24 * time.Hour
}

func inPeriod(all []Incident, from, to time.Time) []Incident {
	var out []Incident
	for _, i := range all {
		if !i.Opened.Before(from) && !i.Opened.After(to) {
			out = append(out, i)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Opened.Before(out[b].Opened) })
	return out
}

// severities orders the severities as the rules do, then any others seen.
func (r *Review) severities(set *rules.Set, incs []Incident) {
	if set != nil {
		r.Severities = slices.Clone(set.Order)
	}
	cats := map[string]bool{}
	for _, i := range incs {
		if s := orNone(i.Severity); !slices.Contains(r.Severities, s) {
			r.Severities = append(r.Severities, s)
		}
		cats[orNone(i.Category)] = true
	}
	for _, c := range rules.Categories {
		if cats[c] {
			r.Categories = append(r.Categories, c)
			delete(cats, c)
		}
	}
	var rest []string
	for c := range cats {
		rest = append(rest, c)
	}
	sort.Strings(rest)
	r.Categories = append(r.Categories, rest...)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (r *Review) series(incs []Incident) {
	start := r.From.Truncate(r.Bucket)
	n := int(r.To.Sub(start)/r.Bucket) + 1
	r.Buckets = make([]Bucket, n)
	for i := range r.Buckets {
		r.Buckets[i] = Bucket{Start: start.Add(time.Duration(i) * r.Bucket), BySeverity: map[string]int{}, ByCategory: map[string]int{}, ByRule: map[string]int{}}
	}
	perRule := map[string]int{}
	for _, i := range incs {
		perRule[i.Rule]++
	}
	var names []string
	for n := range perRule {
		names = append(names, n)
	}
	sort.Slice(names, func(a, b int) bool {
		if perRule[names[a]] != perRule[names[b]] {
			return perRule[names[a]] > perRule[names[b]]
		}
		return names[a] < names[b]
	})
	if len(names) > maxSeriesRules {
		names = append(names[:maxSeriesRules-1], "other")
	}
	r.SeriesRule = names
	for _, i := range incs {
		b := &r.Buckets[min(int(i.Opened.Sub(start)/r.Bucket), n-1)]
		b.Total++
		b.BySeverity[orNone(i.Severity)]++
		b.ByCategory[orNone(i.Category)]++
		rule := i.Rule
		if !slices.Contains(names, rule) {
			rule = "other"
		}
		b.ByRule[rule]++
	}
}

// accountStats sums the incidents up by account, with its unit.
func (r *Review) accountStats(in Input, incs []Incident) {
	unitOf := map[string]string{}
	if in.Rules != nil {
		for ou, accounts := range in.Rules.Units {
			for _, a := range accounts {
				unitOf[a] = ou
			}
		}
	}
	by := map[string]*AccountStat{}
	ttrs := map[string][]time.Duration{}
	for _, i := range incs {
		if i.Account == "" {
			continue
		}
		s := by[i.Account]
		if s == nil {
			s = &AccountStat{Account: i.Account, OU: unitOf[i.Account]}
			by[i.Account] = s
		}
		s.Incidents++
		if d, ok := i.TimeToResolve(); ok {
			s.Resolved++
			ttrs[i.Account] = append(ttrs[i.Account], d)
		}
	}
	for a, s := range by {
		s.MedianTTR = quantile(ttrs[a], 0.5)
		r.Accounts = append(r.Accounts, *s)
	}
	slices.SortFunc(r.Accounts, func(a, b AccountStat) int {
		if a.Incidents != b.Incidents {
			return b.Incidents - a.Incidents
		}
		return strings.Compare(a.Account, b.Account)
	})
}

func (r *Review) ruleStats(in Input, incs []Incident) {
	by := map[string]*RuleStat{}
	ttrs := map[string][]time.Duration{}
	fps := map[string]map[string]bool{}
	stat := func(name string) *RuleStat {
		if s := by[name]; s != nil {
			return s
		}
		s := &RuleStat{Name: name}
		if in.Rules != nil {
			if rule := in.Rules.Rule(name); rule != nil {
				s.Action, s.Severity, s.Category = string(rule.Action), rule.Severity, rule.Category
			}
		}
		by[name] = s
		fps[name] = map[string]bool{}
		return s
	}
	for _, i := range incs {
		s := stat(i.Rule)
		s.Incidents++
		fps[i.Rule][i.Fingerprint] = true
		if i.Flapping {
			s.Flapping++
		}
		if d, ok := i.TimeToResolve(); ok {
			s.Resolved++
			ttrs[i.Rule] = append(ttrs[i.Rule], d)
		}
	}
	for name, a := range in.Activity {
		stat(name).Matched = a.Matched
	}
	for name, s := range by {
		s.Fingerprints = len(fps[name])
		s.MedianTTR = quantile(ttrs[name], 0.5)
		r.Rules = append(r.Rules, *s)
	}
	sort.Slice(r.Rules, func(a, b int) bool {
		if r.Rules[a].Incidents != r.Rules[b].Incidents {
			return r.Rules[a].Incidents > r.Rules[b].Incidents
		}
		return r.Rules[a].Name < r.Rules[b].Name
	})
}

func (r *Review) timeToResolve(incs []Incident) {
	all := []time.Duration{}
	bySev := map[string][]time.Duration{}
	count := map[string]int{}
	r.Histogram = make([]Bin, len(ttrBins))
	for i, b := range ttrBins {
		r.Histogram[i].Label = b.label
	}
	for _, i := range incs {
		sev := orNone(i.Severity)
		count[sev]++
		r.Totals.Incidents++
		d, ok := i.TimeToResolve()
		if !ok {
			r.Totals.Open++
			continue
		}
		r.Totals.Resolved++
		all = append(all, d)
		bySev[sev] = append(bySev[sev], d)
		for j, b := range ttrBins {
			if d < b.upTo {
				r.Histogram[j].Count++
				break
			}
		}
	}
	r.Totals.MedianTTR, r.Totals.P90TTR, r.Totals.MeanTTR = quantile(all, 0.5), quantile(all, 0.9), mean(all)
	for _, sev := range r.Severities {
		if count[sev] == 0 {
			continue
		}
		ds := bySev[sev]
		row := TTRRow{Severity: sev, Incidents: count[sev], Resolved: len(ds), Median: quantile(ds, 0.5), P90: quantile(ds, 0.9), Mean: mean(ds)}
		if len(ds) > 0 {
			row.Max = slices.Max(ds)
		}
		r.TTR = append(r.TTR, row)
	}
}

func (r *Review) topProblems(ps []problems.Problem) {
	for _, p := range ps {
		if !p.IsProblem() {
			continue
		}
		switch p.Status {
		case problems.Open:
			r.Totals.ProblemsOpen++
		case problems.KnownError:
			r.Totals.KnownErrors++
		case problems.Resolved:
			r.Totals.Closed++
		}
		row := ProblemRow{Problem: p}
		for _, o := range p.History {
			if !o.Opened.Before(r.From) && !o.Opened.After(r.To) {
				row.InPeriod++
			}
		}
		r.Problems = append(r.Problems, row)
	}
	rank := map[problems.Status]int{problems.Open: 0, problems.KnownError: 1, problems.Resolved: 2}
	sort.SliceStable(r.Problems, func(a, b int) bool {
		x, y := r.Problems[a], r.Problems[b]
		if x.InPeriod != y.InPeriod {
			return x.InPeriod > y.InPeriod
		}
		if rank[x.Status] != rank[y.Status] {
			return rank[x.Status] < rank[y.Status]
		}
		if x.Incidents != y.Incidents {
			return x.Incidents > y.Incidents
		}
		return x.Key < y.Key
	})
	if len(r.Problems) > TopProblems {
		r.Problems = r.Problems[:TopProblems]
	}
}

// findNoisy flags incident rules that opened at least NoisyMinIncidents
// incidents that were transient (median time to resolve under
// NoisyFastResolve) or flapping, and suggests a threshold that makes a
// short blip alone open nothing, with an estimate of what it would have
// opened in the period.
func (r *Review) findNoisy(in Input, incs []Incident) {
	byRule := map[string][]Incident{}
	for _, i := range incs {
		byRule[i.Rule] = append(byRule[i.Rule], i)
	}
	for _, s := range r.Rules {
		if s.Incidents < NoisyMinIncidents {
			continue
		}
		fast := s.Resolved > 0 && s.MedianTTR < NoisyFastResolve
		if !fast && s.Flapping == 0 {
			continue
		}
		var why []string
		if fast {
			why = append(why, fmt.Sprintf("%d incidents, half resolved within %s", s.Incidents, Duration(s.MedianTTR)))
		} else {
			why = append(why, fmt.Sprintf("%d incidents", s.Incidents))
		}
		if s.Flapping > 0 {
			why = append(why, fmt.Sprintf("%d flapping", s.Flapping))
		}
		f := Finding{Rule: s.Name, Why: strings.Join(why, ", "), Estimate: -1}
		var cur *rules.Threshold
		if in.Rules != nil {
			if rule := in.Rules.Rule(s.Name); rule != nil {
				cur = rule.Threshold
			}
		}
		next := rules.Threshold{Count: 2, Window: time.Hour}
		if cur != nil {
			f.Current = thresholdJSON(*cur)
			next = rules.Threshold{Count: cur.Count * 2, Window: cur.Window}
		}
		f.Suggested = thresholdJSON(next)
		f.Estimate = estimate(byRule[s.Name], next)
		f.Suggestion = fmt.Sprintf(`set "threshold": %s, so one short blip opens no incident (≈ %d of %d incidents would have opened)`, f.Suggested, f.Estimate, s.Incidents)
		r.Noisy = append(r.Noisy, f)
	}
}

// estimate counts the incidents that would have opened under th, taking
// each incident's opening as one matching event of its fingerprint: an
// incident opens when th.Count of them fall within th.Window.
func estimate(incs []Incident, th rules.Threshold) int {
	byFP := map[string][]time.Time{}
	for _, i := range incs {
		byFP[i.Fingerprint] = append(byFP[i.Fingerprint], i.Opened)
	}
	n := 0
	for _, ts := range byFP {
		slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
		lo := 0
		for hi := range ts {
			for ts[hi].Sub(ts[lo]) >= th.Window {
				lo++
			}
			if hi-lo+1 >= th.Count {
				n++
			}
		}
	}
	return n
}

// findSilent flags incident rules that opened no incident: never matched
// (when matches are known), or held back by their threshold, with the
// threshold that the matches seen would have crossed.
func (r *Review) findSilent(in Input) {
	if in.Rules == nil {
		return
	}
	opened := map[string]bool{}
	for _, s := range r.Rules {
		if s.Incidents > 0 {
			opened[s.Name] = true
		}
	}
	for _, rule := range in.Rules.Rules {
		a, known := in.Activity[rule.Name]
		if rule.Action != rules.Incident {
			if in.Activity != nil && a.Matched == 0 {
				r.Unused = append(r.Unused, rule.Name)
			}
			continue
		}
		if opened[rule.Name] {
			continue
		}
		f := Finding{Rule: rule.Name, Estimate: -1}
		switch {
		case in.Activity == nil:
			f.Why = "opened no incident (matches are not counted in this deployment)"
			f.Suggestion = "check that its pattern matches a real event: opsloop rules test --rules rules/ EVENT.json"
		case !known || a.Matched == 0:
			f.Why = fmt.Sprintf("never matched in %d events", in.Events)
			f.Suggestion = "check that its pattern matches a real event (opsloop rules test), or remove the rule"
		case rule.Threshold != nil && a.MaxCount > 0 && a.MaxCount < rule.Threshold.Count:
			f.Why = fmt.Sprintf("matched %d times, at most %d within %s: below its threshold of %d", a.Matched, a.MaxCount, Duration(rule.Threshold.Window), rule.Threshold.Count)
			f.Current = thresholdJSON(*rule.Threshold)
			f.Suggested = thresholdJSON(rules.Threshold{Count: a.MaxCount, Window: rule.Threshold.Window})
			f.Suggestion = fmt.Sprintf(`if those matches mattered, lower it to "threshold": %s`, f.Suggested)
		default:
			f.Why = fmt.Sprintf("matched %d times but opened no incident (another rule decided, or a silence held it)", a.Matched)
			f.Suggestion = "check its priority against the rules that decided those events (opsloop rules test)"
		}
		r.Silent = append(r.Silent, f)
	}
}

func thresholdJSON(t rules.Threshold) string {
	return fmt.Sprintf(`{"count": %d, "window": %q}`, t.Count, rules.FormatDuration(t.Window))
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// Nearest rank: the smallest value with at least q of the values at or below it.
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// Duration formats d as operators write windows: "40m", "2h30m", "3d",
// "1d6h"; at most two units, rounded down to the minute (seconds under
// a minute).
func Duration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d < time.Minute {
		return fmt.Sprintf("%ds", int(d/time.Second))
	}
	days, d := int(d/(24*time.Hour)), d%(24*time.Hour)
	hours, d := int(d/time.Hour), d%time.Hour
	mins := int(d / time.Minute)
	switch {
	case days > 0 && hours > 0:
		return fmt.Sprintf("%dd%dh", days, hours)
	case days > 0:
		return fmt.Sprintf("%dd", days)
	case hours > 0 && mins > 0:
		return fmt.Sprintf("%dh%dm", hours, mins)
	case hours > 0:
		return fmt.Sprintf("%dh", hours)
	}
	return fmt.Sprintf("%dm", mins)
}
