package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/opsloop/opsloop/internal/incidents"
)

// Incidents is an in-memory incidents.Store with the conditional-write
// semantics of the DynamoDB one: a Put succeeds only over the version it
// read. Its zero value is ready to use and it is safe for concurrent use.
type Incidents struct {
	mu      sync.Mutex
	records map[string]*incidents.Record
	history map[string][]incidents.History
	puts    int
}

var _ incidents.Store = (*Incidents)(nil)

// NewIncidents returns an empty store.
func NewIncidents() *Incidents { return &Incidents{} }

// Get implements incidents.Store.
func (s *Incidents) Get(_ context.Context, fingerprint string) (*incidents.Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[fingerprint].Clone(), nil
}

// Put implements incidents.Store.
func (s *Incidents) Put(_ context.Context, rec *incidents.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var have int64
	cur := s.records[rec.Fingerprint]
	if cur != nil {
		have = cur.Version
	}
	if rec.Version != have {
		return fmt.Errorf("put incident %s at version %d, stored version %d: %w", rec.Fingerprint, rec.Version, have, incidents.ErrConflict)
	}
	if s.records == nil {
		s.records = map[string]*incidents.Record{}
	}
	c := rec.Clone()
	c.Version++
	s.records[rec.Fingerprint] = c
	s.puts++
	return nil
}

// AddHistory implements incidents.Store. Adding the same incident (the same
// OpsItem, or without one the same opening time) again replaces it.
func (s *Incidents) AddHistory(_ context.Context, h incidents.History) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.history == nil {
		s.history = map[string][]incidents.History{}
	}
	hs := s.history[h.Fingerprint]
	i := slices.IndexFunc(hs, func(o incidents.History) bool {
		return o.OpsItemID == h.OpsItemID && (h.OpsItemID != "" || o.Opened.Equal(h.Opened))
	})
	if i >= 0 {
		hs[i] = h
	} else {
		hs = append(hs, h)
	}
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].Opened.Before(hs[j].Opened) })
	s.history[h.Fingerprint] = hs
	return nil
}

// History returns the fingerprint's past incidents, oldest first.
func (s *Incidents) History(fingerprint string) []incidents.History {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.history[fingerprint])
}

// Records returns a copy of every record, by fingerprint.
func (s *Incidents) Records() []incidents.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]incidents.Record, 0, len(s.records))
	for _, r := range s.records {
		out = append(out, *r.Clone())
	}
	slices.SortFunc(out, func(a, b incidents.Record) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	return out
}

// Puts counts the successful Puts.
func (s *Incidents) Puts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.puts
}
