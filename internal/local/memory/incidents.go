package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

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

// Budget is an in-memory incidents.Counters with the semantics of the
// DynamoDB one. Its zero value is ready to use; it is safe for concurrent use.
type Budget struct {
	mu     sync.Mutex
	counts map[string]map[string]int // by tally, by count
	last   map[string]string
	due    map[string]time.Time
}

var _ incidents.Counters = (*Budget)(nil)

// Take implements incidents.Counters.
func (b *Budget) Take(_ context.Context, t incidents.Tally, id string) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.counts == nil {
		b.counts, b.last = map[string]map[string]int{}, map[string]string{}
	}
	if b.last[t.Key] == id && id != "" {
		return -1, nil
	}
	counts := b.counts[t.Key]
	if counts == nil {
		counts = map[string]int{}
		b.counts[t.Key] = counts
	}
	for name := range counts {
		if t.Stale != nil && t.Stale(name) {
			delete(counts, name)
		}
	}
	for i, c := range t.Counts {
		if counts[c.Name] >= c.Limit {
			return i, nil
		}
	}
	for _, c := range t.Counts {
		counts[c.Name]++
	}
	b.last[t.Key] = id
	if due, ok := b.due[t.Key]; !t.Due.IsZero() && (!ok || t.Due.Before(due)) {
		if b.due == nil {
			b.due = map[string]time.Time{}
		}
		b.due[t.Key] = t.Due
	}
	return -1, nil
}

// Hint implements incidents.Counters.
func (b *Budget) Hint(_ context.Context, t incidents.Tally) (incidents.DueHint, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return incidents.DueHint{At: b.due[t.Key], Mark: b.last[t.Key]}, nil
}

// SetHint implements incidents.Counters.
func (b *Budget) SetHint(_ context.Context, t incidents.Tally, h incidents.DueHint, at time.Time) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.due[t.Key].Equal(h.At) || b.last[t.Key] != h.Mark {
		return false, nil
	}
	if b.due == nil {
		b.due = map[string]time.Time{}
	}
	if at.IsZero() {
		delete(b.due, t.Key)
	} else {
		b.due[t.Key] = at
	}
	return true, nil
}

// Waitlist is an in-memory incidents.Waitlist. Its zero value is ready to
// use; it is safe for concurrent use.
type Waitlist struct {
	mu  sync.Mutex
	fps map[string]bool
}

var _ incidents.Waitlist = (*Waitlist)(nil)

// Wait implements incidents.Waitlist.
func (w *Waitlist) Wait(_ context.Context, fingerprint string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fps == nil {
		w.fps = map[string]bool{}
	}
	w.fps[fingerprint] = true
	return nil
}

// Done implements incidents.Waitlist.
func (w *Waitlist) Done(_ context.Context, fingerprint string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.fps, fingerprint)
	return nil
}

// Waiting implements incidents.Waitlist, in sorted order.
func (w *Waitlist) Waiting(_ context.Context) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.fps))
	for fp := range w.fps {
		out = append(out, fp)
	}
	sort.Strings(out)
	return out, nil
}

// Dues is an in-memory incidents.Dues. Its zero value is ready to use; it
// is safe for concurrent use.
type Dues struct {
	mu sync.Mutex
	at map[string]time.Time
}

var _ incidents.Dues = (*Dues)(nil)

// Due implements incidents.Dues.
func (d *Dues) Due(_ context.Context, fingerprint string, at time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.at == nil {
		d.at = map[string]time.Time{}
	}
	d.at[fingerprint] = at
	return nil
}

// Undue implements incidents.Dues.
func (d *Dues) Undue(_ context.Context, fingerprint string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.at, fingerprint)
	return nil
}

// DueBy implements incidents.Dues, in fingerprint order.
func (d *Dues) DueBy(_ context.Context, t time.Time) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for fp, at := range d.at {
		if !at.After(t) {
			out = append(out, fp)
		}
	}
	sort.Strings(out)
	return out, nil
}
