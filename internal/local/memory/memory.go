// Package memory keeps opsloop's state in process memory: the embedded
// stand-in for DynamoDB used by replay and by tests.
package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/opsloop/opsloop/internal/changelog"

	"github.com/opsloop/opsloop/internal/classify"
)

// Store is an in-memory state store, safe for concurrent use.
type Store struct {
	mu        sync.Mutex
	delivered map[string]bool
	windows   map[string][]time.Time // sorted occurrence times per key
	// lastCounted is the event id added last per key, as the DynamoDB
	// table keeps it.
	lastCounted map[string]string
	changes     map[string][]changelog.Change
	changeIDs   map[string]bool
}

var _ classify.State = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{
		delivered:   map[string]bool{},
		windows:     map[string][]time.Time{},
		lastCounted: map[string]string{},
		changes:     map[string][]changelog.Change{},
		changeIDs:   map[string]bool{},
	}
}

// Deliver implements classify.State.
func (s *Store) Deliver(_ context.Context, id string, _ time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.delivered[id] {
		return false, nil
	}
	s.delivered[id] = true
	return true, nil
}

// Forget implements classify.State.
func (s *Store) Forget(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.delivered, id)
	return nil
}

// Count implements classify.State. Occurrences older than the window are
// dropped as new ones arrive, so a storm costs memory only for one window.
func (s *Store) Count(_ context.Context, key string, t time.Time, window time.Duration, id string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := s.windows[key]
	add := id != "" && s.lastCounted[key] != id
	if add {
		s.lastCounted[key] = id
		i := sort.Search(len(ts), func(i int) bool { return ts[i].After(t) })
		ts = append(ts, time.Time{})
		copy(ts[i+1:], ts[i:])
		ts[i] = t
	}
	from := t.Add(-window)
	lo := sort.Search(len(ts), func(i int) bool { return ts[i].After(from) })
	hi := sort.Search(len(ts), func(i int) bool { return ts[i].After(t) })
	if add && lo > 0 && lo >= len(ts)/2 {
		// Events come mostly in time order, so what fell out of this window
		// is not counted again; dropping it in halves keeps the cost amortized.
		ts = append(ts[:0:0], ts[lo:]...)
		hi -= lo
		lo = 0
	}
	s.windows[key] = ts
	return hi - lo, nil
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
