package pattern

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	"github.com/opsloop/opsloop/internal/jsonscan"
)

type leafKind uint8

const (
	leafString leafKind = iota
	leafNumber
	leafTrue
	leafFalse
	leafNull
)

// arrayPos says that a value sits at index idx of the event's array number id.
type arrayPos struct {
	id, idx int32
}

// leaf is one scalar of the event; its path is that of its group.
type leaf struct {
	str    string // string contents, or number text
	num    float64
	kind   leafKind
	numOK  bool  // num holds the value (the number fits a float64)
	arrOff int32 // arrays the value sits in: Fields.arrays[arrOff : arrOff+arrLen]
	arrLen int32
}

// group is the run of leaves sharing one path in Fields.leaves.
type group struct {
	path   string
	lo, hi int32
	rank   int32 // the path's rank in the filter of a filtered parse
}

// Fields is an event parsed once for matching many patterns: its scalar values
// flattened under dot-joined paths, with the array elements each came from so
// matching can keep fields of one array element together.
type Fields struct {
	leaves []leaf // sorted by path, document order within a path
	groups []group
	arrays []arrayPos
	// top and topNames are the shapes of the top-level members a filtered
	// parse reports (Top).
	top      []Member
	topNames []string
	// pooled marks a Fields of ParseEventFiltered, to Release.
	pooled bool
	utf8   bool    // the event was valid UTF-8 (ValidUTF8)
	filter *Filter // of a filtered parse
}

// MaxPathLength is the longest field path, in bytes of its dot-joined form,
// that a pattern may name. Compile refuses longer ones, so ParseEvent keeps
// no leaf under a longer path: no pattern could read it, and an event whose
// long keys sit above many leaves would otherwise cost its size squared.
const MaxPathLength = 1024

// MaxFieldsMemory bounds what ParseEvent keeps of one event (paths, array
// memberships, leaves), so that no shape of event, however hostile, costs
// more: an event past it is refused with a clear error. EventBridge's 256 KB
// events in the shapes AWS services emit stay far below it.
const MaxFieldsMemory = 8 << 20

// leafCost is what one leaf costs besides its path and array memberships.
const leafCost = int(unsafe.Sizeof(leaf{})) + 4

// ParseEvent parses an event (any JSON object: a full EventBridge event or a
// bare object) for matching.
func ParseEvent(event []byte) (*Fields, error) {
	p, _ := parsers.Get().(*eventParser)
	if p == nil {
		p = &eventParser{}
	}
	defer p.release()
	p.src = string(event)
	p.utf8 = utf8.ValidString(p.src)
	p.pos = skipSpace(p.src, 0)
	if p.pos >= len(p.src) || p.src[p.pos] != '{' {
		if _, err := parseJSON(p.src); err != nil {
			return nil, fmt.Errorf("parse event: %w", err)
		}
		return nil, errors.New("parse event: not a JSON object")
	}
	if err := p.object(0); err != nil {
		return nil, fmt.Errorf("parse event: %w", err)
	}
	if p.err != nil {
		return nil, fmt.Errorf("parse event: %w", p.err)
	}
	if p.pos = skipSpace(p.src, p.pos); p.pos != len(p.src) {
		return nil, fmt.Errorf("parse event: %w", p.fail("unexpected data after the event object"))
	}
	f := &Fields{}
	p.fill(f)
	return f, nil
}

// parsers recycles parsing state; ParseEvent copies its results out, so the
// only allocations per event are the returned Fields.
var parsers sync.Pool

type eventParser struct {
	src      string
	pos      int
	path     []byte  // path of the member being parsed
	paths    []byte  // every leaf's path, concatenated
	pathEnds []int32 // end of each leaf's path in paths
	leaves   []leaf
	arrays   []arrayPos // memberships of all leaves
	stack    []arrayPos // arrays enclosing the current value
	order    []int32
	sorted   []byte
	nextID   int32
	buf      []byte
	cost     int   // bytes kept so far, against MaxFieldsMemory
	err      error // why the event is refused, once cost passed the bound
	// filter, when set, selects what is kept; top collects the shapes of
	// the root's members it names.
	filter *Filter
	top    []Member
	// elements counts the elements of the array parsed last.
	elements int
	// node is the filter's node of p.path; ranks holds each leaf's rank.
	node  *pathNode
	ranks []int32
	// utf8 says src is valid UTF-8, so that a string without escapes is
	// its bytes as they stand.
	utf8 bool
}

// str decodes the string at p.pos and moves past it.
func (p *eventParser) str() (string, error) {
	if p.utf8 {
		start := p.pos + 1
		if j := jsonscan.StringStop(p.src, start); j < len(p.src) && p.src[j] == '"' {
			p.pos = j + 1
			return p.src[start:j], nil
		}
	}
	s, next, buf, err := decodeString(p.src, p.pos, p.buf[:0])
	p.buf = buf
	if err != nil {
		return "", err
	}
	p.pos = next
	return s, nil
}

