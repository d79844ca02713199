package routing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// clause is one alternative of a pattern, without "$or": every slot must
// match.
type clause struct {
	slots  map[string]*slot // by pathKey
	inputs map[string]bool  // names of the inputs the clause comes from
}

// slot is one field of a clause and the values it accepts, each element the
// canonical JSON of one entry of the pattern's value list, sorted.
type slot struct {
	path  []string
	elems []string
}

func pathKey(path []string) string { return strings.Join(path, "\x00") }

func (c *clause) with(s *slot) *clause {
	n := &clause{slots: make(map[string]*slot, len(c.slots)+1), inputs: c.inputs}
	for k, v := range c.slots {
		n.slots[k] = v
	}
	n.slots[pathKey(s.path)] = s
	return n
}

func (c *clause) inputNames() []string {
	var out []string
	for n := range c.inputs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// keys returns the clause's path keys, sorted.
func (c *clause) keys() []string {
	ks := make([]string, 0, len(c.slots))
	for k := range c.slots {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// key identifies the clause's condition, for sorting and deduplication.
func (c *clause) key() string {
	var b strings.Builder
	for _, k := range c.keys() {
		b.WriteString(k)
		b.WriteByte(1)
		b.WriteString(strings.Join(c.slots[k].elems, "\x02"))
		b.WriteByte(3)
	}
	return b.String()
}

// expandPattern turns a compiled pattern into clauses, from its canonical
// JSON (which pkg/pattern has validated).
func expandPattern(in Input) ([]*clause, error) {
	dec := json.NewDecoder(strings.NewReader(in.Pattern.String()))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("routing: pattern of %s: %w", in.Name, err)
	}
	cs, err := expand(doc, nil)
	if err != nil {
		return nil, fmt.Errorf("routing: pattern of %s: %w", in.Name, err)
	}
	for _, c := range cs {
		c.inputs = map[string]bool{in.Name: true}
	}
	return cs, nil
}

// expand returns the alternatives of the pattern object obj found at prefix.
// Dot-joined keys are split into nested fields, as EventBridge reads them.
func expand(obj map[string]any, prefix []string) ([]*clause, error) {
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	product := []*clause{{slots: map[string]*slot{}}}
	for _, k := range keys {
		var alts []*clause
		switch v := obj[k].(type) {
		case []any:
			if k == "$or" && isOr(v) {
				for _, a := range v {
					cs, err := expand(a.(map[string]any), prefix)
					if err != nil {
						return nil, err
					}
					alts = append(alts, cs...)
				}
				break
			}
			path := append(slices.Clone(prefix), strings.Split(k, ".")...)
			elems := make([]string, len(v))
			for i, e := range v {
				b, err := marshal(e)
				if err != nil {
					return nil, err
				}
				elems[i] = string(b)
			}
			alts = []*clause{{slots: map[string]*slot{pathKey(path): {path: path, elems: normalize(elems)}}}}
		case map[string]any:
			cs, err := expand(v, append(slices.Clone(prefix), strings.Split(k, ".")...))
			if err != nil {
				return nil, err
			}
			alts = cs
		default:
			return nil, fmt.Errorf("field %s: want an object or a list of values", strings.Join(append(slices.Clone(prefix), k), "."))
		}
		next := make([]*clause, 0, len(product)*len(alts))
		for _, a := range product {
			for _, b := range alts {
				c := &clause{slots: make(map[string]*slot, len(a.slots)+len(b.slots))}
				for pk, s := range a.slots {
					c.slots[pk] = s
				}
				for pk, s := range b.slots {
					if _, dup := c.slots[pk]; dup {
						return nil, fmt.Errorf("field %s is constrained twice in one alternative", strings.Join(s.path, "."))
					}
					c.slots[pk] = s
				}
				next = append(next, c)
			}
		}
		if len(next) > maxClauses {
			return nil, fmt.Errorf("more than %d alternatives", maxClauses)
		}
		product = next
	}
	return product, nil
}

// isOr reports whether v is an "$or" operator: at least two objects. Anything
// else under that key is an ordinary field, as in EventBridge.
func isOr(v []any) bool {
	if len(v) < 2 {
		return false
	}
	for _, a := range v {
		if _, ok := a.(map[string]any); !ok {
			return false
		}
	}
	return true
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// normalize sorts and deduplicates elements.
func normalize(elems []string) []string {
	out := slices.Clone(elems)
	sort.Strings(out)
	return slices.Compact(out)
}

// unionable reports whether a value list may be merged with another into
// one list: exists and anything-but mean something else beside other values.
func unionable(elems []string) bool {
	for _, e := range elems {
		if strings.HasPrefix(e, `{"anything-but"`) || strings.HasPrefix(e, `{"exists"`) {
			return false
		}
	}
	return true
}

// subsumes reports whether every event b matches, a matches too: a
// constrains no field b leaves free, and accepts at least b's values.
func subsumes(a, b *clause) bool {
	if len(a.slots) > len(b.slots) {
		return false
	}
	for k, sa := range a.slots {
		sb, ok := b.slots[k]
		if !ok || !subset(sb.elems, sa.elems) {
			return false
		}
	}
	return true
}

// subset reports whether sorted x is a subset of sorted y.
func subset(x, y []string) bool {
	i := 0
	for _, e := range x {
		for i < len(y) && y[i] < e {
			i++
		}
		if i == len(y) || y[i] != e {
			return false
		}
	}
	return true
}

// simplify drops clauses another subsumes and merges clauses that differ in
// one field's values only, until neither applies. The result matches the
// same events.
func simplify(cs []*clause) []*clause {
	cur := slices.Clone(cs)
	for {
		before := len(cur)
		cur = dropSubsumed(cur)
		cur = mergeUnions(cur)
		if len(cur) == before {
			return cur
		}
	}
}

func dropSubsumed(cs []*clause) []*clause {
	type keyed struct {
		c   *clause
		key string
	}
	ks := make([]keyed, len(cs))
	for i, c := range cs {
		ks[i] = keyed{c, c.key()}
	}
	sort.SliceStable(ks, func(i, j int) bool {
		if len(ks[i].c.slots) != len(ks[j].c.slots) {
			return len(ks[i].c.slots) < len(ks[j].c.slots)
		}
		return ks[i].key < ks[j].key
	})
	var keep []*clause
	for _, k := range ks {
		absorbed := false
		for i, kept := range keep {
			if subsumes(kept, k.c) {
				keep[i] = withInputs(kept, k.c)
				absorbed = true
				break
			}
		}
		if !absorbed {
			keep = append(keep, k.c)
		}
	}
	return keep
}

// withInputs returns c also naming other's inputs.
func withInputs(c, other *clause) *clause {
	in := make(map[string]bool, len(c.inputs)+len(other.inputs))
	for n := range c.inputs {
		in[n] = true
	}
	for n := range other.inputs {
		in[n] = true
	}
	return &clause{slots: c.slots, inputs: in}
}

// mergeUnions merges clauses with the same fields that differ in the values
// of exactly one field into one clause accepting both value lists.
func mergeUnions(cs []*clause) []*clause {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].key() < cs[j].key() })
	alive := make([]bool, len(cs))
	for i := range alive {
		alive[i] = true
	}
	for i := range cs {
		if !alive[i] {
			continue
		}
		for j := i + 1; j < len(cs); j++ {
			if !alive[j] {
				continue
			}
			if m := merge(cs[i], cs[j]); m != nil {
				cs[i] = m
				alive[j] = false
			}
		}
	}
	var out []*clause
	for i, c := range cs {
		if alive[i] {
			out = append(out, c)
		}
	}
	return out
}

// merge returns the union of a and b when they differ in one field's values
// only, or nil.
func merge(a, b *clause) *clause {
	if len(a.slots) != len(b.slots) {
		return nil
	}
	var diff string
	for k, sa := range a.slots {
		sb, ok := b.slots[k]
		if !ok {
			return nil
		}
		if slices.Equal(sa.elems, sb.elems) {
			continue
		}
		if diff != "" {
			return nil
		}
		diff = k
	}
	if diff == "" {
		return withInputs(a, b)
	}
	sa, sb := a.slots[diff], b.slots[diff]
	if !unionable(sa.elems) || !unionable(sb.elems) {
		return nil
	}
	m := withInputs(a, b)
	return m.with(&slot{path: sa.path, elems: normalize(append(slices.Clone(sa.elems), sb.elems...))})
}
