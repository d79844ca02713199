package pattern

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/opsloop/opsloop/internal/jsonscan"
)

// Paths returns the field paths p reads, each once, sorted.
func (p *Pattern) Paths() []string {
	var out []string
	for _, cl := range p.clauses {
		for _, s := range cl.slots {
			if !slices.Contains(out, s.path) {
				out = append(out, s.path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Filter selects what a filtered parse keeps of an event: the values under
// the paths some pattern reads. Everything else is checked as JSON and
// skipped without being kept, so an event costs what its read fields cost,
// not its size. A Filter is safe for concurrent use.
type Filter struct {
	// root is the tree of the kept paths and every prefix leading to
	// them, by key; each node's rank orders it as its path sorts.
	root     *pathNode
	ranks    map[string]int32 // every node's path -> its rank
	paths    []string         // every node's path, by rank
	top      []string         // top-level members whose shape is reported
	maxDepth int              // nesting levels allowed, the root's included
}

// NewFilter keeps the values under paths (dot-joined), reports the shape
// of the top-level members named top (Fields.Top), and refuses events
// nested deeper than maxDepth levels (the root object is level 1).
func NewFilter(paths, top []string, maxDepth int) *Filter {
	f := &Filter{root: &pathNode{}, ranks: map[string]int32{}, top: slices.Clone(top), maxDepth: maxDepth}
	var all []string
	for _, p := range append(slices.Clone(paths), top...) {
		for i := range len(p) {
			if p[i] == '.' {
				all = append(all, p[:i])
			}
		}
		all = append(all, p)
	}
	slices.Sort(all)
	f.paths = slices.Compact(all)
	for rank, p := range f.paths {
		n := f.root
		for key := range strings.SplitSeq(p, ".") {
			if n.children == nil {
				n.children = map[string]*pathNode{}
			}
			next := n.children[key]
			if next == nil {
				next = &pathNode{}
				n.children[key] = next
				n.signs |= keySign(key)
			}
			n = next
		}
		n.rank = int32(rank)
		f.ranks[p] = int32(rank)
	}
	return f
}

// pathNode is a kept path: its rank, and the kept paths under it by key.
type pathNode struct {
	rank     int32
	children map[string]*pathNode
	// signs has the bit of keySign of every child's key: most of an
	// event's keys are not kept, and most of those are told so by it
	// without hashing the key.
	signs uint64
}

// keySign is one of 64 bits for a key, from its length and its ends.
func keySign(key string) uint64 {
	if key == "" {
		return 1
	}
	return 1 << ((uint(len(key))*7 + uint(key[0])*3 + uint(key[len(key)-1])) & 63)
}

// child is the node of key under n; a key holding dots names a deeper
// path, as flattening joins it.
func (n *pathNode) child(key string) *pathNode {
	if strings.IndexByte(key, '.') < 0 {
		if n.signs&keySign(key) == 0 {
			return nil
		}
		return n.children[key]
	}
	for {
		seg, rest, more := strings.Cut(key, ".")
		if n = n.children[seg]; n == nil || !more {
			return n
		}
		key = rest
	}
}

// Member is the shape of a top-level member of an event as a filtered
// parse saw it: how many times the object names it, the first byte of the
// last occurrence's value ('{', '[', '"', 't', 'f', 'n' or a number's
// first character; 0 when absent), and, for an array, its element count.
type Member struct {
	Count    int
	Kind     byte
	Elements int
}

// Top returns the shape of the top-level member name, which the filter
// named.
func (f *Fields) Top(name string) Member {
	for i, n := range f.topNames {
		if n == name {
			return f.top[i]
		}
	}
	return Member{}
}

// ParseEventFiltered parses an event for matching as ParseEvent does, but
// keeps only the values under the filter's paths; what it skips is checked
// as strictly as what it keeps. Matching a pattern whose paths the filter
// holds gives the same result on either parse.
//
// It is made to cost nothing but the reading: the Fields come from a pool,
// and their strings (paths and values) share memory with event and with
// the pool. Release them once done; event must not change before, and no
// string read from them may be kept after (copy what is kept).
func ParseEventFiltered(event []byte, filter *Filter) (*Fields, error) {
	p, _ := parsers.Get().(*eventParser)
	if p == nil {
		p = &eventParser{}
	}
	defer p.release()
	p.src = unsafe.String(unsafe.SliceData(event), len(event))
	p.utf8 = utf8.ValidString(p.src)
	p.filter, p.node = filter, filter.root
	f, _ := filteredFields.Get().(*Fields)
	if f == nil {
		f = &Fields{pooled: true}
	}
	p.top = slices.Grow(f.top[:0], len(filter.top))[:len(filter.top)]
	clear(p.top)
	if err := p.parseRoot(); err != nil {
		f.Release()
		return nil, err
	}
	p.fillFiltered(f)
	f.top, f.topNames, f.utf8, f.filter = p.top, filter.top, p.utf8, filter
	return f, nil
}

// parseRoot parses the event object at p.src, and nothing after it.
func (p *eventParser) parseRoot() error {
	p.pos = skipSpace(p.src, 0)
	if p.pos >= len(p.src) || p.src[p.pos] != '{' {
		return fmt.Errorf("parse event: not a JSON object")
	}
	if err := p.object(0); err != nil {
		return fmt.Errorf("parse event: %w", err)
	}
	if p.err != nil {
		return fmt.Errorf("parse event: %w", p.err)
	}
	if p.pos = skipSpace(p.src, p.pos); p.pos != len(p.src) {
		return fmt.Errorf("parse event: %w", p.fail("unexpected data after the event object"))
	}
	return nil
}

// filteredFields recycles the Fields of ParseEventFiltered.
var filteredFields sync.Pool

// ValidUTF8 says the event a filtered parse read was valid UTF-8.
func (f *Fields) ValidUTF8() bool { return f.utf8 }

// Release returns Fields of ParseEventFiltered to their pool; f must not be
// used after. Other Fields are left alone.
func (f *Fields) Release() {
	if f == nil || !f.pooled {
		return
	}
	clear(f.leaves) // drop references into the event
	f.leaves, f.groups, f.arrays, f.top, f.filter = f.leaves[:0], f.groups[:0], f.arrays[:0], f.top[:0], nil
	filteredFields.Put(f)
}

// tooDeep says a value opening at depth (the root object is 0) nests past
// the limit: the parser's own, or a filter's.
func (p *eventParser) tooDeep(depth int) bool {
	return depth > maxDepth || (p.filter != nil && depth+1 > p.filter.maxDepth)
}

// member is called for each member of the root object, its value at p.pos.
func (p *eventParser) member(key string) int {
	i := slices.Index(p.filter.top, key)
	if i < 0 {
		return -1
	}
	m := &p.top[i]
	m.Count++
	m.Kind, m.Elements = p.src[p.pos], 0
	return i
}

// skip checks the value at p.pos as JSON and moves past it, keeping nothing.
func (p *eventParser) skip(depth int) error {
	if p.pos >= len(p.src) {
		return p.fail("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{' || c == '[':
		if p.tooDeep(depth) {
			return p.fail("nesting too deep")
		}
		end := byte('}')
		if c == '[' {
			end = ']'
		}
		p.pos = skipSpace(p.src, p.pos+1)
		if p.pos < len(p.src) && p.src[p.pos] == end {
			p.pos++
			return nil
		}
		for {
			p.pos = skipSpace(p.src, p.pos)
			if c == '{' {
				if p.pos >= len(p.src) || p.src[p.pos] != '"' {
					return p.fail("expected a string key")
				}
				next, err := skipString(p.src, p.pos)
				if err != nil {
					return err
				}
				p.pos = skipSpace(p.src, next)
				if p.pos >= len(p.src) || p.src[p.pos] != ':' {
					return p.fail("expected ':' after key")
				}
				p.pos = skipSpace(p.src, p.pos+1)
			}
			if err := p.skip(depth + 1); err != nil {
				return err
			}
			p.pos = skipSpace(p.src, p.pos)
			if p.pos >= len(p.src) {
				return p.fail("unexpected end of input")
			}
			switch p.src[p.pos] {
			case ',':
				p.pos++
			case end:
				p.pos++
				return nil
			default:
				return p.fail(fmt.Sprintf("expected ',' or '%c'", end))
			}
		}
	case c == '"':
		next, err := skipString(p.src, p.pos)
		if err != nil {
			return err
		}
		p.pos = next
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(p.src, p.pos)
		if err != nil {
			return err
		}
		p.pos = end
	case hasWord(p.src, p.pos, "true"), hasWord(p.src, p.pos, "null"):
		p.pos += 4
	case hasWord(p.src, p.pos, "false"):
		p.pos += 5
	default:
		return p.fail(fmt.Sprintf("unexpected character %q", rune(c)))
	}
	return nil
}

// skipString moves past the JSON string at s[i], accepting exactly what
// decodeString accepts.
func skipString(s string, i int) (int, error) {
	for j := jsonscan.StringStop(s, i+1); j < len(s); j = jsonscan.StringStop(s, j) {
		switch c := s[j]; {
		case c == '"':
			return j + 1, nil
		case c < 0x20:
			return 0, &syntaxError{offset: j, msg: "control character in string"}
		}
		if j+1 >= len(s) {
			return 0, &syntaxError{offset: j, msg: "unterminated escape"}
		}
		switch e := s[j+1]; e {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if _, ok := hex4(s, j+2); !ok {
				return 0, &syntaxError{offset: j, msg: "invalid \\u escape"}
			}
			j += 6
		default:
			return 0, &syntaxError{offset: j, msg: fmt.Sprintf("invalid escape \\%c", e)}
		}
	}
	return 0, &syntaxError{offset: i, msg: "unterminated string"}
}

// String returns the one string at path when the event has exactly one
// value there, a string outside any array.
func (f *Fields) String(path string) (string, bool) {
	leaves := f.lookup(path)
	if len(leaves) != 1 || leaves[0].kind != leafString || leaves[0].arrLen != 0 {
		return "", false
	}
	return leaves[0].str, true
}

// Strings returns the values at path when each is a string directly in
// one array.
func (f *Fields) Strings(path string) ([]string, bool) {
	leaves := f.lookup(path)
	out := make([]string, len(leaves))
	for i, l := range leaves {
		if l.kind != leafString || l.arrLen != 1 {
			return nil, false
		}
		out[i] = l.str
	}
	return out, true
}

// IndexCostBound is the most an event of size bytes, nested at most depth
// levels, can cost to index in full (against MaxFieldsMemory): every value
// takes at least two bytes of it, and each costs at most a leaf, the
// longest path kept and one position per enclosing array.
func IndexCostBound(size, depth int) int {
	return (size/2 + 1) * (leafCost + MaxPathLength + 8*depth)
}
