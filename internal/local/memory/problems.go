package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/problems"
)

// Problems is an in-memory problems.Store and problems.Relations with the
// conditional-write semantics of the DynamoDB one. Its zero value is ready
// to use and it is safe for concurrent use.
type Problems struct {
	mu        sync.Mutex
	records   map[string]*problems.Problem
	links     map[string]string
	relations map[string][]Relation
	analyses  map[string]*analysis.Analysis
}

// Relation is one resource related to another, and when they were last
// seen together.
type Relation struct {
	Resource string    `json:"resource"`
	At       time.Time `json:"at"`
}

// maxRelations bounds the relations kept per resource, the most recent.
const maxRelations = 50

var (
	_ problems.Store     = (*Problems)(nil)
	_ problems.Relations = (*Problems)(nil)
	_ analysis.Store     = (*Problems)(nil)
)

// NewProblems returns an empty store.
func NewProblems() *Problems { return &Problems{} }

// Get implements problems.Store.
func (s *Problems) Get(_ context.Context, key string) (*problems.Problem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records[key].Clone(), nil
}

// Put implements problems.Store.
func (s *Problems) Put(_ context.Context, p *problems.Problem) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var have int64
	if cur := s.records[p.Key]; cur != nil {
		have = cur.Version
	}
	if p.Version != have {
		return fmt.Errorf("put problem %s at version %d, stored version %d: %w", p.Key, p.Version, have, problems.ErrConflict)
	}
	if s.records == nil {
		s.records = map[string]*problems.Problem{}
	}
	c := p.Clone()
	c.Version++
	s.records[p.Key] = c
	return nil
}

// List implements problems.Store.
func (s *Problems) List(_ context.Context, status problems.Status) ([]problems.Problem, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []problems.Problem
	for _, p := range s.records {
		if p.Status == status {
			out = append(out, *p.Clone())
		}
	}
	sortProblems(out)
	return out, nil
}

// sortProblems orders as the status index does: the most recently seen
// first, then by key.
func sortProblems(ps []problems.Problem) {
	slices.SortFunc(ps, func(a, b problems.Problem) int {
		if c := b.LastSeen.Compare(a.LastSeen); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
}

// Link implements problems.Store: the links of a state written before
// OpsItems were described (see NewProblemsFrom).
func (s *Problems) Link(_ context.Context, opsItemID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.links[opsItemID], nil
}

// Relate implements problems.Relations.
func (s *Problems) Relate(_ context.Context, resource string, related []string, t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.relations == nil {
		s.relations = map[string][]Relation{}
	}
	rs := s.relations[resource]
	for _, r := range related {
		if r == resource || r == "" {
			continue
		}
		if i := slices.IndexFunc(rs, func(x Relation) bool { return x.Resource == r }); i >= 0 {
			if t.After(rs[i].At) {
				rs[i].At = t
			}
			continue
		}
		rs = append(rs, Relation{Resource: r, At: t})
	}
	slices.SortStableFunc(rs, func(a, b Relation) int { return b.At.Compare(a.At) })
	if len(rs) > maxRelations {
		rs = rs[:maxRelations]
	}
	s.relations[resource] = rs
	return nil
}

// Related implements problems.Relations.
func (s *Problems) Related(_ context.Context, resource string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, r := range s.relations[resource] {
		out = append(out, r.Resource)
	}
	return out, nil
}

// All returns every record, problems and candidates, the most recently
// seen first.
func (s *Problems) All() []problems.Problem {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]problems.Problem, 0, len(s.records))
	for _, p := range s.records {
		out = append(out, *p.Clone())
	}
	sortProblems(out)
	return out
}

// GetAnalysis implements analysis.Store.
func (s *Problems) GetAnalysis(_ context.Context, opsItemID string) (*analysis.Analysis, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.analyses[opsItemID].Clone(), nil
}

// PutAnalysis implements analysis.Store.
func (s *Problems) PutAnalysis(_ context.Context, a *analysis.Analysis) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var have int64
	if cur := s.analyses[a.OpsItemID]; cur != nil {
		have = cur.Version
	}
	if a.Version != have {
		return fmt.Errorf("put analysis of %s at version %d, stored version %d: %w", a.OpsItemID, a.Version, have, analysis.ErrConflict)
	}
	if s.analyses == nil {
		s.analyses = map[string]*analysis.Analysis{}
	}
	c := a.Clone()
	c.Version++
	s.analyses[a.OpsItemID] = c
	return nil
}

// ListAnalyses implements analysis.Store.
func (s *Problems) ListAnalyses(_ context.Context, status analysis.Status) ([]analysis.Analysis, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []analysis.Analysis
	for _, a := range s.analyses {
		if a.Status == status {
			out = append(out, *a.Clone())
		}
	}
	analysis.Sort(out)
	return out, nil
}

// ProblemsState is the content of a Problems store, as a state file keeps it.
type ProblemsState struct {
	Problems  []problems.Problem    `json:"problems"`
	Links     map[string]string     `json:"links"`
	Relations map[string][]Relation `json:"relations,omitempty"`
	Analyses  []analysis.Analysis   `json:"analyses,omitempty"`
}

// State returns a copy of the store's content.
func (s *Problems) State() ProblemsState {
	all := s.All()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := ProblemsState{Problems: all, Links: maps.Clone(s.links), Relations: map[string][]Relation{}}
	if st.Links == nil {
		st.Links = map[string]string{}
	}
	for k, v := range s.relations {
		st.Relations[k] = slices.Clone(v)
	}
	for _, a := range s.analyses {
		st.Analyses = append(st.Analyses, *a.Clone())
	}
	analysis.Sort(st.Analyses)
	return st
}

// NewProblemsFrom returns a store holding st, as State returned it.
func NewProblemsFrom(st ProblemsState) (*Problems, error) {
	s := &Problems{records: map[string]*problems.Problem{}, links: maps.Clone(st.Links), relations: map[string][]Relation{}}
	for i := range st.Problems {
		p := &st.Problems[i]
		if p.Key == "" {
			return nil, fmt.Errorf("load problems: record %d has no key", i)
		}
		if s.records[p.Key] != nil {
			return nil, fmt.Errorf("load problems: key %s appears twice", p.Key)
		}
		s.records[p.Key] = p.Clone()
	}
	for k, v := range st.Relations {
		s.relations[k] = slices.Clone(v)
	}
	s.analyses = map[string]*analysis.Analysis{}
	for i := range st.Analyses {
		a := &st.Analyses[i]
		if a.OpsItemID == "" || !a.Status.Valid() {
			return nil, fmt.Errorf("load analyses: analysis %d has no OpsItem or an unknown status %q", i, a.Status)
		}
		if s.analyses[a.OpsItemID] != nil {
			return nil, fmt.Errorf("load analyses: OpsItem %s appears twice", a.OpsItemID)
		}
		s.analyses[a.OpsItemID] = a.Clone()
	}
	return s, nil
}
