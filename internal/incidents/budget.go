package incidents

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/signal"
)

// Counters keeps the counts of the OpsItem budget in a tally: the counts of
// the deployment's month kept together (the month's, its day's and hour's,
// each rule's day and hour), so that an incident's OpsItem takes from every
// cap in one write.
type Counters interface {
	// Take adds one to each of t's counts unless one has reached its
	// limit, and returns the index of the one that had (-1: none, all
	// taken). id names what is counted: a Take of the same id the SDK
	// repeated after it had in fact succeeded returns -1 and adds nothing.
	// Take drops the tally's counts that t.Stale says are of windows past.
	// The tally may be deleted after t.Expires.
	Take(ctx context.Context, t Tally, id string) (refused int, err error)
	// Hint returns the due hint the tally keeps: the earliest t.Due a Take
	// was given since the hint was last set, and a mark that every Take
	// changes.
	Hint(ctx context.Context, t Tally) (DueHint, error)
	// SetHint replaces the hint h, as Hint returned it, with at (zero:
	// none), unless a Take came in between; it reports whether it did.
	SetHint(ctx context.Context, t Tally, h DueHint, at time.Time) (bool, error)
}

// DueHint is when a response may next be due (zero: none known), and the
// tally's mark when it was read.
type DueHint struct {
	At   time.Time
	Mark string
}

// Tally is one scope's counts of the budget.
type Tally struct {
	Key    string
	Counts []Count
	// Stale reports whether a count of the tally, by name, is of a window
	// past: names carry their window, and counts of every rule share the
	// tally, so only the tally's holder can tell which it has.
	Stale   func(name string) bool
	Expires time.Time
	// Due is the new OpsItem's response due, for the tally's hint (zero:
	// none).
	Due time.Time
}

// Count is one cap of a tally.
type Count struct {
	Name  string // short, unique in its tally: "n", "h15", "d06"
	Limit int
	What  string // names the cap in messages
}

// WithBudget caps new OpsItems with each signal's budget, counted in c:
// an incident past a cap is held back into its rule's roll-up OpsItem of
// the day. Without it nothing is capped.
func WithBudget(c Counters) Option { return func(m *Manager) { m.counters = c } }

// HeldBack is handling's action when the budget held the incident back: its
// record stays open without an OpsItem and the roll-up OpsItem of its rule
// counts it. A repeat after the hold interval (the limit-retry interval)
// asks the budget again.
const HeldBack Action = "held-back"

// HeldIncident is one incident a roll-up OpsItem holds back.
type HeldIncident struct {
	Fingerprint string    `json:"fingerprint"`
	Title       string    `json:"title"`
	Count       int       `json:"count"`
	LastHeld    time.Time `json:"lastHeld"`
}

// maxHeldListed bounds the held incidents a roll-up lists by name; the
// rest are only counted (Record.HeldMore).
const maxHeldListed = 50

// severe reports whether an OpsItem severity is one of the two the month's
// reserve is kept for.
func severe(opsItemSeverity string) bool {
	r, ok := severityRank(opsItemSeverity)
	return ok && r <= 2
}

// tally is the caps a new OpsItem of rule at OpsItem severity sev, at t,
// counts against, in the deployment's month: the rule's day and hour, and
// the month. The deployment's hourly and daily caps and the month's reserve
// hold back severities 3 and 4 (and none) only: a flood of lesser
// incidents never keeps out a severe one. A count's name ends in its
// window ("d07", "h0715"; a rule's are "r<rule key>d07"), so Take drops
// those of days and hours past: the tally holds the current day and hour
// of the rules that opened incidents today, one write unit a take unless
// some thirty-five rules do in one day.
func tally(b signal.Budget, rule, sev string, t time.Time) Tally {
	b = b.OrDefault()
	t = t.UTC()
	day, hour := "d"+t.Format("02"), "h"+t.Format("0215")
	r := "r" + ruleKey(rule)
	all := monthTally(t)
	all.Stale = func(name string) bool {
		w := name
		if strings.HasPrefix(name, "r") && len(name) > len(r) {
			w = name[len(r):]
		}
		return strings.HasPrefix(w, "d") && w != day || strings.HasPrefix(w, "h") && w != hour
	}
	monthCap := b.Month - b.Reserve
	if severe(sev) {
		monthCap = b.Month
	}
	all.Counts = []Count{{"n", monthCap, fmt.Sprintf("the deployment's %d a month for OpsItem severity %s", monthCap, orUnknown(sev))}}
	if !severe(sev) {
		all.Counts = append(all.Counts,
			Count{day, b.Day, fmt.Sprintf("the deployment's %d a day", b.Day)},
			Count{hour, b.Hour, fmt.Sprintf("the deployment's %d an hour", b.Hour)})
	}
	all.Counts = append(all.Counts,
		Count{r + day, b.RuleDay, fmt.Sprintf("rule %s's %d a day", rule, b.RuleDay)},
		Count{r + hour, b.RuleHour, fmt.Sprintf("rule %s's %d an hour", rule, b.RuleHour)})
	return all
}

// monthTally is the deployment's tally of t's month, without its counts.
func monthTally(t time.Time) Tally {
	t = t.UTC()
	month := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	const keep = 24 * time.Hour // a tally outlives its month by a day
	return Tally{Key: "all#m#" + month.Format("200601"), Expires: month.AddDate(0, 1, 0).Add(keep)}
}

// ruleKey names a rule in count names: short (six hex digits, every rule's
// the same length), whatever the rule's name.
func ruleKey(rule string) string {
	sum := sha256.Sum256([]byte(rule))
	return hex.EncodeToString(sum[:3])
}

