package pattern

import (
	"math"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
)

// Set holds many patterns compiled into one index. Add all patterns, then call
// Match, which is safe for concurrent use; Add is not.
//
// Each alternative of each pattern is indexed under one of its fields, its
// anchor: the field whose values are rarest across the set (an eventName list
// rather than the detail-type every rule shares). Matching looks each event
// value up by its path: exact values, prefixes and suffixes (also ignoring
// case, and the fixed start or end of a wildcard) by hash, and only the
// remaining kinds (numeric ranges, cidr, anything-but, other wildcards) from a
// list kept per path. An alternative whose anchor is met becomes a candidate
// and only candidates are checked in full. The cost of a match therefore
// follows the values in the event and the patterns they could satisfy, not
// the number of patterns.
type Set struct {
	entries []setEntry
	groups  map[string]int32 // id -> index of its first entry
	clauses []setClause

	mu       sync.Mutex
	built    atomic.Bool
	pathList []string         // every path the patterns name, sorted
	pathID   map[string]int32 // path -> index in pathList
	index    []*pathIndex     // by path id; nil where no anchor sits
	always   []int32          // alternatives without an anchor, checked on every event
	pool     sync.Pool
	ranked   atomic.Pointer[[]*rankIDs]
}

type setEntry struct {
	id    string
	group int32
}

type setClause struct {
	entry int32
	slots []*slot
	paths []int32 // path id of each slot
}

// ref points from an index entry to an alternative; c, when set, must still be
// checked against the value (for instance an indexed wildcard's full glob).
type ref struct {
	clause int32
	c      *cond
}

// affix indexes prefixes (or suffixes) by their text, with the distinct
// lengths in use so a value is probed once per length.
type affix struct {
	m    map[string][]int32
	lens []int
}

func (a *affix) add(key string, clause int32) {
	if a.m == nil {
		a.m = map[string][]int32{}
	}
	if _, ok := a.m[key]; !ok {
		if i, found := slices.BinarySearch(a.lens, len(key)); !found {
			a.lens = slices.Insert(a.lens, i, len(key))
		}
	}
	a.m[key] = append(a.m[key], clause)
}

// pathIndex holds the anchors on one path.
type pathIndex struct {
	strs       map[string][]int32
	nums       map[uint64][]int32
	numTexts   map[string][]int32
	ips        map[netip.Addr][]int32
	folded     map[string][]int32
	trues      []int32
	falses     []int32
	nulls      []int32
	any        []int32 // exists: true
	prefix     affix
	suffix     affix
	foldPrefix affix
	foldSuffix affix
	checked    []ref // conditions tried on every value
	needFold   bool
}

// NewSet returns an empty Set.
func NewSet() *Set {
	return &Set{groups: map[string]int32{}}
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
	s.entries = append(s.entries, setEntry{id: id, group: group})
	for _, cl := range p.clauses {
		s.clauses = append(s.clauses, setClause{entry: entry, slots: cl.slots})
	}
	s.built.Store(false)
}

// build chooses every alternative's anchor and indexes it. It runs once,
// on the first Match after the last Add.
func (s *Set) build() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.built.Load() {
		return
	}
	popularity := map[string]int{}
	for _, cl := range s.clauses {
		for _, sl := range cl.slots {
			if sl.absent {
				continue
			}
			for _, c := range sl.conds {
				if k, ok := indexKey(sl.path, c); ok {
					popularity[k]++
				}
			}
		}
	}
	// Conditions that cannot be looked up (exists, anything-but, numeric,
	// ...) are tried on every value at their path, and are usually met:
	// anchor on them only when nothing else is available.
	unindexed := len(s.clauses) + 1
	s.ranked.Store(nil) // path ids change
	s.pathID = map[string]int32{}
	s.pathList = s.pathList[:0]
	for _, cl := range s.clauses {
		for _, sl := range cl.slots {
			if _, ok := s.pathID[sl.path]; !ok {
				s.pathID[sl.path] = 0
				s.pathList = append(s.pathList, sl.path)
			}
		}
	}
	slices.Sort(s.pathList)
	for i, p := range s.pathList {
		s.pathID[p] = int32(i)
	}
	s.index = make([]*pathIndex, len(s.pathList))
	s.always = nil
	for ci := range s.clauses {
		cl := &s.clauses[ci]
		cl.paths = cl.paths[:0]
		for _, sl := range cl.slots {
			cl.paths = append(cl.paths, s.pathID[sl.path])
		}
	}
	for ci, cl := range s.clauses {
		var anchor *slot
		best := math.MaxInt
		for _, sl := range cl.slots {
			if sl.absent {
				continue // may be met by absence, so it cannot gate the match
			}
			cost := 0
			for _, c := range sl.conds {
				if k, ok := indexKey(sl.path, c); ok {
					cost += popularity[k]
				} else {
					cost += unindexed
				}
			}
			if cost < best {
				anchor, best = sl, cost
			}
		}
		if anchor == nil {
			s.always = append(s.always, int32(ci))
			continue
		}
		s.addAnchor(anchor, int32(ci))
	}
	s.built.Store(true)
}

