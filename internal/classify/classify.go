// Package classify decides what an event means under the operator's rules:
// ignore it, record it as evidence, open (or repeat) an incident, or recover one.
package classify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/redact"

	"github.com/opsloop/opsloop/internal/changelog"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/rules"
)

// Action is a decision's outcome.
type Action string

// The outcomes of classification.
const (
	Ignore   Action = "ignore"
	Record   Action = "record"
	Incident Action = "incident"
	Recover  Action = "recover"
)

// Actions lists every action, in report order.
var Actions = []Action{Ignore, Record, Incident, Recover}

// State is what classification remembers between events. Implementations
// must make each method safe to call again with the same arguments after a
// failure (at-least-once delivery).
type State interface {
	// Count adds the occurrence of event id under key at t (when id is not
	// empty) and returns the number of occurrences in (t-window, t], and
	// whether id was added: an id added under key at t before (a
	// redelivery, or a retry whose first response was lost) adds nothing.
	Count(ctx context.Context, key string, t time.Time, window time.Duration, id string) (n int, added bool, err error)
	// RecordChange keeps a change for "what changed before this
	// incident?"; keeping it again changes nothing.
	RecordChange(ctx context.Context, c changelog.Change) error
}

// Decision is the outcome of classifying one event, with the reasons.
type Decision struct {
	EventID     string    `json:"eventId"`
	Time        time.Time `json:"time"`
	Action      Action    `json:"action"`
	Rule        string    `json:"rule,omitempty"`
	Matched     []string  `json:"matched,omitempty"` // other rules that matched
	Fingerprint string    `json:"fingerprint,omitempty"`
	Group       []string  `json:"group,omitempty"`
	Severity    string    `json:"severity,omitempty"`
	Category    string    `json:"category,omitempty"`
	Title       string    `json:"title,omitempty"`
	Resources   []string  `json:"resources,omitempty"`
	Actor       string    `json:"actor,omitempty"`
	// Count is the occurrences of the fingerprint in the threshold window.
	Count     int    `json:"count,omitempty"`
	Silence   string `json:"silence,omitempty"`
	Escalated bool   `json:"escalated,omitempty"`
	Flapping  bool   `json:"flapping,omitempty"`
	// Unverified is set when the event's source is not an AWS service's:
	// anyone allowed events:PutEvents could have sent it, and only a rule
	// naming that source acts on it.
	Unverified bool `json:"unverified,omitempty"`
	// Duplicate: the count the event adds to had it already (a
	// redelivery). Only counted decisions (incidents, counted recoveries)
	// know it.
	Duplicate bool `json:"duplicate,omitempty"`
	// Change is true when the event was kept in the change log.
	Change bool   `json:"change,omitempty"`
	Reason string `json:"reason"`
}

// Classifier applies one rules.Set. It is safe for concurrent use when its
// State is.
type Classifier struct {
	set      *rules.Set
	state    State
	rules    *pattern.Set
	recovers *pattern.Set
	silences *pattern.Set
	byName   map[string]*rules.Rule
	silence  map[string]*rules.Silence
	// named holds, per rule, the sources its pattern names exactly: the
	// only non-AWS sources the rule acts on.
	named map[string]map[string]bool
	// redact masks secrets in what the classifier copies from events.
	redact *redact.Redactor
	// quickFilter keeps what Ignored reads of an event; ignoreReasons are
	// the reasons of the ignore rules' decisions, made once.
	quickFilter   *pattern.Filter
	ignoreReasons map[string]string
	// matchFilter keeps what Classify matches: quickFilter's paths and the
	// silences'.
	matchFilter *pattern.Filter
}

// New compiles the rules' patterns into indexes.
func New(set *rules.Set, state State) *Classifier {
	c := &Classifier{
		set: set, state: state,
		rules: pattern.NewSet(), recovers: pattern.NewSet(), silences: pattern.NewSet(),
		byName: map[string]*rules.Rule{}, silence: map[string]*rules.Silence{},
		named:  map[string]map[string]bool{},
		redact: redact.New(set.Redact),
	}
	c.quickFilter, c.matchFilter = quickFilter(set, false), quickFilter(set, true)
	c.ignoreReasons = map[string]string{}
	for _, r := range set.Rules {
		c.byName[r.Name] = r
		if r.Action == rules.Ignore {
			c.ignoreReasons[r.Name] = ignoredBy(r.Name)
		}
		c.named[r.Name] = NamedSources(r.Pattern)
		c.rules.Add(r.Name, r.Pattern)
		if r.Recover != nil {
			c.recovers.Add(r.Name, r.Recover)
		}
	}
	for _, s := range set.Silences {
		c.silence[s.Name] = s
		c.silences.Add(s.Name, s.Pattern)
	}
	return c
}

