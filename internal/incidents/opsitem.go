package incidents

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/inert"

	"github.com/opsloop/opsloop/internal/event"

	"github.com/opsloop/opsloop/internal/signal"
)

// opsloop's own OperationalData keys.
const (
	KeyRule        = "opsloop:rule"
	KeyFingerprint = "opsloop:fingerprint"
	KeySeverity    = "opsloop:severity"
	KeyOccurrences = "opsloop:occurrences"
	KeyFirstSeen   = "opsloop:firstSeen"
	KeyLastSeen    = "opsloop:lastSeen"
	KeyAccount     = "opsloop:account"
	KeyRegion      = "opsloop:region"
	KeyActor       = "opsloop:actor"
	KeyEventID     = "opsloop:eventId"
	// KeyDue is when the incident's response is next due (RFC 3339), while
	// one is: the schedule escalates the Open OpsItems it finds past it.
	KeyDue = "opsloop:due"
	// KeyEvent is the source event's excerpt, set when the OpsItem is
	// created: records do not keep it, so updates leave it as it is.
	KeyEvent         = "opsloop:event"
	KeyRecentChanges = "opsloop:recentChanges"
	KeyFlapping      = "opsloop:flapping"
	KeyResolution    = "opsloop:resolution"
	// KeyHeldBack lists, on a roll-up OpsItem, the incidents the OpsItem
	// budget held back into it, and KeyHeldBackMore counts those not listed.
	KeyHeldBack = "opsloop:heldBack"
	// KeyRunbooks lists the rule's runbooks with the parameters filled
	// from the event, for the responder to start them with.
	KeyRunbooks     = "opsloop:runbooks"
	KeyHeldBackMore = "opsloop:heldBackMore"
)

// Source is the Source of every OpsItem opsloop opens.
const Source = signal.Source

// OpsCenter statuses opsloop sets.
const (
	StatusOpsItemOpen     = "Open"
	StatusOpsItemResolved = "Resolved"
)

// automationType is the automationType of a runbook in /aws/automations.
const automationType = "AWS::SSM::Automation"

// Bounds on what a record keeps, so its item stays small.
const (
	maxExcerpt       = 1500 // characters of the raw event kept and shown
	maxChanges       = 20   // changes kept per incident
	maxChangeText    = 300  // characters per change field
	maxChangeLookups = 10   // resources whose changes are looked up
	describedChanges = 5    // changes listed in the description
	describedARNs    = 5    // resources listed in the description
)

// opsItem is the OpsItem for rec, within every OpsCenter limit.
func (m *Manager) opsItem(rec *Record) OpsItem {
	return OpsItem{
		Title:           title(rec),
		Description:     m.describe(rec),
		Source:          Source,
		Severity:        truncateRunes(oneLine(rec.OpsItemSeverity), MaxSeverity, ""),
		Priority:        priority(rec.Priority),
		Category:        truncateRunes(oneLine(rec.Category), MaxCategory, ""),
		OperationalData: cleanData(m.data(rec, true)),
		Notifications:   m.notifications(rec.Plan.Notify),
		RelatedOpsItems: related(rec.Previous),
		AccountID:       rec.first().OpsItemAccount,
	}
}

// update is the Update that brings rec's OpsItem up to date; it carries the
// whole current state, so applying it twice does no harm.
func (m *Manager) update(rec *Record) Update {
	u := Update{
		Title:           title(rec),
		Description:     m.describe(rec),
		Severity:        truncateRunes(oneLine(rec.OpsItemSeverity), MaxSeverity, ""),
		Priority:        priority(rec.Priority),
		OperationalData: cleanData(m.data(rec, false)),
	}
	if rec.Status == StatusResolved {
		u.Status = StatusOpsItemResolved
	}
	if rec.Escalated > 0 {
		u.Notifications = m.notifications(append(slices.Clone(rec.Plan.Notify), rec.Plan.EscalateTo[:min(rec.Escalated, len(rec.Plan.EscalateTo))]...))
	}
	if rec.DueAt.IsZero() && rec.Pending == escalationStep(rec.Escalated) {
		// The last step: nothing is due any more, and the schedule's
		// listing (Responses.Open) leaves the OpsItem out.
		u.DeleteData = []string{KeyDue}
	}
	return u
}

func title(rec *Record) string {
	t := oneLine(rec.Title)
	if t == "" {
		t = oneLine(fmt.Sprintf("%s: incident %s", rec.Rule, rec.Fingerprint))
	}
	return truncateRunes(t, MaxTitle, Ellipsis)
}

func priority(p int) int {
	if p < MinPriority || p > MaxPriority {
		return 0
	}
	return p
}

func related(ids []string) []string {
	if len(ids) > MaxRelated {
		ids = ids[len(ids)-MaxRelated:]
	}
	return slices.Clone(ids)
}

// notifications resolves the plan's targets: "default" is the configured
// topic (dropped when none is), anything else must be an ARN.
func (m *Manager) notifications(notify []string) []string {
	var out []string
	for _, n := range notify {
		n = strings.TrimSpace(n)
		if n == "default" {
			n = m.topic
		}
		if !event.IsARN(n) || slices.Contains(out, n) {
			continue
		}
		out = append(out, n)
	}
	return out
}

