package problems

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/opsloop/opsloop/internal/changelog"
)

// addCauses finds the changes that preceded each of occs and counts them
// into p's suspected causes, which it ranks and bounds. Each incident
// counts a change once, and each incident is passed here once, so a
// cause's count is the number of the problem's incidents it preceded.
func (t *Tracker) addCauses(ctx context.Context, p *Problem, occs []Occurrence) error {
	if t.changes == nil {
		return nil
	}
	resources := p.Resources
	if p.Spread {
		// A failure across accounts is compared with the changes made
		// for many accounts at once.
		resources = []string{changelog.Organization}
	}
	for _, o := range occs {
		found, err := t.causesBefore(ctx, resources, o)
		if err != nil {
			return fmt.Errorf("suspected causes of %s: %w", p.Key, err)
		}
		for _, c := range found {
			i := slices.IndexFunc(p.SuspectedCauses, func(have Cause) bool { return have.EventID == c.EventID })
			if i < 0 {
				c.Incidents = 1
				p.SuspectedCauses = append(p.SuspectedCauses, c)
				continue
			}
			p.SuspectedCauses[i].Incidents++
			if p.SuspectedCauses[i].Via != "" && c.Via == "" {
				// Found as a change to an incident's own resource: the
				// stronger evidence wins the description.
				p.SuspectedCauses[i].Resource, p.SuspectedCauses[i].Via = c.Resource, ""
			}
		}
	}
	Rank(p.SuspectedCauses)
	if len(p.SuspectedCauses) > MaxCauses {
		p.SuspectedCauses = p.SuspectedCauses[:MaxCauses]
	}
	return nil
}

// causesBefore returns the changes within the lookback before o to
// resources (direct) and to resources related to them (via). Relations are
// learned from the change log read further back: the other resources a
// change to one of resources names. They are kept in the relation index,
// when there is one, and the index's relations are used too.
func (t *Tracker) causesBefore(ctx context.Context, resources []string, o Occurrence) ([]Cause, error) {
	at := o.Opened
	from := at.Add(-t.lookback)
	seen := map[string]bool{}
	var out []Cause
	add := func(c changelog.Change, resource, via string) {
		if c.EventID == "" || c.EventID == o.EventID || seen[c.EventID] || c.Time.After(at) || !c.Time.After(from) {
			return
		}
		seen[c.EventID] = true
		out = append(out, causeOf(c, resource, via))
	}
	look := resources[:min(len(resources), MaxResources)]
	learned := make([][]string, len(look))
	for i, r := range look {
		cs, err := t.changes.Changes(ctx, r, at, max(t.lookback, t.relateBack))
		if err != nil {
			return nil, fmt.Errorf("changes of %s before %s: %w", r, at.Format(time.RFC3339), err)
		}
		// Newest first, so the most recent relations are looked up first.
		for j := len(cs) - 1; j >= 0; j-- {
			add(cs[j], r, "")
			for _, other := range cs[j].Resources {
				if other != "" && !slices.Contains(look, other) && !slices.Contains(learned[i], other) {
					learned[i] = append(learned[i], other)
				}
			}
		}
	}
	for i, r := range look {
		related := learned[i]
		if t.relations != nil {
			if len(related) > 0 {
				if err := t.relations.Relate(ctx, r, related, at); err != nil {
					return nil, fmt.Errorf("relate %s: %w", r, err)
				}
			}
			kept, err := t.relations.Related(ctx, r)
			if err != nil {
				return nil, fmt.Errorf("related to %s: %w", r, err)
			}
			for _, k := range kept {
				if !slices.Contains(look, k) && !slices.Contains(related, k) {
					related = append(related, k)
				}
			}
		}
		for _, r2 := range related[:min(len(related), maxRelatedLookups)] {
			cs, err := t.changes.Changes(ctx, r2, at, t.lookback)
			if err != nil {
				return nil, fmt.Errorf("changes of %s before %s: %w", r2, at.Format(time.RFC3339), err)
			}
			for j := len(cs) - 1; j >= 0; j-- {
				add(cs[j], r2, r)
			}
		}
	}
	return out, nil
}

func causeOf(c changelog.Change, resource, via string) Cause {
	name := c.EventName
	if name == "" {
		name = c.Title
	}
	return Cause{
		EventID: c.EventID, EventName: name, Principal: c.Actor, Time: c.Time,
		Resource: resource, Via: via, Rule: c.Rule, Title: c.Title,
	}
}
