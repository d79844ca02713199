package routing

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// matchAll is the pattern of a clause without conditions: every event has a
// source, and every string starts with "".
const matchAll = `{"source":[{"prefix":""}]}`

// render writes clauses as one compact event pattern: the fields all clauses
// share once, the rest under "$or", grouped again by shared fields.
func render(cs []*clause) ([]byte, error) {
	obj, err := build(cs, 0)
	if err != nil {
		return nil, err
	}
	if len(obj) == 0 {
		return []byte(matchAll), nil
	}
	return marshal(obj)
}

// reservedInOr are the names EventBridge reads as operators, not fields, as
// the keys of an "$or" alternative.
var reservedInOr = map[string]bool{
	"exactly": true, "equals-ignore-case": true, "prefix": true, "suffix": true, "anything-but": true,
	"exists": true, "wildcard": true, "numeric": true, "cidr": true,
	"=": true, "<": true, "<=": true, ">": true, ">=": true,
}

// build writes clauses as one object at depth base: every slot path of cs
// is longer than base and shares its first base segments, which the caller
// has written. The fields all clauses share are written once; the rest go
// under an "$or" placed as deep as the remaining fields share a path, so
// that the path is written once too.
func build(cs []*clause, base int) (map[string]any, error) {
	if len(cs) == 1 {
		return nest(cs[0].slots, base)
	}
	common := map[string]*slot{}
	for k, s := range cs[0].slots {
		shared := true
		for _, c := range cs[1:] {
			o, ok := c.slots[k]
			if !ok || !equalElems(o.elems, s.elems) {
				shared = false
				break
			}
		}
		if shared {
			common[k] = s
		}
	}
	rest := make([]*clause, 0, len(cs))
	for _, c := range cs {
		r := &clause{slots: map[string]*slot{}, inputs: c.inputs}
		for k, s := range c.slots {
			if _, ok := common[k]; !ok {
				r.slots[k] = s
			}
		}
		if len(r.slots) == 0 {
			// This clause needs only the shared fields: it subsumes the others.
			return nest(common, base)
		}
		rest = append(rest, r)
	}
	obj, err := nest(common, base)
	if err != nil {
		return nil, err
	}
	at := orDepth(rest, base)
	alts, err := alternatives(rest, at)
	if err != nil {
		return nil, err
	}
	var prefix []string
	for _, s := range rest[0].slots {
		prefix = s.path[base:at]
		break
	}
	target := obj
	for i, seg := range prefix {
		next, ok := target[seg]
		if !ok {
			m := map[string]any{}
			target[seg] = m
			target = m
			continue
		}
		m, isObj := next.(map[string]any)
		if !isObj {
			return nil, fmt.Errorf("routing: field %s is both a value and an object", strings.Join(prefix[:i+1], "."))
		}
		target = m
	}
	target["$or"] = alts
	return obj, nil
}

// orDepth is the depth at which the alternatives cs can be written: the
// longest path prefix all their fields share (beyond base), short of every
// leaf, where no alternative would start with a name EventBridge reserves.
func orDepth(cs []*clause, base int) int {
	var first []string
	limit := -1
	for _, c := range cs {
		for _, s := range c.slots {
			if first == nil {
				first = s.path
			}
			n := 0
			for n < len(first) && n < len(s.path) && first[n] == s.path[n] {
				n++
			}
			if limit < 0 || n < limit {
				limit = n
			}
			if len(s.path)-1 < limit {
				limit = len(s.path) - 1
			}
		}
	}
	for d := limit; d > base; d-- {
		ok := true
		for _, c := range cs {
			for _, s := range c.slots {
				if reservedInOr[s.path[d]] {
					ok = false
				}
			}
		}
		if ok {
			return d
		}
	}
	return base
}

// alternatives renders clauses as the members of an "$or" at depth base.
// Clauses that share a field's values form a group whose shared part is
// written once; the field shared most widely is grouped first, then the
// rest again, until no two remaining clauses share a field's values.
func alternatives(cs []*clause, base int) ([]any, error) {
	var groups [][]*clause
	remaining := cs
	for len(remaining) > 1 {
		split := splitPath(remaining)
		if split == "" {
			break
		}
		byValue := map[string][]*clause{}
		var left []*clause
		for _, c := range remaining {
			if s, ok := c.slots[split]; ok {
				v := strings.Join(s.elems, "\x01")
				byValue[v] = append(byValue[v], c)
			} else {
				left = append(left, c)
			}
		}
		for _, g := range byValue {
			if len(g) > 1 {
				groups = append(groups, g)
			} else {
				left = append(left, g[0])
			}
		}
		remaining = left
	}
	for _, c := range remaining {
		groups = append(groups, []*clause{c})
	}
	out := make([]any, 0, len(groups))
	keys := make([]string, 0, len(groups))
	for _, g := range groups {
		obj, err := build(g, base)
		if err != nil {
			return nil, err
		}
		b, err := marshal(obj)
		if err != nil {
			return nil, err
		}
		out = append(out, json.RawMessage(b))
		keys = append(keys, string(b))
	}
	sort.Sort(byKey{out, keys})
	return out, nil
}

// byKey sorts alternatives by their JSON, for a stable pattern.
type byKey struct {
	alts []any
	keys []string
}

func (b byKey) Len() int           { return len(b.alts) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.alts[i], b.alts[j] = b.alts[j], b.alts[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

// splitPath picks the field to group alternatives by: the one whose values
// the most clauses share with another clause, source and detail-type first
// on ties; "" when no two clauses share a field's values.
func splitPath(cs []*clause) string {
	shared := map[string]map[string]int{}
	for _, c := range cs {
		for k, s := range c.slots {
			if shared[k] == nil {
				shared[k] = map[string]int{}
			}
			shared[k][strings.Join(s.elems, "\x01")]++
		}
	}
	rank := func(k string) int {
		switch k {
		case sourcePath:
			return 0
		case pathKey([]string{"detail-type"}):
			return 1
		}
		return 2
	}
	best, bestN := "", 0
	keys := make([]string, 0, len(shared))
	for k := range shared {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if rank(keys[i]) != rank(keys[j]) {
			return rank(keys[i]) < rank(keys[j])
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		n := 0
		for _, count := range shared[k] {
			if count > 1 {
				n += count
			}
		}
		if n > bestN {
			best, bestN = k, n
		}
	}
	return best
}

// nest writes slots as nested objects from depth base, value lists at the
// leaves.
func nest(slots map[string]*slot, base int) (map[string]any, error) {
	root := map[string]any{}
	keys := make([]string, 0, len(slots))
	for k := range slots {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := slots[k]
		obj := root
		for i, seg := range s.path[base:] {
			i += base
			if i == len(s.path)-1 {
				if _, taken := obj[seg]; taken {
					return nil, fmt.Errorf("routing: field %s is both a value and an object", strings.Join(s.path, "."))
				}
				list := make([]json.RawMessage, len(s.elems))
				for j, e := range s.elems {
					list[j] = json.RawMessage(e)
				}
				obj[seg] = list
				break
			}
			next, ok := obj[seg]
			if !ok {
				m := map[string]any{}
				obj[seg] = m
				obj = m
				continue
			}
			m, isObj := next.(map[string]any)
			if !isObj {
				return nil, fmt.Errorf("routing: field %s is both a value and an object", strings.Join(s.path[:i+1], "."))
			}
			obj = m
		}
	}
	return root, nil
}

func equalElems(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
