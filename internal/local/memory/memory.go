// Package memory keeps opsloop's state in process memory: the embedded
// stand-in for DynamoDB used by replay and by tests.
package memory

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/opsloop/opsloop/internal/changelog"

	"github.com/opsloop/opsloop/internal/classify"
)

// Store is an in-memory state store, safe for concurrent use.
type Store struct {
	mu        sync.Mutex
	windows   map[string][]occurrence // sorted by time, per key
	changes   map[string][]changelog.Change
	changeIDs map[string]bool
}

// occurrence is one event counted under a key.
type occurrence struct {
	t  time.Time
	id string
}

var _ classify.State = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		windows:   map[string][]occurrence{},
		changes:   map[string][]changelog.Change{},
		changeIDs: map[string]bool{},
	}
}

// Count implements classify.State: an id counted under key at t before is
// not added again (a redelivery has its event's time), as the DynamoDB
// table's buckets do. Occurrences older than the window are dropped as new
// ones arrive, so a storm costs memory only for one window.
func (s *Store) Count(_ context.Context, key string, t time.Time, window time.Duration, id string) (int, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	os := s.windows[key]
	after := func(t time.Time) int { return sort.Search(len(os), func(i int) bool { return os[i].t.After(t) }) }
	i := after(t)
	add := id != ""
	for j := i - 1; add && j >= 0 && os[j].t.Equal(t); j-- {
		add = os[j].id != id
	}
	if add {
		os = slices.Insert(os, i, occurrence{t, id})
	}
	lo, hi := after(t.Add(-window)), after(t)
	if add && lo > 0 && lo >= len(os)/2 {
		// Events come mostly in time order, so what fell out of this window
		// is not counted again; dropping it in halves keeps the cost amortized.
		os = append(os[:0:0], os[lo:]...)
		hi -= lo
		lo = 0
	}
	s.windows[key] = os
	return hi - lo, add, nil
}

// RecordChange implements classify.State.
func (s *Store) RecordChange(_ context.Context, c changelog.Change) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.changeIDs[c.EventID] {
		return nil
	}
	s.changeIDs[c.EventID] = true
	for _, r := range c.Resources {
		s.changes[r] = append(s.changes[r], c)
	}
	return nil
}

// Changes returns the changes recorded for resource within (t-lookback, t], oldest first.
func (s *Store) Changes(_ context.Context, resource string, t time.Time, lookback time.Duration) ([]changelog.Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []changelog.Change
	for _, c := range s.changes[resource] {
		if c.Time.After(t.Add(-lookback)) && !c.Time.After(t) {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}