// indexKey identifies a condition served by a hash lookup; conditions sharing
// a key are met by the same event values.
func indexKey(path string, c *cond) (string, bool) {
	var k string
	switch c.kind {
	case condString:
		k = "s" + c.str
	case condIP:
		k = "i" + c.addr.String()
	case condNumber:
		if c.fin {
			k = "n" + strconv.FormatUint(numKey(c.num), 16)
		} else {
			k = "t" + c.text
		}
	case condTrue, condFalse, condNull:
		k = "v" + strconv.Itoa(int(c.kind))
	case condPrefix:
		k = "p" + c.str
	case condSuffix:
		k = "x" + c.str
	case condEqualsIgnoreCase:
		k = "f" + c.fold
	case condPrefixIgnoreCase:
		k = "P" + c.fold
	case condSuffixIgnoreCase:
		k = "X" + c.fold
	case condWildcard:
		switch text, suffix := c.glob.anchor(); {
		case len(c.glob.segs) == 1:
			k = "s" + c.glob.segs[0]
		case text == "":
			return "", false
		case suffix:
			k = "x" + text
		default:
			k = "p" + text
		}
	default:
		return "", false
	}
	if k == "p" || k == "x" || k == "P" || k == "X" {
		return "", false // an empty prefix or suffix is met by every string
	}
	return path + "\x00" + k, true
}

func appendMap[K comparable](m map[K][]int32, k K, v int32) map[K][]int32 {
	if m == nil {
		m = map[K][]int32{}
	}
	m[k] = append(m[k], v)
	return m
}

