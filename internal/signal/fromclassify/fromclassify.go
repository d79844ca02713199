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
	"github.com/opsloop/opsloop/internal/redact"
	"github.com/opsloop/opsloop/internal/rules"
	"github.com/opsloop/opsloop/internal/signal"
)

// maxExcerpt bounds the raw event carried in a signal: enough for a
// responder to recognise the event, small enough for PutEvents.
const maxExcerpt = 4096

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
		Title:         d.Title,
		Severity:      d.Severity,
		Category:      d.Category,
		Resources:     d.Resources,
		Account:       ev.Account,
		Region:        ev.Region,
		Source:        ev.Source,
		DetailType:    ev.DetailType,
		Actor:         d.Actor,
		Summary:       ev.Summary(),
		Reason:        d.Reason,
		Count:         d.Count,
		Escalated:     d.Escalated,
		Flapping:      d.Flapping,
		Unverified:    d.Unverified,
		Excerpt:       excerpt(redact.New(set.Redact).JSON(ev.Raw)),
	}
	if kind == signal.Detected {
		s.Budget = set.Budget.OrDefault()
		s.Runbooks = runbooks(set, d.Rule, ev)
	}
	if sev := set.Severities[d.Severity]; sev != nil {
		s.Plan = signal.Plan{
			OpsItemSeverity: sev.OpsItemSeverity,
			Priority:        sev.Priority,
			Notify:          sev.Notify,
			Runbooks:        sev.Runbooks,
			ResponseTime:    sev.ResponseTime,
			Steps:           sev.Steps,
			Owner:           sev.Owner.Name,
			EscalateTo:      sev.EscalateTo,
		}
		if sev.Owner.Notify != "" && !slices.Contains(sev.Notify, sev.Owner.Notify) {
			s.Plan.Notify = append(slices.Clone(sev.Notify), sev.Owner.Notify)
		}
	}
	return s, true
}

// excerpt cuts raw to maxExcerpt bytes on a rune boundary.
func excerpt(raw []byte) string {
	if len(raw) <= maxExcerpt {
		return string(raw)
	}
	cut := maxExcerpt
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	return string(raw[:cut]) + "…"
}

// runbooks renders the runbooks of rule for ev, its parameters redacted
// as titles are.
func runbooks(set *rules.Set, rule string, ev *event.Event) []signal.Runbook {
	var out []signal.Runbook
	red := redact.New(set.Redact)
	lookup := func(path string) []string { return red.Values(path, ev.Values(path)) }
	for _, r := range set.Rules {
		if r.Name != rule {
			continue
		}
		for _, rb := range r.Runbooks {
			sr := signal.Runbook{Document: rb.Document}
			for name, tpl := range rb.Parameters {
				if sr.Parameters == nil {
					sr.Parameters = map[string]string{}
				}
				sr.Parameters[name] = tpl.Render(lookup)
			}
			out = append(out, sr)
		}
	}
	return out
}
