package pattern

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
)

// glob is a compiled wildcard: literal segments separated by '*'. A glob
// without '*' has one segment and matches only that exact string.
type glob struct {
	segs []string
}

// parseGlob validates a wildcard operand: "\*" is a literal star, "\\" a
// literal backslash, any other escape is invalid, and two unescaped stars in
// a row are rejected (EventBridge rejects them too).
func parseGlob(s string) (*glob, error) {
	var segs []string
	var cur strings.Builder
	lastStar := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '*':
			if lastStar {
				return nil, fmt.Errorf("consecutive '*' at position %d", i)
			}
			segs = append(segs, cur.String())
			cur.Reset()
			lastStar = true
		case '\\':
			if i+1 >= len(s) || (s[i+1] != '*' && s[i+1] != '\\') {
				return nil, fmt.Errorf("invalid escape character at position %d (only \\* and \\\\ are allowed)", i+1)
			}
			i++
			cur.WriteByte(s[i])
			lastStar = false
		default:
			cur.WriteByte(c)
			lastStar = false
		}
	}
	segs = append(segs, cur.String())
	return &glob{segs: segs}, nil
}

// match runs in time linear in len(s) (plus the standard library's substring
// search): with '*' as the only metacharacter, taking the leftmost occurrence
// of each middle segment is always safe, so there is no backtracking.
func (g *glob) match(s string) bool {
	if len(g.segs) == 1 {
		return s == g.segs[0]
	}
	first, last := g.segs[0], g.segs[len(g.segs)-1]
	if len(s) < len(first)+len(last) || !strings.HasPrefix(s, first) || !strings.HasSuffix(s, last) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, seg := range g.segs[1 : len(g.segs)-1] {
		i := strings.Index(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}

// literalPrefix is the text every match starts with.
func (g *glob) literalPrefix() string { return g.segs[0] }

// literalSuffix is the text every match ends with.
func (g *glob) literalSuffix() string { return g.segs[len(g.segs)-1] }

// anchor is the longer of the glob's fixed ends (the more selective one to
// look candidates up by), and whether it is the end.
func (g *glob) anchor() (text string, suffix bool) {
	if p, x := g.literalPrefix(), g.literalSuffix(); len(x) > len(p) {
		return x, true
	}
	return g.literalPrefix(), false
}

// maxWildcardComplexity is the most wildcard-automaton states one value may
// keep alive at once on one field of a rule. EventBridge refuses rules above
// its own limit ("Rule is too complex - try using fewer wildcard characters or
// fewer repeating character sequences after a wildcard character"); this
// bound, measured as below, accepts every wildcard of the conformance set
// (at most 8) and rejects the AWS-refused "*:*:*:*:*:event-bus/*" (11).
const maxWildcardComplexity = 10

// maxComplexityStates caps the subset exploration itself.
const maxComplexityStates = 4096

// wildcardComplexity returns the largest number of automaton states that some
// input keeps alive at once across the given globs, stopping early once the
// limit is exceeded. A state is "k tokens of a glob matched"; the state in
// front of a '*' (which loops on any byte) and the one after it are both
// counted. Globs sharing their text up to the first '*' share those states,
// as they share a path in EventBridge's byte machine.
func wildcardComplexity(globs []*glob) int {
	type token struct {
		star bool
		b    byte
	}
	type pos struct{ g, k int }
	var toks [][]token
	ids := map[string]int{}
	var stateID [][]int
	alphabet := map[byte]bool{}
	for _, g := range globs {
		if len(g.segs) == 1 {
			continue // no wildcard: a plain string compare
		}
		var t []token
		for i, seg := range g.segs {
			if i > 0 {
				t = append(t, token{star: true})
			}
			for j := 0; j < len(seg); j++ {
				t = append(t, token{b: seg[j]})
				alphabet[seg[j]] = true
			}
		}
		shared := len(g.segs[0]) + 1 // states up to just after the first '*'
		idx := make([]int, len(t)+1)
		for k := range idx {
			key := fmt.Sprintf("u%d.%d", len(toks), k)
			if k <= shared {
				key = "s" + g.segs[0][:min(k, len(g.segs[0]))]
				if k == shared {
					key += "*"
				}
			}
			id, ok := ids[key]
			if !ok {
				id = len(ids)
				ids[key] = id
			}
			idx[k] = id
		}
		toks = append(toks, t)
		stateID = append(stateID, idx)
	}
	if len(toks) == 0 {
		return 0
	}
	// One byte outside every literal stands for all such bytes.
	var other byte
	for alphabet[other] {
		other++
	}
	letters := []byte{other}
	for b := range alphabet {
		letters = append(letters, b)
	}

	// An automaton state set is a sorted list of positions, g<<32 | k.
	enc := func(p pos) uint64 { return uint64(p.g)<<32 | uint64(p.k) }
	dec := func(v uint64) pos { return pos{int(v >> 32), int(uint32(v))} }
	closure := func(set []uint64) []uint64 {
		for i := 0; i < len(set); i++ {
			p := dec(set[i])
			if p.k < len(toks[p.g]) && toks[p.g][p.k].star {
				set = append(set, enc(pos{p.g, p.k + 1}))
			}
		}
		slices.Sort(set)
		return slices.Compact(set)
	}
	size := func(set []uint64) int {
		var distinct []int
		for _, v := range set {
			p := dec(v)
			distinct = append(distinct, stateID[p.g][p.k])
		}
		slices.Sort(distinct)
		return len(slices.Compact(distinct))
	}
	key := func(set []uint64) string {
		b := make([]byte, 0, 8*len(set))
		for _, v := range set {
			b = binary.LittleEndian.AppendUint64(b, v)
		}
		return string(b)
	}
	var start []uint64
	for g := range toks {
		start = append(start, enc(pos{g, 0}))
	}
	start = closure(start)
	worst := size(start)
	seen := map[string]bool{key(start): true}
	queue := [][]uint64{start}
	for len(queue) > 0 {
		set := queue[0]
		queue = queue[1:]
		for _, b := range letters {
			var next []uint64
			for _, v := range set {
				p := dec(v)
				t := toks[p.g]
				if p.k < len(t) {
					if t[p.k].star {
						next = append(next, v)
					} else if t[p.k].b == b {
						next = append(next, enc(pos{p.g, p.k + 1}))
					}
				}
			}
			if len(next) == 0 {
				continue
			}
			next = closure(next)
			if n := size(next); n > worst {
				worst = n
				if worst > maxWildcardComplexity {
					return worst
				}
			}
			k := key(next)
			if !seen[k] {
				if len(seen) >= maxComplexityStates {
					return maxWildcardComplexity + 1
				}
				seen[k] = true
				queue = append(queue, next)
			}
		}
	}
	return worst
}
