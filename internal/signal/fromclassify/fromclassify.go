// Package fromclassify is the bridge from classification to the incident
// lifecycle: it makes the classifier's incident and recover decisions the
// signals of the contract in package signal. It is apart from that package
// so that the incidents function, which reads signals, does not link the
// classifier and the rules.
package fromclassify

import (
	"slices"
	"unicode/utf8"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/lazyregexp"
	"github.com/opsloop/opsloop/internal/redact"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/signal"
)

// Bounds on what a signal carries from its event, so that any event up to
// EventBridge's size makes a signal PutEvents takes: the raw event enough
// for a responder to recognise it; a title, actor or runbook parameter as
// long as OpsCenter's longest field that takes it (the title, 1,024); the
// resources a record keeps.
const (
	maxExcerpt   = 4096
	maxText      = 1024
	maxResources = 200
)

// Signal turns an incident or recover decision into the signal the
// incident lifecycle acts on; ok is false for other decisions.
func Signal(set *rules.Set, d classify.Decision, ev *event.Event) (s signal.Signal, ok bool) {
	var kind string
	switch d.Action {
	case classify.Incident:
		kind = signal.Detected
	case classify.Recover:
		kind = signal.Recovered
	default:
		return s, false
	}
	s = signal.Signal{
		SchemaVersion: signal.SchemaVersion,
		Kind:          kind,
		EventID:       ev.ID,
		Time:          ev.Time,
		Rule:          d.Rule,
		Fingerprint:   d.Fingerprint,
		Title:         cut(d.Title, maxText),
		Severity:      d.Severity,
		Category:      d.Category,
		Resources:     d.Resources[:min(len(d.Resources), maxResources)],
		Account:       ev.Account,
		Region:        ev.Region,
		Source:        ev.Source,
		DetailType:    ev.DetailType,
		Actor:         cut(d.Actor, maxText),
		Summary:       ev.Summary(),
		Reason:        d.Reason,
		Count:         d.Count,
		Escalated:     d.Escalated,
		Flapping:      d.Flapping,
		Unverified:    d.Unverified,
	}
	red := redact.New(set.Redact)
	s.Excerpt = cut(string(red.JSON(ev.Raw)), maxExcerpt)
	if kind == signal.Detected {
		s.Budget = set.Budget.OrDefault()
		s.Runbooks = runbooks(set, d.Rule, ev, red)
		if set.OpsItemAccountOf(d.Rule) == rules.OpsItemsMember && accountID.MatchString(ev.Account) {
			s.OpsItemAccount = ev.Account
		}
		if p := set.AccessPortal; p != nil {
			s.Portal = &signal.Portal{URL: p.URL, Role: p.Role}
		}
	}
	if sev := set.Severities[d.Severity]; sev != nil {
		plan := set.PlanFor(d.Category, d.Severity)
		s.Plan = signal.Plan{
			OpsItemSeverity: sev.OpsItemSeverity,
			Priority:        sev.Priority,
			Notify:          sev.Notify,
			Runbooks:        sev.Runbooks,
			ResponseTime:    sev.ResponseTime,
			Steps:           plan.Steps,
			Owner:           plan.Owner.Name,
			EscalateTo:      plan.EscalateTo,
		}
		if plan.Owner.Notify != "" && !slices.Contains(sev.Notify, plan.Owner.Notify) {
			s.Plan.Notify = append(slices.Clone(sev.Notify), plan.Owner.Notify)
		}
	}
	return s, true
}

// accountID is an AWS account id: the only account an OpsItem is created in.
var accountID = lazyregexp.New(`^[0-9]{12}$`)

// cut shortens s to max bytes on a rune boundary, marking the cut.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	at := max
	for at > 0 && !utf8.RuneStart(s[at]) {
		at--
	}
	return s[:at] + "…"
}

// runbooks renders the runbooks of rule for ev, its parameters redacted
// and bounded as titles are.
func runbooks(set *rules.Set, rule string, ev *event.Event, red *redact.Redactor) []signal.Runbook {
	var out []signal.Runbook
	lookup := func(path string) []string { return red.Values(path, ev.Values(path)) }
	for _, r := range set.Rules {
		if r.Name != rule {
			continue
		}
		for _, rb := range r.Runbooks {
			sr := signal.Runbook{Document: rb.Document, AutoRun: rb.AutoRun}
			for name, tpl := range rb.Parameters {
				if sr.Parameters == nil {
					sr.Parameters = map[string]string{}
				}
				sr.Parameters[name] = cut(tpl.Render(lookup), maxText)
			}
			out = append(out, sr)
		}
	}
	return out
}
