package pattern

import (
	"math"
	"net/netip"
	"slices"
	"sync"
)

// Set holds many patterns compiled into one index. Add all patterns, then call
// Match, which is safe for concurrent use; Add is not.
//
// Matching looks each event value up by its path: exact values, prefixes and
// suffixes (also ignoring case, and the fixed start or end of a wildcard) by
// hash, the rest (numeric ranges, cidr, anything-but, other wildcards) from a
// list kept per path. Each hit marks one field of one alternative as
// satisfied; only alternatives with all their fields satisfied are then
// checked in full (array consistency, {"exists": false}). The cost of a match
// therefore follows the values in the event and the conditions they meet,
// not the number of patterns.
type Set struct {
	entries []setEntry
	groups  map[string]int32 // id -> index of its first entry
	clauses []setClause
	slots   []setSlot
	paths   map[string]*pathIndex
	always  []int32 // clauses without a field that values can satisfy
	pool    sync.Pool
}

type setEntry struct {
	id    string
	group int32
	p     *Pattern
}

type setClause struct {
	entry int32
	need  int32 // counted slots that must all be hit
	first int32 // slots[first : first+n], in match order
	n     int32
	plain bool // no {"exists": false}: the fast path may apply
}

type setSlot struct {
	src     *slot
	clause  int32
	counted bool
}

// ref points from an index entry to a slot; c, when set, must still be
// checked against the value (an indexed wildcard's full glob).
type ref struct {
	slot int32
	c    *cond
}

// affix indexes prefixes (or suffixes) by their text, with the distinct
// lengths in use so a value is probed once per length.
type affix struct {
	m    map[string][]ref
	lens []int
}

func (a *affix) add(key string, r ref) {
	if a.m == nil {
		a.m = map[string][]ref{}
	}
	if _, ok := a.m[key]; !ok {
		if i, found := slices.BinarySearch(a.lens, len(key)); !found {
			a.lens = slices.Insert(a.lens, i, len(key))
		}
	}
	a.m[key] = append(a.m[key], r)
}

// pathIndex holds every condition of the set on one path.
type pathIndex struct {
	strs       map[string][]int32
	nums       map[uint64][]int32
	numTexts   map[string][]int32
	ips        map[netip.Addr][]int32
	folded     map[string][]int32
	trues      []int32
	falses     []int32
	nulls      []int32
	exists     []int32
	prefix     affix
	suffix     affix
	foldPrefix affix
	foldSuffix affix
	scan       []ref // checked against every value
	needFold   bool
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{groups: map[string]int32{}, paths: map[string]*pathIndex{}}
}

// Len returns the number of patterns added.
func (s *Set) Len() int { return len(s.entries) }

// Add adds a pattern under id. Match reports each id once even if it was added
// with several patterns.
func (s *Set) Add(id string, p *Pattern) {
	entry := int32(len(s.entries))
	group, ok := s.groups[id]
	if !ok {
		group = entry
		s.groups[id] = group
	}
	s.entries = append(s.entries, setEntry{id: id, group: group, p: p})
	for _, cl := range p.clauses {
		ci := int32(len(s.clauses))
		sc := setClause{entry: entry, first: int32(len(s.slots)), n: int32(len(cl.slots)), plain: true}
		for _, sl := range cl.slots {
			si := int32(len(s.slots))
			counted := !sl.absent
			if counted {
				sc.need++
			} else {
				sc.plain = false
			}
			s.slots = append(s.slots, setSlot{src: sl, clause: ci, counted: counted})
			s.index(sl, si)
		}
		s.clauses = append(s.clauses, sc)
		if sc.need == 0 {
			s.always = append(s.always, ci)
		}
	}
}

func appendMap[K comparable](m map[K][]int32, k K, v int32) map[K][]int32 {
	if m == nil {
		m = map[K][]int32{}
	}
	m[k] = append(m[k], v)
	return m
}