// Rules returns the rule set the classifier applies.
func (c *Classifier) Rules() *rules.Set { return c.set }

// defaultEscalationWindow counts repeats of rules that have no threshold.
const defaultEscalationWindow = time.Hour

// Classify decides what ev means. Errors come only from State and are
// retryable. A redelivered event gets the same decision, and the count it
// would add to knows it (Decision.Duplicate) and adds nothing; the count is
// the one write that is not idempotent, and it comes last, so a failure
// leaves nothing counted.
func (c *Classifier) Classify(ctx context.Context, ev *event.Event) (Decision, error) {
	d := Decision{EventID: ev.ID, Time: ev.Time}
	// Only what some rule, recoverWhen or silence reads is indexed.
	fields, err := pattern.ParseEventFiltered(ev.Raw, c.matchFilter)
	if err != nil {
		// event.Parse accepted it, so it is a shape too costly to index
		// (pattern.MaxFieldsMemory): refused, never retried.
		return d, &InvalidError{EventID: ev.ID, Reason: err.Error()}
	}
	defer fields.Release()
	verified := strings.HasPrefix(ev.Source, AWSSourcePrefix)
	d.Unverified = !verified
	matched, refused := c.trusted(ev.Source, c.pick(c.rules.Match(fields)))
	var decider *rules.Rule
	if len(matched) > 0 {
		decider = matched[0]
		for _, r := range matched[1:] {
			d.Matched = append(d.Matched, r.Name)
		}
	}
	recovering, _ := c.trusted(ev.Source, c.pick(c.recovers.Match(fields)))

	for _, r := range matched {
		if r.Action == rules.Record && verified {
			// A change log entry becomes a suspected cause: only AWS
			// services' events may blame someone.
			// The change log is written first: it is idempotent.
			if d.Change, err = c.keep(ctx, r, ev); err != nil {
				return d, err
			}
			break
		}
	}

	switch {
	case len(recovering) > 0 && (decider == nil || (decider.Action != rules.Incident && decider.Priority <= recovering[0].Priority)):
		r := recovering[0]
		c.describe(&d, r, ev)
		d.Action = Recover
		d.Reason = fmt.Sprintf("matches recoverWhen of rule %q", r.Name)
		if r.Flapping.Transitions > 0 {
			n, added, err := c.state.Count(ctx, "flap#"+d.Fingerprint, ev.Time, r.Flapping.Window, ev.ID)
			if err != nil {
				return d, fmt.Errorf("count recoveries of %s: %w", d.Fingerprint, err)
			}
			d.Duplicate = !added
			if n > r.Flapping.Transitions {
				d.Flapping = true
				d.Reason += fmt.Sprintf("; flapping: recovered %d times within %s, so the incident is held open", n, r.Flapping.Window)
			}
		}
	case decider == nil && refused != "":
		d.Action = Ignore
		d.Reason = refusedSource(refused, ev.Source)
	case decider == nil:
		d.Action = Ignore
		d.Reason = noRuleMatched
	case decider.Action == rules.Ignore:
		// Most of an account's events are ignored: describing them would
		// cost more than matching them.
		d.Rule = decider.Name
		d.Action = Ignore
		d.Reason = ignoredBy(decider.Name)
	case decider.Action == rules.Record:
		c.describe(&d, decider, ev)
		d.Action = Record
		d.Reason = fmt.Sprintf("rule %q records it as evidence", decider.Name)
	default:
		if err := c.incident(ctx, &d, decider, ev, fields); err != nil {
			return d, err
		}
	}
	return d, nil
}

// The reasons of the ignore decisions, shared with Ignored.
const noRuleMatched = "no rule matched"

func refusedSource(rule, source string) string {
	return fmt.Sprintf("rule %q matches, but source %q is not an AWS service's and the rule does not name it", rule, source)
}

