// Package replay runs events through the whole pipeline in one process, on
// embedded state, and reports what would have happened: the operator's backtest.
package replay

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/opsloop/opsloop/internal/classify"
	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/eventfile"
	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/local/memory"
	"github.com/opsloop/opsloop/internal/problems"
	"github.com/opsloop/opsloop/internal/rules"
)

// Report is what a replay found. Its JSON form is a contract other tools rely on.
type Report struct {
	Events  int     `json:"events"`
	Invalid Invalid `json:"invalid"`
	// Skipped counts, by reason, what the files held that is no event
	// (CloudTrail digest files).
	Skipped    map[string]int          `json:"skipped"`
	Duplicates int                     `json:"duplicates"`
	Decisions  map[classify.Action]int `json:"decisions"`
	Rules      map[string]*RuleCount   `json:"rules"`
	// Lifecycle counts what the incident lifecycle did with the signals.
	Lifecycle map[incidents.Action]int `json:"lifecycle"`
	// OpsCenterCalls counts the calls the lifecycle made to OpsCenter.
	OpsCenterCalls memory.OpsCenterStats `json:"opsCenterCalls"`
	OpsItems       []memory.Item         `json:"opsItems"`
	// Problems are the recurring incidents the problems tracker recorded.
	Problems []problems.Problem `json:"problems"`
	// Accounts counts, by account, the events replayed and what they
	// opened and resolved.
	Accounts map[string]*AccountCount `json:"accounts"`
	// Learned is the problems tracker's state, for the problems and
	// report commands.
	Learned *Learned `json:"-"`
}

// AccountCount is what one account's events did.
type AccountCount struct {
	Events    int `json:"events"`
	Incidents int `json:"incidents"`
	Recovers  int `json:"recovers"`
}

// maxAccounts bounds the accounts counted one by one; the rest share
// otherAccounts (an account id is the input's to choose).
const (
	maxAccounts   = 10000
	otherAccounts = "other"
)

// Invalid counts rejected input by reason and keeps the first items.
type Invalid struct {
	Count   int            `json:"count"`
	Reasons map[string]int `json:"reasons"`
	Items   []Rejected     `json:"items"`
}

// Rejected is one bad event and where it was.
type Rejected struct {
	Pos   string `json:"pos"`
	Error string `json:"error"`
}

// RuleCount is what one rule did during the replay.
type RuleCount struct {
	// Matched counts events the rule's pattern matched, deciding or not.
	Matched int `json:"matched"`
	// Decided counts events the rule decided.
	Decided   int `json:"decided"`
	Incidents int `json:"incidents"`
	Recovers  int `json:"recovers"`
}

// maxRejected bounds the rejected items kept in a report.
const maxRejected = 1000

// maxReasons bounds the distinct reasons a report counts; the rest are
// counted under otherReasons.
const maxReasons = 100

const otherReasons = "other reasons (more than 100 distinct)"

// Progress is told the number of items read so far.
type Progress func(items int)

// Run replays the events found at paths under set.
func Run(ctx context.Context, set *rules.Set, paths []string, progress Progress) (*Report, error) {
	return RunWith(ctx, set, paths, progress, eventfile.Options{})
}

