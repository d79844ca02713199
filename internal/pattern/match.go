package pattern

import (
	"strings"
)

// String returns the canonical JSON of the pattern: semantically identical to
// the source, accepted by Compile and by EventBridge, and equal for patterns
// that differ only in layout, duplicate keys or the order of fields.
func (p *Pattern) String() string { return p.canonical }

// Match reports whether event (any JSON object) matches the pattern.
func (p *Pattern) Match(event []byte) (bool, error) {
	f, err := ParseEvent(event)
	if err != nil {
		return false, err
	}
	return p.MatchFields(f), nil
}

// MatchFields reports whether the parsed event matches the pattern.
//
// Each alternative's fields are checked in the order EventBridge checks them
// (sorted by path). The values chosen for the fields must be array-consistent:
// two values inside the same array of the event must come from the same
// element. {"exists": false} holds when no value at that path is consistent
// with the values chosen for the fields checked before it.
func (p *Pattern) MatchFields(f *Fields) bool {
	var buf [16]arrayPos
	for i := range p.clauses {
		if matchSlots(p.clauses[i].slots, f, buf[:0]) {
			return true
		}
	}
	return false
}

func matchSlots(slots []*slot, f *Fields, m []arrayPos) bool {
	if len(slots) == 0 {
		return true
	}
	s := slots[0]
	leaves := f.lookup(s.path)
	for i := range leaves {
		l := &leaves[i]
		mem := f.membership(l)
		if !consistent(m, mem) || !slotAccepts(s, l) {
			continue
		}
		if matchSlots(slots[1:], f, merge(m, mem)) {
			return true
		}
	}
	if s.absent && !anyConsistent(f, leaves, m) {
		return matchSlots(slots[1:], f, m)
	}
	return false
}

func slotAccepts(s *slot, l *leaf) bool {
	for _, c := range s.conds {
		if c.matches(l) {
			return true
		}
	}
	return false
}

func anyConsistent(f *Fields, leaves []leaf, m []arrayPos) bool {
	for i := range leaves {
		if consistent(m, f.membership(&leaves[i])) {
			return true
		}
	}
	return false
}

// consistent reports whether a value in the arrays mem can be chosen together
// with values already placed at m: no array may be entered at two indexes.
func consistent(m, mem []arrayPos) bool {
	for _, a := range mem {
		for _, b := range m {
			if a.id == b.id && a.idx != b.idx {
				return false
			}
		}
	}
	return true
}

// merge adds mem to m. It appends in place: callers treat m as a stack and
// only ever look at the prefix they passed in.
func merge(m, mem []arrayPos) []arrayPos {
outer:
	for _, a := range mem {
		for _, b := range m {
			if a.id == b.id {
				continue outer
			}
		}
		m = append(m, a)
	}
	return m
}

// Miss is one condition of a pattern that an event fails.
type Miss struct {
	Path string   // dot-joined field path
	Want string   // human summary of the condition, e.g. `prefix "aws."`
	Got  []string // the event's values at Path as JSON text; nil when the field is missing
}

// Explain says why an event does not match: one Miss per failed condition,
// empty when it matches. For a pattern with "$or" it explains the alternative
// that came closest (fewest misses, then most fields met).
func (p *Pattern) Explain(f *Fields) []Miss {
	if p.MatchFields(f) {
		return nil
	}
	var best []Miss
	bestMet := 0
	for i := range p.clauses {
		cl := &p.clauses[i]
		misses := explainClause(cl, f)
		met := len(cl.slots) - len(misses)
		if best == nil || len(misses) < len(best) || (len(misses) == len(best) && met > bestMet) {
			best, bestMet = misses, met
		}
	}
	return best
}

func explainClause(cl *clause, f *Fields) []Miss {
	var misses []Miss
	for _, s := range cl.slots {
		leaves := f.lookup(s.path)
		ok := s.absent && len(leaves) == 0
		for i := range leaves {
			if slotAccepts(s, &leaves[i]) {
				ok = true
				break
			}
		}
		if ok {
			continue
		}
		misses = append(misses, Miss{Path: s.path, Want: describeSlot(s), Got: render(leaves)})
	}
	if len(misses) == 0 {
		// Every field has a fitting value, but not together: they sit in
		// different elements of one array (or an absent field is present in
		// the element the other values came from).
		var paths []string
		for _, s := range cl.slots {
			paths = append(paths, s.path)
		}
		misses = append(misses, Miss{
			Path: strings.Join(paths, ", "),
			Want: "all values from the same array element",
		})
	}
	return misses
}

func describeSlot(s *slot) string {
	var parts []string
	for _, c := range s.conds {
		parts = append(parts, c.describe())
	}
	if s.absent {
		parts = append(parts, "does not exist")
	}
	return strings.Join(parts, " or ")
}

func render(leaves []leaf) []string {
	if len(leaves) == 0 {
		return nil
	}
	out := make([]string, len(leaves))
	for i := range leaves {
		out[i] = leaves[i].render()
	}
	return out
}