func (s *Set) index(sl *slot, si int32) {
	pi := s.paths[sl.path]
	if pi == nil {
		pi = &pathIndex{}
		s.paths[sl.path] = pi
	}
	for _, c := range sl.conds {
		switch c.kind {
		case condString:
			pi.strs = appendMap(pi.strs, c.str, si)
		case condIP:
			pi.ips = appendMap(pi.ips, c.addr, si)
		case condNumber:
			if c.fin {
				pi.nums = appendMap(pi.nums, numKey(c.num), si)
			} else {
				pi.numTexts = appendMap(pi.numTexts, c.text, si)
			}
		case condTrue:
			pi.trues = append(pi.trues, si)
		case condFalse:
			pi.falses = append(pi.falses, si)
		case condNull:
			pi.nulls = append(pi.nulls, si)
		case condExists:
			pi.exists = append(pi.exists, si)
		case condPrefix:
			pi.prefix.add(c.str, ref{slot: si})
		case condSuffix:
			pi.suffix.add(c.str, ref{slot: si})
		case condEqualsIgnoreCase:
			pi.folded = appendMap(pi.folded, c.fold, si)
			pi.needFold = true
		case condPrefixIgnoreCase:
			pi.foldPrefix.add(c.fold, ref{slot: si})
			pi.needFold = true
		case condSuffixIgnoreCase:
			pi.foldSuffix.add(c.fold, ref{slot: si})
			pi.needFold = true
		case condWildcard:
			switch {
			case len(c.glob.segs) == 1:
				pi.strs = appendMap(pi.strs, c.glob.segs[0], si)
			case c.glob.literalPrefix() != "":
				pi.prefix.add(c.glob.literalPrefix(), ref{slot: si, c: c})
			case c.glob.literalSuffix() != "":
				pi.suffix.add(c.glob.literalSuffix(), ref{slot: si, c: c})
			default:
				pi.scan = append(pi.scan, ref{slot: si, c: c})
			}
		default:
			pi.scan = append(pi.scan, ref{slot: si, c: c})
		}
	}
}

// numKey is the hash key of a number: equal numbers (300, 300.0, 3e2) share it.
func numKey(n float64) uint64 {
	if n == 0 {
		n = 0 // fold -0 into 0
	}
	return math.Float64bits(n)
}

type hitRec struct {
	leaf int32
	next int32
}

// scratch is the per-match working memory, reused through a pool. Stamps
// equal to epoch mark entries written by the current match, so nothing needs
// clearing between matches.
type scratch struct {
	epoch       uint32
	slotStamp   []uint32
	slotHead    []int32
	clauseStamp []uint32
	clauseCount []int32
	entryStamp  []uint32
	groupStamp  []uint32
	hits        []hitRec
	cands       []int32
	matched     []int32
	mem         []arrayPos
}

func (s *Set) scratch() *scratch {
	sc, _ := s.pool.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	if len(sc.slotStamp) < len(s.slots) || len(sc.clauseStamp) < len(s.clauses) || len(sc.entryStamp) < len(s.entries) {
		*sc = scratch{
			slotStamp:   make([]uint32, len(s.slots)),
			slotHead:    make([]int32, len(s.slots)),
			clauseStamp: make([]uint32, len(s.clauses)),
			clauseCount: make([]int32, len(s.clauses)),
			entryStamp:  make([]uint32, len(s.entries)),
			groupStamp:  make([]uint32, len(s.entries)),
			hits:        sc.hits,
			cands:       sc.cands,
			matched:     sc.matched,
			mem:         sc.mem,
		}
	}
	sc.epoch++
	if sc.epoch == 0 {
		clear(sc.slotStamp)
		clear(sc.clauseStamp)
		clear(sc.entryStamp)
		clear(sc.groupStamp)
		sc.epoch = 1
	}
	sc.hits, sc.cands, sc.matched = sc.hits[:0], sc.cands[:0], sc.matched[:0]
	return sc
}

// Match returns the ids of the patterns that match the event, in the order
// they were added, without duplicates.
func (s *Set) Match(f *Fields) []string {
	if len(s.entries) == 0 {
		return nil
	}
	sc := s.scratch()
	defer s.pool.Put(sc)

	for gi := range f.groups {
		g := &f.groups[gi]
		pi := s.paths[g.path]
		if pi == nil {
			continue
		}
		for li := g.lo; li < g.hi; li++ {
			s.visit(pi, &f.leaves[li], li, sc)
		}
	}
	for _, c := range sc.cands {
		s.decide(c, f, sc)
	}
	for _, c := range s.always {
		s.decide(c, f, sc)
	}
	if len(sc.matched) == 0 {
		return nil
	}
	slices.Sort(sc.matched)
	out := make([]string, 0, len(sc.matched))
	for _, e := range sc.matched {
		g := s.entries[e].group
		if sc.groupStamp[g] != sc.epoch {
			sc.groupStamp[g] = sc.epoch
			out = append(out, s.entries[e].id)
		}
	}
	return out
}

func (s *Set) decide(c int32, f *Fields, sc *scratch) {
	e := s.clauses[c].entry
	if sc.entryStamp[e] == sc.epoch {
		return // another alternative already matched
	}
	if s.verify(c, f, sc) {
		sc.entryStamp[e] = sc.epoch
		sc.matched = append(sc.matched, e)
	}
}

