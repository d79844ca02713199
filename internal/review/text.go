package review

import (
	"fmt"
	"strings"

	"github.com/opsloop/opsloop/internal/inert"
)

// maxTextRules bounds the rules named per line of the text.
const maxTextRules = 5

// Text is the review in a few lines for the notification topic (e-mail,
// chat), with link pointing to the HTML report when there is one.
func (r *Review) Text(link string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, %s to %s\n", inert.Line(r.Title), r.From.Format("2006-01-02 15:04"), r.To.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Incidents: %d opened, %d resolved, %d open", r.Totals.Incidents, r.Totals.Resolved, r.Totals.Open)
	if r.Totals.Resolved > 0 {
		fmt.Fprintf(&b, "; time to resolve: median %s, p90 %s", Duration(r.Totals.MedianTTR), Duration(r.Totals.P90TTR))
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "Problems: %d open, %d known errors, %d resolved\n", r.Totals.ProblemsOpen, r.Totals.KnownErrors, r.Totals.Closed)
	if len(r.Problems) > 0 {
		p := r.Problems[0]
		fmt.Fprintf(&b, "Top problem %s (%s, %s): %d incidents, %d in this period", inert.Line(p.Key), p.Status, p.Rule, p.Incidents, p.InPeriod)
		if p.Spread {
			fmt.Fprintf(&b, ", across %d accounts", len(p.Accounts()))
		}
		if p.MTTRSeconds > 0 {
			fmt.Fprintf(&b, ", MTTR %s", Duration(p.MTTR()))
		}
		b.WriteString("\n")
		if len(p.SuspectedCauses) > 0 {
			c := p.SuspectedCauses[0]
			fmt.Fprintf(&b, "  suspected cause: %s by %s at %s on %s (preceded %d of %d incidents)\n",
				inert.Line(c.EventName), inert.Line(orNone(c.Principal)), c.Time.UTC().Format("2006-01-02 15:04 MST"), inert.Line(c.Resource), c.Incidents, p.Incidents)
		}
	}
	line := func(title string, fs []Finding) {
		if len(fs) == 0 {
			return
		}
		var parts []string
		for _, f := range fs[:min(len(fs), maxTextRules)] {
			s := f.Rule + " (" + f.Why + ")"
			if f.Suggested != "" {
				s += ": threshold " + f.Suggested
			}
			parts = append(parts, s)
		}
		if len(fs) > maxTextRules {
			parts = append(parts, fmt.Sprintf("and %d more", len(fs)-maxTextRules))
		}
		fmt.Fprintf(&b, "%s: %s\n", title, strings.Join(parts, "; "))
	}
	if len(r.Accounts) > 1 {
		var parts []string
		for _, a := range r.Accounts[:min(len(r.Accounts), maxTextRules)] {
			parts = append(parts, fmt.Sprintf("%s %d", inert.Line(a.Account), a.Incidents))
		}
		if len(r.Accounts) > maxTextRules {
			parts = append(parts, fmt.Sprintf("and %d more", len(r.Accounts)-maxTextRules))
		}
		fmt.Fprintf(&b, "Incidents by account: %s\n", strings.Join(parts, ", "))
	}
	line("Noisy rules", r.Noisy)
	line("Silent rules", r.Silent)
	if len(r.HeldBack) > 0 {
		var parts []string
		for _, h := range r.HeldBack[:min(len(r.HeldBack), maxTextRules)] {
			parts = append(parts, fmt.Sprintf("rule %s on %s (OpsItem %s)", inert.Line(h.Rule), h.Opened.UTC().Format("2006-01-02"), inert.Line(orNone(h.OpsItemID))))
		}
		if len(r.HeldBack) > maxTextRules {
			parts = append(parts, fmt.Sprintf("and %d more", len(r.HeldBack)-maxTextRules))
		}
		fmt.Fprintf(&b, "Held back by the OpsItem budget: %s\n", strings.Join(parts, "; "))
	}
	if len(r.OpenAnalyses) > 0 || len(r.Actions) > 0 || len(r.Lessons) > 0 {
		fmt.Fprintf(&b, "Post-incident analyses: %d open, %d action items not done, %d lessons shared\n", len(r.OpenAnalyses), len(r.Actions), len(r.Lessons))
		for _, l := range r.Lessons[:min(len(r.Lessons), maxTextRules)] {
			fmt.Fprintf(&b, "  lesson (%s): %s\n", inert.Line(l.OpsItemID), inert.Line(l.Text))
		}
	}
	if r.HasPrevious {
		n := map[string]int{}
		for _, c := range r.RuleChanges {
			n[c.Change]++
		}
		fmt.Fprintf(&b, "Rules since the last review: %d added, %d removed, %d changed\n", n[RuleAdded], n[RuleRemoved], n[RuleChanged])
	}
	if link != "" {
		fmt.Fprintf(&b, "Report: %s\n", link)
	}
	return b.String()
}