// data is rec's OperationalData. The dedup string and the recent changes
// never change after creation, so updates leave them out.
func (m *Manager) data(rec *Record, create bool) map[string]Data {
	first := rec.first()
	d := map[string]Data{
		KeyRule:        {Value: rec.Rule, Searchable: true},
		KeyFingerprint: {Value: rec.Fingerprint, Searchable: true},
		KeySeverity:    {Value: rec.Severity, Searchable: true},
		KeyOccurrences: {Value: strconv.Itoa(rec.Occurrences)},
		// To the nanosecond: the opening names the incident's log entry
		// (problems.OpsItems).
		KeyFirstSeen: {Value: rec.FirstSeen.UTC().Format(time.RFC3339Nano)},
		KeyLastSeen:  {Value: stamp(rec.LastSeen)},
		// Searchable: an organization's responders filter OpsItems by
		// account and Region in OpsCenter.
		KeyAccount: {Value: first.Account, Searchable: true},
		KeyRegion:  {Value: first.Region, Searchable: true},
		KeyActor:   {Value: first.Actor},
		KeyEventID: {Value: first.EventID},
	}
	if v := resourcesValue(rec.Resources); v != "" {
		d[KeyResources] = Data{Value: v, Searchable: true}
	}
	if v := consoleValue(ConsoleLinks(first.Portal, rec.Resources)); v != "" {
		d[KeyConsole] = Data{Value: v}
	}
	if v := automationsValue(rec.runbooks()); v != "" {
		d[KeyAutomations] = Data{Value: v, Searchable: true}
	}
	if rbs := rec.first().Runbooks; len(rbs) > 0 {
		if v, _ := jsonList(rbs, len(rbs)); v != "" {
			d[KeyRunbooks] = Data{Value: v}
		}
	}
	// Always set: an Update adds and edits keys, removing only those it
	// names, so the end of flapping must be written, not left out.
	d[KeyFlapping] = Data{Value: "false"}
	if !rec.DueAt.IsZero() {
		// Searchable: Responses.Open asks for the OpsItems that have it.
		d[KeyDue] = Data{Value: stamp(rec.DueAt), Searchable: true}
	}
	if rec.Flapping {
		d[KeyFlapping] = Data{Value: "true: recovered and failed again repeatedly, so recoveries hold the incident open"}
	}
	if rec.Resolution != "" {
		d[KeyResolution] = Data{Value: rec.Resolution}
	}
	if rec.Rollup {
		d[KeyHeldBack] = Data{Value: heldValue(rec)}
		d[KeyHeldBackMore] = Data{Value: strconv.Itoa(rec.HeldMore)}
	}
	if create {
		d[KeyDedup] = Data{Value: dedupValue(rec.Fingerprint), Searchable: true}
		if e := strings.TrimSpace(text(first.Excerpt)); e != "" {
			d[KeyEvent] = Data{Value: e}
		}
		if v, _ := jsonList(rec.Changes, maxChanges); v != "" {
			d[KeyRecentChanges] = Data{Value: v}
		}
	}
	return d
}

func dedupValue(fingerprint string) string {
	b, _ := json.Marshal(map[string]string{"dedupString": DedupString(fingerprint)})
	return string(b)
}

// arns are the resources OpsCenter can link: ARNs only, at most MaxResources.
func arns(resources []string) []string {
	var out []string
	for _, r := range resources {
		if event.IsARN(r) && !slices.Contains(out, r) && len(out) < MaxResources {
			out = append(out, r)
		}
	}
	return out
}

func resourcesValue(resources []string) string {
	var list []map[string]string
	for _, a := range arns(resources) {
		list = append(list, map[string]string{"arn": a})
	}
	v, _ := jsonList(list, MaxResources)
	return v
}