func (s *Set) visit(pi *pathIndex, l *leaf, li int32, sc *scratch) {
	switch l.kind {
	case leafString:
		str := l.str
		s.hitAll(pi.strs[str], li, sc)
		s.hitAffix(&pi.prefix, str, true, l, li, sc)
		s.hitAffix(&pi.suffix, str, false, l, li, sc)
		if pi.needFold {
			fs := fold(str)
			s.hitAll(pi.folded[fs], li, sc)
			s.hitAffix(&pi.foldPrefix, fs, true, l, li, sc)
			s.hitAffix(&pi.foldSuffix, fs, false, l, li, sc)
		}
		if len(pi.ips) > 0 {
			if a, ok := parseIP(str); ok {
				s.hitAll(pi.ips[a], li, sc)
			}
		}
	case leafNumber:
		if l.numOK && pi.nums != nil {
			s.hitAll(pi.nums[numKey(l.num)], li, sc)
		}
		if pi.numTexts != nil {
			s.hitAll(pi.numTexts[l.str], li, sc)
		}
	case leafTrue:
		s.hitAll(pi.trues, li, sc)
	case leafFalse:
		s.hitAll(pi.falses, li, sc)
	case leafNull:
		s.hitAll(pi.nulls, li, sc)
	}
	s.hitAll(pi.exists, li, sc)
	for _, r := range pi.scan {
		if r.c.matches(l) {
			s.hit(r.slot, li, sc)
		}
	}
}

func (s *Set) hitAffix(a *affix, str string, prefix bool, l *leaf, li int32, sc *scratch) {
	for _, n := range a.lens {
		if n > len(str) {
			return
		}
		key := str[:n]
		if !prefix {
			key = str[len(str)-n:]
		}
		for _, r := range a.m[key] {
			if r.c == nil || r.c.matches(l) {
				s.hit(r.slot, li, sc)
			}
		}
	}
}

func (s *Set) hitAll(slots []int32, li int32, sc *scratch) {
	for _, si := range slots {
		s.hit(si, li, sc)
	}
}

// hit records that value li satisfies slot si.
func (s *Set) hit(si, li int32, sc *scratch) {
	if sc.slotStamp[si] != sc.epoch {
		sc.slotStamp[si] = sc.epoch
		sc.slotHead[si] = -1
		if ss := &s.slots[si]; ss.counted {
			c := ss.clause
			if sc.clauseStamp[c] != sc.epoch {
				sc.clauseStamp[c] = sc.epoch
				sc.clauseCount[c] = 0
			}
			sc.clauseCount[c]++
			if sc.clauseCount[c] == s.clauses[c].need {
				sc.cands = append(sc.cands, c)
			}
		}
	} else if h := sc.slotHead[si]; h >= 0 && sc.hits[h].leaf == li {
		return // the same value, through another condition of the slot
	}
	sc.hits = append(sc.hits, hitRec{leaf: li, next: sc.slotHead[si]})
	sc.slotHead[si] = int32(len(sc.hits) - 1)
}

// verify decides a candidate alternative exactly, with the semantics of
// Pattern.MatchFields, using the values recorded for each slot.
func (s *Set) verify(c int32, f *Fields, sc *scratch) bool {
	cl := &s.clauses[c]
	end := cl.first + cl.n
	if cl.plain {
		// When every field has a value outside any array, those values are
		// trivially consistent.
		simple := true
		for si := cl.first; si < end && simple; si++ {
			simple = false
			for h := sc.slotHead[si]; h >= 0; h = sc.hits[h].next {
				if f.leaves[sc.hits[h].leaf].arrLen == 0 {
					simple = true
					break
				}
			}
		}
		if simple {
			return true
		}
	}
	ok := s.search(cl.first, end, f, sc, sc.mem[:0])
	return ok
}

func (s *Set) search(si, end int32, f *Fields, sc *scratch, m []arrayPos) bool {
	if si == end {
		return true
	}
	if sc.slotStamp[si] == sc.epoch {
		for h := sc.slotHead[si]; h >= 0; h = sc.hits[h].next {
			mem := f.membership(&f.leaves[sc.hits[h].leaf])
			if consistent(m, mem) && s.search(si+1, end, f, sc, merge(m, mem)) {
				return true
			}
		}
	}
	if src := s.slots[si].src; src.absent && !anyConsistent(f, f.lookup(src.path), m) {
		return s.search(si+1, end, f, sc, m)
	}
	return false
}