func ignoredBy(rule string) string { return fmt.Sprintf("rule %q ignores it", rule) }

// keep records ev in the change log as rule r describes it, when it names
// resources; it reports whether ev is a change. Keeping it again, for a
// redelivery, changes nothing.
func (c *Classifier) keep(ctx context.Context, r *rules.Rule, ev *event.Event) (bool, error) {
	var ch Decision
	c.describe(&ch, r, ev)
	name := first1(ev.Values("detail.eventName"))
	resources := ch.Resources
	if changelog.Shared(first1(ev.Values("detail.eventSource")), name) {
		// Also under the organization, where a problem spread over
		// accounts looks for its cause.
		resources = append(slices.Clip(resources), changelog.Organization)
	}
	if len(resources) == 0 {
		return false, nil
	}
	change := changelog.Change{EventID: ev.ID, Time: ev.Time, Rule: ch.Rule, Title: ch.Title, Actor: ch.Actor, Resources: resources, EventName: name}
	if err := c.state.RecordChange(ctx, change); err != nil {
		return true, fmt.Errorf("record change %s: %w", ev.ID, err)
	}
	return true, nil
}

func (c *Classifier) incident(ctx context.Context, d *Decision, r *rules.Rule, ev *event.Event, fields *pattern.Fields) error {
	c.describe(d, r, ev)
	d.Action = Incident
	d.Reason = fmt.Sprintf("rule %q opens an incident", r.Name)
	for _, id := range c.silences.Match(fields) {
		if s := c.silence[id]; s.Active(ev.Time) {
			d.Action = Record
			d.Silence = s.Name
			d.Reason = fmt.Sprintf("rule %q matched, but silence %q is active: recorded, no incident", r.Name, s.Name)
			return nil
		}
	}
	// Reads first: the window count below is the one write that is not
	// idempotent, so it comes last.
	recoveries := 0
	if r.Flapping.Transitions > 0 {
		m, _, err := c.state.Count(ctx, "flap#"+d.Fingerprint, ev.Time, r.Flapping.Window, "")
		if err != nil {
			return fmt.Errorf("count recoveries of %s: %w", d.Fingerprint, err)
		}
		recoveries = m
	}
	window, need := defaultEscalationWindow, 1
	if r.Threshold != nil {
		window, need = r.Threshold.Window, r.Threshold.Count
	}
	n, added, err := c.state.Count(ctx, "win#"+d.Fingerprint, ev.Time, window, ev.ID)
	if err != nil {
		return fmt.Errorf("count %s: %w", d.Fingerprint, err)
	}
	d.Count, d.Duplicate = n, !added
	if n < need {
		d.Action = Record
		d.Reason = fmt.Sprintf("rule %q matched %d of %d times within %s: below threshold", r.Name, n, need, window)
		return nil
	}
	if r.Threshold != nil {
		d.Reason = fmt.Sprintf("rule %q matched %d times within %s (threshold %d)", r.Name, n, window, need)
	}
	if f := r.Escalation.Factor; f > 0 && n >= f*need {
		if up := c.set.Escalate(d.Severity); up != d.Severity {
			d.Reason += fmt.Sprintf("; escalated from %s: %d repeats reach %dx the threshold", d.Severity, n, f)
			d.Severity, d.Escalated = up, true
		}
	}
	if r.Flapping.Transitions > 0 && recoveries > r.Flapping.Transitions {
		d.Flapping = true
		d.Reason += fmt.Sprintf("; flapping: recovered %d times within %s", recoveries, r.Flapping.Window)
	}
	return nil
}