func automationsValue(runbooks []string) string {
	var list []map[string]string
	for _, r := range runbooks {
		if r = oneLine(r); r != "" {
			list = append(list, map[string]string{"automationType": automationType, "automationId": r})
		}
	}
	v, _ := jsonList(list, len(list))
	return v
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// runbooks are the documents the OpsItem offers: the rule's, then the
// severity plan's, once each.
func (r *Record) runbooks() []string {
	var out []string
	for _, rb := range r.first().Runbooks {
		if !slices.Contains(out, rb.Document) {
			out = append(out, rb.Document)
		}
	}
	for _, d := range r.Plan.Runbooks {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

// runbookLines are the runbooks as the description lists them, the rule's
// with their parameters.
func (r *Record) runbookLines() []string {
	var out []string
	for _, d := range r.runbooks() {
		line := d
		for _, rb := range r.first().Runbooks {
			if rb.Document != d || len(rb.Parameters) == 0 {
				continue
			}
			names := slices.Sorted(maps.Keys(rb.Parameters))
			params := make([]string, len(names))
			for i, n := range names {
				params[i] = n + "=" + rb.Parameters[n]
			}
			line += " (" + strings.Join(params, ", ") + ")"
			break
		}
		out = append(out, line)
	}
	return out
}

// first is the opening signal, or an empty one for records without it.
func (r *Record) first() *signal.Signal {
	if r.First != nil {
		return r.First
	}
	return &signal.Signal{}
}

// describe is the OpsItem description: Markdown a responder can act on
// without opening anything else, cut cleanly at MaxDescription characters.
// The raw event is in the operational data (KeyEvent), where it has more
// room than the facts leave here, and every update of the description
// does not have to carry it.
func (m *Manager) describe(rec *Record) string {
	first := rec.first()
	var b strings.Builder
	// Event text is escaped for Markdown: no link, image or markup of an
	// event's author reaches the responder.
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "- **%s:** %s\n", label, inert.Markdown(oneLine(fmt.Sprintf(format, args...))))
	}
	what := first.Summary
	if blank(what) {
		what = rec.Title
	}
	fmt.Fprintf(&b, "%s\n\n", inert.Markdown(oneLine(what)))
	if first.Unverified {
		line("Unverified source", "%q is not an AWS service's source: any principal allowed events:PutEvents could have sent this event", first.Source)
	}
	if rec.Resolution != "" {
		line("Resolved", "%s", rec.Resolution)
	}
	if rec.Flapping {
		line("Flapping", "it recovered and failed again repeatedly, so recoveries hold it open")
	}
	line("Where", "account %s, region %s", orUnknown(first.Account), orUnknown(first.Region))
	if len(rec.Resources) > 0 {
		shown := rec.Resources[:min(len(rec.Resources), describedARNs)]
		more := ""
		if n := len(rec.Resources) - len(shown); n > 0 {
			more = fmt.Sprintf(" and %d more", n)
		}
		line("Resources", "%s%s", strings.Join(shown, ", "), more)
		if links := ConsoleLinks(first.Portal, rec.Resources); len(links) > 0 {
			b.WriteString(consoleLine(links))
		}
	}
	line("Caused by", "%s", orUnknown(first.Actor))
	line("When", "first seen %s, last seen %s", orUnknown(stamp(rec.FirstSeen)), orUnknown(stamp(rec.LastSeen)))
	line("How often", "%d %s (this count is updated at 1, 2, 5, 10, 20, 50, ... occurrences)",
		rec.Occurrences, plural(rec.Occurrences, "occurrence", "occurrences"))
	sev := orUnknown(rec.Severity)
	if rec.OpsItemSeverity != "" {
		sev += ", OpsItem severity " + rec.OpsItemSeverity
	}
	if p := priority(rec.Priority); p != 0 {
		sev += fmt.Sprintf(", priority %d", p)
	}
	line("Severity", "%s", sev)
	if why := first.Reason; strings.Contains(why, rec.Rule) {
		line("Decided by", "%s", why) // the classifier's reasons name their rule
	} else {
		line("Decided by", "rule %q: %s", rec.Rule, orUnknown(why))
	}
	line("Source event", "%s %q, id %s, at %s%s", orUnknown(first.Source), first.DetailType,
		orUnknown(first.EventID), orUnknown(stamp(first.Time)), eventWhere(rec))
	if rbs := rec.runbookLines(); len(rbs) > 0 {
		line("Runbooks", "%s", strings.Join(rbs, "; "))
	}
	if rec.Plan.Owner != "" {
		line("Owner", "%s", rec.Plan.Owner)
	}
	if len(rec.Plan.Steps) > 0 {
		// The operators' Markdown, from the rules: shown as written.
		b.WriteString("\n**Response plan:**\n")
		for i, step := range rec.Plan.Steps {
			fmt.Fprintf(&b, "%d. %s\n", i+1, oneLine(step))
		}
	}
	if m.changes != nil {
		fmt.Fprintf(&b, "\n**What changed on these resources in the %s before:**\n", lookbackText(m.lookback))
		if len(rec.Changes) == 0 {
			b.WriteString("- nothing recorded\n")
		}
		for i, c := range rec.Changes {
			if i == describedChanges {
				fmt.Fprintf(&b, "- and %d more (see %s)\n", len(rec.Changes)-i, KeyRecentChanges)
				break
			}
			by := ""
			if c.Actor != "" {
				by = " by " + c.Actor
			}
			fmt.Fprintf(&b, "- %s\n", inert.Markdown(oneLine(fmt.Sprintf("%s %s%s: %s", stamp(c.Time), orUnknown(c.EventName), by, c.Title))))
		}
	}
	return truncateRunes(strings.TrimSpace(b.String()), MaxDescription, "\n"+Ellipsis+" (truncated)")
}

// eventWhere points to the source event's excerpt, which an incident's
// OpsItem keeps in its operational data; a roll-up has none.
func eventWhere(rec *Record) string {
	if rec.Rollup {
		return ""
	}
	return " (excerpt in operational data " + KeyEvent + ")"
}

func lookbackText(d time.Duration) string {
	if d == time.Hour {
		return "hour"
	}
	return d.String()
}

func orUnknown(s string) string {
	if blank(s) {
		return "unknown"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