func (s *Set) addAnchor(sl *slot, ci int32) {
	id := s.pathID[sl.path]
	pi := s.index[id]
	if pi == nil {
		pi = &pathIndex{}
		s.index[id] = pi
	}
	for _, c := range sl.conds {
		switch c.kind {
		case condString:
			pi.strs = appendMap(pi.strs, c.str, ci)
		case condIP:
			pi.ips = appendMap(pi.ips, c.addr, ci)
		case condNumber:
			if c.fin {
				pi.nums = appendMap(pi.nums, numKey(c.num), ci)
			} else {
				pi.numTexts = appendMap(pi.numTexts, c.text, ci)
			}
		case condTrue:
			pi.trues = append(pi.trues, ci)
		case condFalse:
			pi.falses = append(pi.falses, ci)
		case condNull:
			pi.nulls = append(pi.nulls, ci)
		case condExists:
			pi.any = append(pi.any, ci)
		case condPrefix:
			pi.prefix.add(c.str, ci)
		case condSuffix:
			pi.suffix.add(c.str, ci)
		case condEqualsIgnoreCase:
			pi.folded = appendMap(pi.folded, c.fold, ci)
			pi.needFold = true
		case condPrefixIgnoreCase:
			pi.foldPrefix.add(c.fold, ci)
			pi.needFold = true
		case condSuffixIgnoreCase:
			pi.foldSuffix.add(c.fold, ci)
			pi.needFold = true
		case condWildcard:
			// Candidates found through the fixed text are verified in
			// full later, like every candidate.
			switch text, suffix := c.glob.anchor(); {
			case len(c.glob.segs) == 1:
				pi.strs = appendMap(pi.strs, c.glob.segs[0], ci)
			case text == "":
				pi.checked = append(pi.checked, ref{clause: ci, c: c})
			case suffix:
				pi.suffix.add(text, ci)
			default:
				pi.prefix.add(text, ci)
			}
		default:
			pi.checked = append(pi.checked, ref{clause: ci, c: c})
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

// scratch is the per-match working memory, reused through a pool. Stamps
// equal to epoch mark entries written by the current match, so nothing needs
// clearing between matches.
type scratch struct {
	epoch       uint32
	pathStamp   []uint32 // pathGroup[id] is valid when pathStamp[id] == epoch
	pathGroup   []int32  // the event's group for each path id
	clauseStamp []uint32
	entryStamp  []uint32
	groupStamp  []uint32
	cands       []int32
	matched     []int32
	mem         []arrayPos
	fold        []byte
}

func (s *Set) scratch() *scratch {
	sc, _ := s.pool.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	if len(sc.clauseStamp) < len(s.clauses) || len(sc.entryStamp) < len(s.entries) || len(sc.pathStamp) < len(s.pathList) {
		sc.pathStamp = make([]uint32, len(s.pathList))
		sc.pathGroup = make([]int32, len(s.pathList))
		sc.clauseStamp = make([]uint32, len(s.clauses))
		sc.entryStamp = make([]uint32, len(s.entries))
		sc.groupStamp = make([]uint32, len(s.entries))
		sc.epoch = 0
	}
	sc.epoch++
	if sc.epoch == 0 {
		clear(sc.pathStamp)
		clear(sc.clauseStamp)
		clear(sc.entryStamp)
		clear(sc.groupStamp)
		sc.epoch = 1
	}
	sc.cands, sc.matched = sc.cands[:0], sc.matched[:0]
	return sc
}

// Match returns the ids of the patterns that match the event, in the order
// they were added, without duplicates.
func (s *Set) Match(f *Fields) []string { return s.AppendMatch(nil, f) }

// AppendMatch appends the ids Match returns to dst.
func (s *Set) AppendMatch(dst []string, f *Fields) []string {
	if len(s.entries) == 0 {
		return dst
	}
	if !s.built.Load() {
		s.build()
	}
	sc := s.scratch()
	defer s.pool.Put(sc)

	// Pair the event's paths with the set's: by rank for a filtered parse,
	// a merge of two sorted lists when they are of similar size, hash
	// lookups when the set names many more paths than the event has.
	if f.filter != nil {
		ids := s.byRank(f.filter)
		for gi := range f.groups {
			if id := ids[f.groups[gi].rank]; id >= 0 {
				s.found(id, int32(gi), f, sc)
			}
		}
	} else if len(s.pathList) <= 4*len(f.groups) {
		i := 0
		for gi := range f.groups {
			g := &f.groups[gi]
			for i < len(s.pathList) && s.pathList[i] < g.path {
				i++
			}
			if i < len(s.pathList) && s.pathList[i] == g.path {
				s.found(int32(i), int32(gi), f, sc)
			}
		}
	} else {
		for gi := range f.groups {
			if id, ok := s.pathID[f.groups[gi].path]; ok {
				s.found(id, int32(gi), f, sc)
			}
		}
	}
	for _, c := range sc.cands {
		s.decide(c, f, sc)
	}
	for _, c := range s.always {
		s.decide(c, f, sc)
	}
	if len(sc.matched) == 0 {
		return dst
	}
	slices.Sort(sc.matched)
	out := dst
	for _, e := range sc.matched {
		g := s.entries[e].group
		if sc.groupStamp[g] != sc.epoch {
			sc.groupStamp[g] = sc.epoch
			out = append(out, s.entries[e].id)
		}
	}
	return out
}

// rankIDs maps the ranks of one filter's paths to the set's path ids (-1
// for a path no pattern of the set reads).
type rankIDs struct {
	filter *Filter
	ids    []int32
}

// byRank returns the path ids of filter's ranks, kept for the last few
// filters asked about (a classifier parses with two: its fast path's and
// its full path's).
func (s *Set) byRank(filter *Filter) []int32 {
	var kept []*rankIDs
	if p := s.ranked.Load(); p != nil {
		kept = *p
	}
	for _, r := range kept {
		if r.filter == filter {
			return r.ids
		}
	}
	ids := make([]int32, len(filter.ranks))
	for path, rank := range filter.ranks {
		ids[rank] = -1
		if id, ok := s.pathID[path]; ok {
			ids[rank] = id
		}
	}
	next := append([]*rankIDs{{filter: filter, ids: ids}}, kept[:min(len(kept), 3)]...)
	s.ranked.Store(&next)
	return ids
}

// found records that the event has values at path id and looks them up.
func (s *Set) found(id, gi int32, f *Fields, sc *scratch) {
	sc.pathStamp[id] = sc.epoch
	sc.pathGroup[id] = gi
	if pi := s.index[id]; pi != nil {
		g := &f.groups[gi]
		for li := g.lo; li < g.hi; li++ {
			s.visit(pi, &f.leaves[li], sc)
		}
	}
}

// decide checks a candidate alternative in full.
func (s *Set) decide(c int32, f *Fields, sc *scratch) {
	cl := &s.clauses[c]
	if sc.entryStamp[cl.entry] == sc.epoch {
		return // another alternative of the pattern already matched
	}
	if s.search(cl, 0, f, sc, sc.mem[:0]) {
		sc.entryStamp[cl.entry] = sc.epoch
		sc.matched = append(sc.matched, cl.entry)
	}
}

func (s *Set) visit(pi *pathIndex, l *leaf, sc *scratch) {
	switch l.kind {
	case leafString:
		str := l.str
		s.candidates(pi.strs[str], sc)
		s.affix(&pi.prefix, str, true, sc)
		s.affix(&pi.suffix, str, false, sc)
		if pi.needFold {
			// Folding into a reused buffer; map lookups keyed by
			// string(bytes) do not allocate.
			sc.fold = appendFold(sc.fold[:0], str)
			fs := sc.fold
			s.candidates(pi.folded[string(fs)], sc)
			for _, n := range pi.foldPrefix.lens {
				if n > len(fs) {
					break
				}
				s.candidates(pi.foldPrefix.m[string(fs[:n])], sc)
			}
			for _, n := range pi.foldSuffix.lens {
				if n > len(fs) {
					break
				}
				s.candidates(pi.foldSuffix.m[string(fs[len(fs)-n:])], sc)
			}
		}
		if len(pi.ips) > 0 {
			if a, ok := parseIP(str); ok {
				s.candidates(pi.ips[a], sc)
			}
		}
	case leafNumber:
		if l.numOK && pi.nums != nil {
			s.candidates(pi.nums[numKey(l.num)], sc)
		}
		if pi.numTexts != nil {
			s.candidates(pi.numTexts[l.str], sc)
		}
	case leafTrue:
		s.candidates(pi.trues, sc)
	case leafFalse:
		s.candidates(pi.falses, sc)
	case leafNull:
		s.candidates(pi.nulls, sc)
	}
	s.candidates(pi.any, sc)
	for _, r := range pi.checked {
		if sc.clauseStamp[r.clause] != sc.epoch && r.c.matches(l) {
			s.candidate(r.clause, sc)
		}
	}
}

func (s *Set) affix(a *affix, str string, prefix bool, sc *scratch) {
	for _, n := range a.lens {
		if n > len(str) {
			return
		}
		key := str[:n]
		if !prefix {
			key = str[len(str)-n:]
		}
		s.candidates(a.m[key], sc)
	}
}

func (s *Set) candidates(clauses []int32, sc *scratch) {
	for _, c := range clauses {
		s.candidate(c, sc)
	}
}

func (s *Set) candidate(c int32, sc *scratch) {
	if sc.clauseStamp[c] != sc.epoch {
		sc.clauseStamp[c] = sc.epoch
		sc.cands = append(sc.cands, c)
	}
}

// leaves returns the event's values at path id.
func (sc *scratch) leaves(id int32, f *Fields) []leaf {
	if sc.pathStamp[id] != sc.epoch {
		return nil
	}
	g := &f.groups[sc.pathGroup[id]]
	return f.leaves[g.lo:g.hi]
}

// search is matchSlots with the event's values found through the paths the
// match already paired, instead of by binary search.
func (s *Set) search(cl *setClause, i int, f *Fields, sc *scratch, m []arrayPos) bool {
	if i == len(cl.slots) {
		return true
	}
	sl := cl.slots[i]
	leaves := sc.leaves(cl.paths[i], f)
	for j := range leaves {
		l := &leaves[j]
		mem := f.membership(l)
		if !consistent(m, mem) || !slotAccepts(sl, l) {
			continue
		}
		if s.search(cl, i+1, f, sc, merge(m, mem)) {
			return true
		}
	}
	if sl.absent && !anyConsistent(f, leaves, m) {
		return s.search(cl, i+1, f, sc, m)
	}
	return false
}