// describe fills what the rule says about the event: group, fingerprint,
// severity, category, title, resources and actor.
func (c *Classifier) describe(d *Decision, r *rules.Rule, ev *event.Event) {
	d.Rule = r.Name
	d.Severity, d.Category = r.Severity, r.Category
	for _, ref := range ev.ResourceRefs() {
		d.Resources = append(d.Resources, resourceName(ref))
	}
	d.Actor = ev.Actor()
	if len(r.GroupBy) == 0 {
		// The same resource name in two accounts or Regions is two
		// failures: an organization's events share one pipeline.
		d.Group = append([]string{orDash(ev.Account), orDash(ev.Region)}, d.Resources...)
	} else {
		for _, p := range r.GroupBy {
			vals := ev.Values(p)
			if len(vals) == 0 {
				d.Group = append(d.Group, "-")
				continue
			}
			d.Group = append(d.Group, strings.Join(vals, ","))
		}
	}
	d.Fingerprint = Fingerprint(r.Name, d.Group)
	if r.Title != nil {
		d.Title = r.Title.Render(func(path string) []string { return c.redact.Values(path, ev.Values(path)) })
	} else {
		d.Title = fmt.Sprintf("%s: %s", r.Name, ev.Summary())
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// maxFingerprint keeps fingerprints well inside OpsCenter's 512-character
// dedup string and DynamoDB key limits.
const maxFingerprint = 200

// Fingerprint identifies one ongoing failure: the rule and its group key.
func Fingerprint(rule string, group []string) string {
	fp := rule + ":" + strings.Join(group, "/")
	if len(fp) <= maxFingerprint {
		return fp
	}
	sum := sha256.Sum256([]byte(fp))
	return rule + ":sha256:" + hex.EncodeToString(sum[:16])
}

// pick orders matching rules by precedence: higher priority, then incident
// over record over ignore, then the more severe severity, then load order.
func (c *Classifier) pick(names []string) []*rules.Rule { return c.pickInto(nil, names) }

// pickInto is pick appending to dst.
func (c *Classifier) pickInto(dst []*rules.Rule, names []string) []*rules.Rule {
	if len(names) == 0 {
		return nil
	}
	rs := dst[:0]
	for _, n := range names {
		rs = append(rs, c.byName[n])
	}
	slices.SortStableFunc(rs, func(a, b *rules.Rule) int {
		if a.Priority != b.Priority {
			return b.Priority - a.Priority
		}
		if ra, rb := actionRank[a.Action], actionRank[b.Action]; ra != rb {
			return rb - ra
		}
		return c.set.Rank(a.Severity) - c.set.Rank(b.Severity)
	})
	return rs
}

// InvalidError is an event the classifier refuses: retrying cannot help.
type InvalidError struct {
	EventID string
	Reason  string
}

func (e *InvalidError) Error() string { return "event " + e.EventID + " refused: " + e.Reason }

// AWSSourcePrefix begins the source of every event an AWS service emits;
// EventBridge refuses it in PutEvents entries, so it cannot be forged.
const AWSSourcePrefix = "aws."

// trusted keeps the rules that may act on an event of source: all of them for an AWS
// service's event, only those naming its source exactly for any other.
// refused names the first rule dropped, for the reason.
func (c *Classifier) trusted(source string, rs []*rules.Rule) (kept []*rules.Rule, refused string) {
	if strings.HasPrefix(source, AWSSourcePrefix) {
		return rs, ""
	}
	kept = rs[:0:0]
	for _, r := range rs {
		if c.named[r.Name][source] {
			kept = append(kept, r)
		} else if refused == "" {
			refused = r.Name
		}
	}
	return kept, refused
}

// NamedSources lists the sources p names exactly: the plain strings of its
// top-level source condition, in every $or alternative.
func NamedSources(p *pattern.Pattern) map[string]bool {
	var doc map[string]any
	if err := json.Unmarshal([]byte(p.String()), &doc); err != nil {
		return nil
	}
	out := map[string]bool{}
	var walk func(m map[string]any)
	walk = func(m map[string]any) {
		if list, ok := m["source"].([]any); ok {
			for _, v := range list {
				if s, ok := v.(string); ok {
					out[s] = true
				}
			}
		}
		if alts, ok := m["$or"].([]any); ok {
			for _, a := range alts {
				if am, ok := a.(map[string]any); ok {
					walk(am)
				}
			}
		}
	}
	walk(doc)
	return out
}

var actionRank = map[rules.Action]int{rules.Ignore: 0, rules.Record: 1, rules.Incident: 2}

// resourceName is how a resource is named in fingerprints, OpsItems and the
// change log: its ARN when known.
func resourceName(r event.Resource) string {
	if r.ARN != "" {
		return r.ARN
	}
	return r.Type + "/" + r.ID
}

func first1(vals []string) string {
	if len(vals) == 0 {
		return ""
	}
	return vals[0]
}