// grant asks the budget for rec's OpsItem, in the windows of the time of
// asking (the events' time in a replay). It reports whether every cap
// allowed it and, if one did not, which. A refused OpsItem is counted in
// no window. Without counters everything is granted.
func (m *Manager) grant(ctx context.Context, rec *Record) (bool, string, error) {
	if m.counters == nil || rec.Granted || rec.Rollup {
		return true, "", nil
	}
	id := rec.Fingerprint + "@" + stamp(rec.FirstSeen)
	t := tally(rec.Budget, rec.Rule, rec.OpsItemSeverity, m.now())
	if rec.first().OpsItemAccount == "" {
		t.Due = rec.DueAt // another account's is in Dues: not listed
	}
	refused, err := m.counters.Take(ctx, t, id)
	switch {
	case err != nil:
		return false, "", fmt.Errorf("budget %s for %s: %w", t.Key, rec.Fingerprint, err)
	case refused >= len(t.Counts):
		return false, "", fmt.Errorf("budget %s for %s: count %d refused of %d", t.Key, rec.Fingerprint, refused, len(t.Counts))
	case refused >= 0:
		return false, "past " + t.Counts[refused].What, nil
	}
	rec.Granted = true
	return true, "", nil
}

// held reports whether the budget held rec back too recently to ask again.
func (m *Manager) held(rec *Record) bool {
	return !rec.HeldAt.IsZero() && m.now().Sub(rec.HeldAt) < m.limitRetry
}

// holdBack keeps rec open without an OpsItem and counts it in its rule's
// roll-up OpsItem of the day, which the budget does not cap: one per rule
// and day at most.
func (m *Manager) holdBack(ctx context.Context, rec *Record, why string) (Outcome, error) {
	rec.HeldAt, rec.HeldWhy, rec.RolledUp, rec.Claimed = m.now(), why, false, time.Time{}
	if err := m.put(ctx, rec); err != nil {
		return m.outcome(HeldBack, rec), err
	}
	return m.rollUp(ctx, rec)
}

// rollUp applies rec's hold to the roll-up record, then marks rec rolled
// up. A failure leaves it to the next handling of rec's fingerprint
// (finish), so a hold is counted once however often it is retried.
func (m *Manager) rollUp(ctx context.Context, rec *Record) (Outcome, error) {
	s := rollupSignal(rec)
	held := &HeldIncident{Fingerprint: rec.Fingerprint, Title: rec.Title, Count: 1, LastHeld: rec.HeldAt}
	roll, err := m.apply(ctx, s, held)
	out := m.outcome(HeldBack, rec)
	out.OpsItemID, out.Created, out.Events = roll.OpsItemID, roll.Created, roll.Events
	if err != nil {
		return out, fmt.Errorf("roll up %s into %s: %w", rec.Fingerprint, s.Fingerprint, err)
	}
	rec.RolledUp = true
	return out, m.put(ctx, rec)
}

// rollupMarker separates a roll-up's rule from its day in its fingerprint;
// no classifier fingerprint holds it (they are rule ":" group).
const rollupMarker = "#held-back#"

// RollupFingerprint is the fingerprint of rule's roll-up OpsItem of the
// UTC day of t, when incidents were held back.
func RollupFingerprint(rule string, t time.Time) string {
	return rule + rollupMarker + t.UTC().Format("2006-01-02")
}

// IsRollup reports whether fingerprint is a roll-up OpsItem's: it holds
// back incidents rather than being one.
func IsRollup(fingerprint string) bool { return strings.Contains(fingerprint, rollupMarker) }

// rollupSignal is the detection the roll-up record takes for rec's hold.
// Its id is fixed by the hold, so a retried roll-up is a duplicate.
func rollupSignal(rec *Record) signal.Signal {
	first := rec.first()
	day := rec.HeldAt.UTC().Format("2006-01-02")
	return signal.Signal{
		SchemaVersion: signal.SchemaVersion, Kind: signal.Detected,
		EventID:     "held-back:" + rec.Fingerprint + "@" + stamp(rec.HeldAt),
		Time:        rec.HeldAt,
		Rule:        rec.Rule,
		Fingerprint: RollupFingerprint(rec.Rule, rec.HeldAt),
		Title:       fmt.Sprintf("Incidents of rule %s held back by the OpsItem budget on %s", rec.Rule, day),
		Severity:    rec.Severity, Category: rec.Category, Plan: rec.Plan.Clone(),
		Account: first.Account, Region: first.Region,
		Source: signal.Source, DetailType: "OpsItem budget",
		Summary: fmt.Sprintf("New incidents of rule %s were held back by the OpsItem budget (%s): each is listed in %s with how often it was held back.", rec.Rule, rec.HeldWhy, KeyHeldBack),
		Reason:  fmt.Sprintf("rule %q: the OpsItem budget held back its incidents (%s)", rec.Rule, rec.HeldWhy),
	}
}

// addHeld counts h in a roll-up record.
func (r *Record) addHeld(h HeldIncident) {
	r.Rollup = true
	for i := range r.HeldBack {
		if r.HeldBack[i].Fingerprint == h.Fingerprint {
			r.HeldBack[i].Count++
			r.HeldBack[i].LastHeld = h.LastHeld
			return
		}
	}
	if len(r.HeldBack) >= maxHeldListed {
		r.HeldMore++
		return
	}
	r.HeldBack = append(r.HeldBack, h)
}

// heldValue is a roll-up's opsloop:heldBack: the held incidents, most held
// first, within OpsCenter's value limit.
func heldValue(rec *Record) string {
	list := append([]HeldIncident(nil), rec.HeldBack...)
	sort.SliceStable(list, func(i, j int) bool { return list[i].Count > list[j].Count })
	for i := range list {
		list[i].Title = truncateRunes(oneLine(list[i].Title), maxChangeText, Ellipsis)
	}
	v, _ := jsonList(list, len(list))
	return v
}