// RunWith is Run reading paths with opts: s3:// paths, the filter of
// accounts, Regions and time, the files' progress.
func RunWith(ctx context.Context, set *rules.Set, paths []string, progress Progress, opts eventfile.Options) (*Report, error) {
	rep := &Report{
		Invalid:   Invalid{Reasons: map[string]int{}, Items: []Rejected{}},
		Skipped:   map[string]int{},
		Decisions: map[classify.Action]int{},
		Rules:     map[string]*RuleCount{},
		Lifecycle: map[incidents.Action]int{},
		OpsItems:  []memory.Item{},
		Problems:  []problems.Problem{},
		Accounts:  map[string]*AccountCount{},
	}
	for _, a := range classify.Actions {
		rep.Decisions[a] = 0
	}
	for _, r := range set.Rules {
		rep.Rules[r.Name] = &RuleCount{}
	}
	local := NewLocal(set)
	learn := newLearning(set, local)
	items := 0
	// seen tells a delivery of an event already replayed (overlapping
	// files, an event in two shapes): the deployed pipeline would decide it
	// again to the same effect, so it is counted, not replayed. It holds
	// 128-bit digests of the ids, not the ids: a map without pointers,
	// which the garbage collector does not scan, of a fixed size per event.
	seen := map[[2]uint64]struct{}{}
	seeds := [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	err := eventfile.ReadWith(ctx, paths, opts, func(it eventfile.Item) error {
		items++
		if progress != nil {
			progress(items)
		}
		if it.Skip != "" {
			rep.Skipped[it.Skip]++
			return nil
		}
		if it.Err != nil {
			rep.reject(it.Pos, it.Err)
			return nil
		}
		ev := it.Event
		if ev == nil {
			var err error
			if ev, err = event.Parse(it.Raw); err != nil {
				rep.reject(it.Pos, err)
				return nil
			}
		}
		rep.Events++
		id := [2]uint64{maphash.String(seeds[0], ev.ID), maphash.String(seeds[1], ev.ID)}
		if _, ok := seen[id]; ok {
			rep.Duplicates++
			return nil
		}
		seen[id] = struct{}{}
		res, err := local.Process(ctx, ev)
		if inv := (*classify.InvalidError)(nil); errors.As(err, &inv) {
			rep.reject(it.Pos, inv)
			return nil
		}
		if err != nil {
			return fmt.Errorf("process %s: %w", it.Pos, err)
		}
		rep.tally(res.Decision)
		rep.account(ev.Account, res.Decision.Action)
		if res.Outcome != nil {
			rep.Lifecycle[res.Outcome.Action]++
		}
		if err := learn.observe(ctx, ev, res); err != nil {
			return fmt.Errorf("learn from %s: %w", it.Pos, err)
		}
		return ctx.Err()
	})
	rep.OpsItems = append(rep.OpsItems, local.OpsCenter.Items()...)
	rep.OpsCenterCalls = local.OpsCenter.Stats()
	if ferr := learn.fill(ctx, rep); err == nil {
		err = ferr
	}
	return rep, err
}

func (r *Report) account(id string, a classify.Action) {
	ac := r.Accounts[id]
	if ac == nil {
		if len(r.Accounts) >= maxAccounts {
			id = otherAccounts
			ac = r.Accounts[id]
		}
		if ac == nil {
			ac = &AccountCount{}
			r.Accounts[id] = ac
		}
	}
	ac.Events++
	switch a {
	case classify.Incident:
		ac.Incidents++
	case classify.Recover:
		ac.Recovers++
	}
}

func (r *Report) reject(pos string, err error) {
	r.Invalid.Count++
	key := reasonKey(err)
	if _, ok := r.Invalid.Reasons[key]; !ok && len(r.Invalid.Reasons) >= maxReasons-1 {
		// Field names are the input's to choose: a file of bad events with a
		// new field each must not grow the report without bound.
		key = otherReasons
	}
	r.Invalid.Reasons[key]++
	if len(r.Invalid.Items) < maxRejected {
		r.Invalid.Items = append(r.Invalid.Items, Rejected{Pos: pos, Error: err.Error()})
	}
}

// reasonKey groups rejections: the parser names the field and what is wrong
// with it, which is the reason; values quoted after it are not.
func reasonKey(err error) string {
	var pe *event.ParseError
	if errors.As(err, &pe) {
		what, _, _ := strings.Cut(pe.Reason, ":")
		if pe.Field == "" {
			return what
		}
		return fmt.Sprintf("field %q: %s", pe.Field, what)
	}
	msg := err.Error()
	if len(msg) > 100 {
		cut := 100
		for cut > 0 && !utf8.RuneStart(msg[cut]) {
			cut--
		}
		msg = msg[:cut]
	}
	return msg
}

func (r *Report) tally(d classify.Decision) {
	r.Decisions[d.Action]++
	if d.Rule != "" {
		rc := r.Rules[d.Rule]
		rc.Decided++
		switch d.Action {
		case classify.Incident:
			rc.Incidents++
		case classify.Recover:
			rc.Recovers++
		}
	}
	for _, name := range append([]string{d.Rule}, d.Matched...) {
		if rc := r.Rules[name]; rc != nil && (name != d.Rule || d.Action != classify.Recover) {
			rc.Matched++
		}
	}
}

// RuleNames lists the report's rules in name order.
func (r *Report) RuleNames() []string {
	names := make([]string, 0, len(r.Rules))
	for n := range r.Rules {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
