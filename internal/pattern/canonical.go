package pattern

import (
	"slices"
	"strings"
)

// dedupeClauses drops alternatives identical to an earlier one.
func dedupeClauses(in []clause) []clause {
	seen := map[string]bool{}
	out := in[:0]
	for _, cl := range in {
		k := clauseKey(cl)
		if !seen[k] {
			seen[k] = true
			out = append(out, cl)
		}
	}
	return out
}

func clauseKey(cl clause) string {
	var b strings.Builder
	for _, s := range cl.slots {
		b.WriteString(s.path)
		b.WriteByte(0)
		b.WriteString(s.canon)
		b.WriteByte(0)
	}
	return b.String()
}

// canonical renders clauses as JSON. One alternative becomes nested objects;
// several become {"$or": [...]} with the fields shared by all of them kept
// outside. Inside "$or" fields are written as dot-joined keys, which EventBridge
// treats like nested objects, so that no inner key can collide with the names
// it reserves for operators there.
func canonical(clauses []clause) string {
	if len(clauses) == 1 {
		return string(appendNested(nil, clauses[0].slots))
	}
	common := commonSlots(clauses, func(*slot) bool { return true })
	for _, cl := range clauses {
		if len(cl.slots) == len(common) {
			// Taking every shared field out would leave an empty
			// alternative; keep outside only what must stay there.
			common = commonSlots(clauses, func(s *slot) bool { return reservedInOr[s.path] })
			break
		}
	}
	var top []*slot
	for _, s := range clauses[0].slots {
		if common[s.path] {
			top = append(top, s)
		}
	}
	b := appendNested(nil, top)
	b = b[:len(b)-1] // reopen the object to add "$or"
	if len(top) > 0 {
		b = append(b, ',')
	}
	b = append(b, `"$or":[`...)
	for i, cl := range clauses {
		if i > 0 {
			b = append(b, ',')
		}
		var rest []*slot
		for _, s := range cl.slots {
			if !common[s.path] {
				rest = append(rest, s)
			}
		}
		b = appendFlat(b, rest)
	}
	return string(append(b, "]}"...))
}

// commonSlots returns the paths that every clause holds with the same values
// and that keep passes.
func commonSlots(clauses []clause, keep func(*slot) bool) map[string]bool {
	common := map[string]bool{}
	for _, s := range clauses[0].slots {
		if keep(s) {
			common[s.path] = true
		}
	}
	for _, cl := range clauses[1:] {
		held := make(map[string]string, len(cl.slots))
		for _, s := range cl.slots {
			held[s.path] = s.canon
		}
		for _, s := range clauses[0].slots {
			if canon, ok := held[s.path]; !ok || canon != s.canon {
				delete(common, s.path)
			}
		}
	}
	return common
}

func appendFlat(b []byte, slots []*slot) []byte {
	sorted := slices.Clone(slots)
	slices.SortFunc(sorted, func(x, y *slot) int { return strings.Compare(x.path, y.path) })
	b = append(b, '{')
	for i, s := range sorted {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, s.path)
		b = append(b, ':')
		b = append(b, s.canon...)
	}
	return append(b, '}')
}

// maxNestedParts is the most path segments rendered as nested objects,
// well inside maxDepth with the value's own nesting.
const maxNestedParts = maxDepth / 2

// node is a level of the nested rendering.
type node struct {
	value    string // canonical value list, if a field ends here
	hasValue bool
	children map[string]*node
}

type member struct{ key, json string }

func appendNested(b []byte, slots []*slot) []byte {
	root := &node{}
	var extra []member
	for _, s := range slots {
		parts := strings.Split(s.path, ".")
		if slices.Contains(parts, "$or") || len(parts) > maxNestedParts {
			// Nesting would turn this field into an "$or", or nest it
			// deeper than the JSON parser takes: a dot-joined key says
			// the same.
			extra = append(extra, member{s.path, s.canon})
			continue
		}
		n := root
		for _, p := range parts {
			if n.children == nil {
				n.children = map[string]*node{}
			}
			c := n.children[p]
			if c == nil {
				c = &node{}
				n.children[p] = c
			}
			n = c
		}
		n.value, n.hasValue = s.canon, true
	}
	return append(b, objectJSON(append(members(root), extra...))...)
}

func members(n *node) []member {
	var ms []member
	for k, c := range n.children {
		if !c.hasValue {
			ms = append(ms, member{k, objectJSON(members(c))})
			continue
		}
		ms = append(ms, member{k, c.value})
		// A field that is both a value and a parent keeps its descendants
		// as dot-joined keys beside it.
		ms = flatten(ms, c, k)
	}
	return ms
}

func flatten(ms []member, n *node, prefix string) []member {
	for k, c := range n.children {
		key := prefix + "." + k
		if c.hasValue {
			ms = append(ms, member{key, c.value})
		}
		ms = flatten(ms, c, key)
	}
	return ms
}

func objectJSON(ms []member) string {
	slices.SortFunc(ms, func(x, y member) int { return strings.Compare(x.key, y.key) })
	b := []byte{'{'}
	for i, m := range ms {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, m.key)
		b = append(b, ':')
		b = append(b, m.json...)
	}
	return string(append(b, '}'))
}