func (p *eventParser) release() {
	clear(p.leaves) // drop references into the event
	*p = eventParser{
		filter: nil, top: nil, node: nil, ranks: p.ranks[:0],
		path: p.path[:0], paths: p.paths[:0], pathEnds: p.pathEnds[:0], leaves: p.leaves[:0],
		arrays: p.arrays[:0], stack: p.stack[:0], order: p.order[:0], sorted: p.sorted[:0], buf: p.buf[:0],
	}
	parsers.Put(p)
}

func (p *eventParser) fail(msg string) error {
	return &syntaxError{offset: p.pos, msg: msg}
}

// fill sorts the leaves by path (keeping document order within a path) and
// copies them into f.
func (p *eventParser) fill(f *Fields) {
	path := func(i int32) []byte {
		start := int32(0)
		if i > 0 {
			start = p.pathEnds[i-1]
		}
		return p.paths[start:p.pathEnds[i]]
	}
	for i := range p.leaves {
		p.order = append(p.order, int32(i))
	}
	slices.SortFunc(p.order, func(a, b int32) int {
		if c := bytes.Compare(path(a), path(b)); c != 0 {
			return c
		}
		return int(a - b)
	})
	// Lay the distinct paths out once, in sorted order, in one string.
	sorted := p.sorted[:0]
	groups := 0
	for i, o := range p.order {
		if i == 0 || !bytes.Equal(path(o), path(p.order[i-1])) {
			groups++
			sorted = append(sorted, path(o)...)
		}
	}
	p.sorted = sorted
	all := string(sorted)
	f.leaves = slices.Grow(f.leaves[:0], len(p.leaves))[:len(p.leaves)]
	f.groups = slices.Grow(f.groups[:0], groups)
	off := 0
	for i, o := range p.order {
		f.leaves[i] = p.leaves[o]
		if i == 0 || !bytes.Equal(path(o), path(p.order[i-1])) {
			n := len(path(o))
			f.groups = append(f.groups, group{path: all[off : off+n], lo: int32(i)})
			off += n
		}
		f.groups[len(f.groups)-1].hi = int32(i + 1)
	}
	f.arrays = f.arrays[:0]
	if len(p.arrays) > 0 {
		f.arrays = append(f.arrays, p.arrays...)
	}
}

// fillFiltered is fill for a filtered parse, whose leaves carry their
// path's rank: ranks order as paths do, compare faster, and name the
// filter's own copy of each path.
func (p *eventParser) fillFiltered(f *Fields) {
	for i := range p.leaves {
		p.order = append(p.order, int32(i))
	}
	slices.SortFunc(p.order, func(a, b int32) int {
		if c := p.ranks[a] - p.ranks[b]; c != 0 {
			return int(c)
		}
		return int(a - b)
	})
	f.leaves = slices.Grow(f.leaves[:0], len(p.leaves))[:len(p.leaves)]
	f.groups = f.groups[:0]
	for i, o := range p.order {
		f.leaves[i] = p.leaves[o]
		if r := p.ranks[o]; i == 0 || r != p.ranks[p.order[i-1]] {
			f.groups = append(f.groups, group{path: p.filter.paths[r], lo: int32(i), rank: r})
		}
		f.groups[len(f.groups)-1].hi = int32(i + 1)
	}
	f.arrays = append(f.arrays[:0], p.arrays...)
}

func (p *eventParser) object(depth int) error {
	if p.tooDeep(depth) {
		return p.fail("nesting too deep")
	}
	p.pos++ // '{'
	p.pos = skipSpace(p.src, p.pos)
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return nil
	}
	base := len(p.path)
	for {
		p.pos = skipSpace(p.src, p.pos)
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return p.fail("expected a string key")
		}
		key, err := p.str()
		if err != nil {
			return err
		}
		p.pos = skipSpace(p.src, p.pos)
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return p.fail("expected ':' after key")
		}
		p.pos = skipSpace(p.src, p.pos+1)
		if p.filter == nil {
			p.enter(base, depth, key)
			if err := p.value(depth + 1); err != nil {
				return err
			}
		} else if err := p.filtered(depth, key); err != nil {
			return err
		}
		p.pos = skipSpace(p.src, p.pos)
		if p.pos >= len(p.src) {
			return p.fail("unexpected end of input in object")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.path = p.path[:base]
			return nil
		default:
			return p.fail("expected ',' or '}' in object")
		}
	}
}

// enter makes p.path that of member key of the object at depth whose path
// is p.path[:base].
func (p *eventParser) enter(base, depth int, key string) {
	p.path = p.path[:base]
	if depth > 0 {
		p.path = append(p.path, '.')
	}
	p.path = append(p.path, key...)
}

