package classify

import (
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/rules"
)

// envelopeStrings are the members event.Parse requires as non-blank strings.
var envelopeStrings = []string{"id", "detail-type", "source", "account", "time", "region"}

// envelope are the top-level members whose shape the fast path checks as
// event.Parse does.
var envelope = append(append([]string{}, envelopeStrings...), "version", "resources", "detail")

// quickFilter keeps what deciding that an event is ignored reads: the
// paths of every rule's pattern and recoverWhen, and the envelope; with
// silences, theirs too (what Classify reads).
func quickFilter(set *rules.Set, silences bool) *pattern.Filter {
	var paths []string
	if silences {
		for _, s := range set.Silences {
			paths = append(paths, s.Pattern.Paths()...)
		}
	}
	for _, r := range set.Rules {
		paths = append(paths, r.Pattern.Paths()...)
		if r.Recover != nil {
			paths = append(paths, r.Recover.Paths()...)
		}
	}
	return pattern.NewFilter(paths, envelope, event.MaxDepth)
}

// Ignored is the fast path of Classify for the events the rules ignore,
// which are most of an account's: it reads the event's bytes once, keeping
// only the fields the rules read, and decides without parsing the event in
// full and without touching State. It returns the decision Classify would
// return, with the event's source and detail type, and true; false when
// the event may be anything else (matched by a rule that records or opens
// incidents, or recovers one) or is not an event Classify takes (then
// event.Parse and Classify say what it is). Events whose full index could
// pass pattern.MaxFieldsMemory take the full path, so that every event
// Classify would refuse is refused.
func (c *Classifier) Ignored(raw []byte) (d Decision, source, detailType string, ok bool) {
	if len(raw) > event.MaxSize || pattern.IndexCostBound(len(raw), event.MaxDepth) > pattern.MaxFieldsMemory {
		return d, "", "", false
	}
	f, err := pattern.ParseEventFiltered(raw, c.quickFilter)
	if err != nil {
		return d, "", "", false
	}
	defer f.Release()
	if !f.ValidUTF8() {
		return d, "", "", false
	}
	var env [6]string // envelopeStrings, which share memory with raw
	for i, name := range envelopeStrings {
		m := f.Top(name)
		s, isString := f.String(name)
		if m.Count != 1 || m.Kind != '"' || !isString || strings.TrimSpace(s) == "" {
			return d, "", "", false
		}
		env[i] = s
	}
	id, detailType, source := env[0], env[1], env[2]
	at, err := time.Parse(time.RFC3339, env[4])
	if err != nil {
		return d, "", "", false
	}
	if m := f.Top("version"); m.Count > 1 || (m.Count == 1 && m.Kind != '"') {
		return d, "", "", false
	}
	if m := f.Top("resources"); m.Count > 1 || (m.Count == 1 && m.Kind != '[') {
		return d, "", "", false
	} else if list, strs := f.Strings("resources"); m.Count == 1 && (!strs || len(list) != m.Elements) {
		return d, "", "", false
	}
	if m := f.Top("detail"); m.Count != 1 || m.Kind != '{' {
		return d, "", "", false
	}

	verified := strings.HasPrefix(source, AWSSourcePrefix)
	var names [8]string
	var picked [8]*rules.Rule
	if rec := c.recovers.AppendMatch(names[:0], f); len(rec) > 0 {
		if recovering, _ := c.trusted(source, c.pickInto(picked[:0], rec)); len(recovering) > 0 {
			return d, "", "", false
		}
	}
	matched, refused := c.trusted(source, c.pickInto(picked[:0], c.rules.AppendMatch(names[:0], f)))
	if len(matched) > 0 && matched[0].Action != rules.Ignore {
		return d, "", "", false
	}
	for _, r := range matched {
		if r.Action == rules.Record && verified {
			return d, "", "", false // Classify keeps the change
		}
	}
	d = Decision{EventID: strings.Clone(id), Time: at, Action: Ignore, Unverified: !verified}
	switch {
	case len(matched) > 0:
		for _, r := range matched[1:] {
			d.Matched = append(d.Matched, r.Name)
		}
		d.Rule = matched[0].Name
		d.Reason = c.ignoreReasons[d.Rule]
	case refused != "":
		d.Reason = refusedSource(refused, source)
	default:
		d.Reason = noRuleMatched
	}
	return d, strings.Clone(source), strings.Clone(detailType), true
}