func (p *eventParser) array(depth int) error {
	if p.tooDeep(depth) {
		return p.fail("nesting too deep")
	}
	p.pos++ // '['
	p.pos = skipSpace(p.src, p.pos)
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return nil
	}
	id := p.nextID
	p.nextID++
	for idx := int32(0); ; idx++ {
		p.stack = append(p.stack, arrayPos{id: id, idx: idx})
		p.pos = skipSpace(p.src, p.pos)
		if err := p.value(depth + 1); err != nil {
			return err
		}
		p.stack = p.stack[:len(p.stack)-1]
		p.pos = skipSpace(p.src, p.pos)
		if p.pos >= len(p.src) {
			return p.fail("unexpected end of input in array")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.elements = int(idx) + 1
			return nil
		default:
			return p.fail("expected ',' or ']' in array")
		}
	}
}

// filtered parses the value of member key of an object at depth when the
// filter keeps its path, and skips it otherwise. The path is the node's:
// p.path is not kept.
func (p *eventParser) filtered(depth int, key string) error {
	ti := -1
	if depth == 0 && p.pos < len(p.src) {
		ti = p.member(key)
	}
	node := p.node.child(key)
	if node == nil {
		return p.skip(depth + 1)
	}
	p.elements = 0
	// The node of p.path while its value is parsed: nested members set
	// their own and put it back.
	outer := p.node
	p.node = node
	err := p.value(depth + 1)
	p.node = outer
	if err != nil {
		return err
	}
	if ti >= 0 && p.top[ti].Kind == '[' {
		p.top[ti].Elements = p.elements
	}
	return nil
}

// value parses the value at p.pos, which lives under path p.path.
func (p *eventParser) value(depth int) error {
	if p.pos >= len(p.src) {
		return p.fail("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return err
		}
		p.add(leaf{kind: leafString, str: s})
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(p.src, p.pos)
		if err != nil {
			return err
		}
		text := p.src[p.pos:end]
		p.pos = end
		n, ok := parseFinite(text)
		p.add(leaf{kind: leafNumber, str: text, num: n, numOK: ok})
	case hasWord(p.src, p.pos, "true"):
		p.pos += 4
		p.add(leaf{kind: leafTrue})
	case hasWord(p.src, p.pos, "false"):
		p.pos += 5
		p.add(leaf{kind: leafFalse})
	case hasWord(p.src, p.pos, "null"):
		p.pos += 4
		p.add(leaf{kind: leafNull})
	default:
		return p.fail(fmt.Sprintf("unexpected character %q", rune(c)))
	}
	return nil
}

func (p *eventParser) add(l leaf) {
	pathLen := len(p.path)
	if p.filter != nil {
		pathLen = len(p.filter.paths[p.node.rank])
	}
	if pathLen > MaxPathLength || p.err != nil {
		return
	}
	if p.cost += pathLen + 8*len(p.stack) + leafCost; p.cost > MaxFieldsMemory {
		p.err = fmt.Errorf("the event's fields would take more than %d MiB to index (%d values so far, under long paths or deep arrays)", MaxFieldsMemory>>20, len(p.leaves))
		return
	}
	if p.filter != nil {
		p.ranks = append(p.ranks, p.node.rank)
	} else {
		p.paths = append(p.paths, p.path...)
		p.pathEnds = append(p.pathEnds, int32(len(p.paths)))
	}
	if len(p.stack) > 0 {
		l.arrOff = int32(len(p.arrays))
		l.arrLen = int32(len(p.stack))
		p.arrays = append(p.arrays, p.stack...)
	}
	p.leaves = append(p.leaves, l)
}

// lookup returns the leaves at path. The groups of a filtered parse are in
// the order of their ranks, which compare faster than paths sharing long
// prefixes.
func (f *Fields) lookup(path string) []leaf {
	var i int
	var found bool
	if f.filter != nil {
		rank, ok := f.filter.ranks[path]
		if !ok {
			return nil
		}
		i, found = slices.BinarySearchFunc(f.groups, rank, func(g group, r int32) int { return cmp.Compare(g.rank, r) })
	} else {
		i, found = slices.BinarySearchFunc(f.groups, path, func(g group, p string) int { return strings.Compare(g.path, p) })
	}
	if !found {
		return nil
	}
	return f.leaves[f.groups[i].lo:f.groups[i].hi]
}

// Values returns the event's scalar values at a dot-joined path, in document
// order: strings as their contents, numbers as written, and true, false and
// null as those words. Objects and arrays are not values; the elements of an
// array are. It returns nil when the path holds no value.
func (f *Fields) Values(path string) []string {
	leaves := f.lookup(path)
	if len(leaves) == 0 {
		return nil
	}
	out := make([]string, len(leaves))
	for i := range leaves {
		switch l := &leaves[i]; l.kind {
		case leafString, leafNumber:
			out[i] = l.str
		default:
			out[i] = l.render()
		}
	}
	return out
}

func (f *Fields) membership(l *leaf) []arrayPos {
	return f.arrays[l.arrOff : l.arrOff+l.arrLen]
}

// render writes a leaf's value as JSON text, for explanations.
func (l *leaf) render() string {
	switch l.kind {
	case leafString:
		return string(appendJSONString(nil, l.str))
	case leafNumber:
		return l.str
	case leafTrue:
		return "true"
	case leafFalse:
		return "false"
	default:
		return "null"
	}
}
