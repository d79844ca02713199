package event

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Values returns the values at a dotted path into the whole event, such as
// "source", "detail.alarmName" or "detail.userIdentity.arn". Arrays met on
// the way are flattened, as EventBridge patterns do; strings come back
// without quotes, other scalars as their JSON text, objects as compact JSON
// with sorted keys. A key that itself contains dots (AWS Config's
// "Configuration.State") is found too. Values returns nil when nothing is
// at path. Results are cached per path, and the event is scanned, not
// decoded, so asking for one value costs one pass over the bytes it skips.
func (e *Event) Values(path string) []string {
	if path == "" {
		return nil
	}
	if v, ok := e.envelopeValue(path); ok {
		return v
	}
	if e.cache == nil {
		return e.lookup(path)
	}
	return e.cache.get(path, e.lookup)
}

func (e *Event) lookup(path string) []string {
	var out []string
	walk(e.raw(), strings.Split(path, "."), &out)
	return out
}

// raw returns the event's bytes, or for an Event built by hand, bytes made
// from its fields.
func (e *Event) raw() []byte {
	if len(e.Raw) > 0 {
		return e.Raw
	}
	m := map[string]any{
		"version":     e.Version,
		"id":          e.ID,
		"detail-type": e.DetailType,
		"source":      e.Source,
		"account":     e.Account,
		"region":      e.Region,
		"resources":   e.Resources,
	}
	if !e.Time.IsZero() {
		m["time"] = e.Time.UTC().Format(time.RFC3339)
	}
	if json.Valid(e.Detail) {
		m["detail"] = e.Detail
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil
	}
	return b
}

// valueCache remembers Values results per path for one event.
type valueCache struct {
	mu     sync.Mutex
	byPath map[string][]string

	// The CloudTrail view, decoded once: an event's actor, principal,
	// resources and summary all read it.
	ctOnce sync.Once
	ct     *CloudTrail
	ctErr  error
}

// maxCachedPaths bounds the cache; rules use a handful of paths.
const maxCachedPaths = 64

func (c *valueCache) get(path string, lookup func(string) []string) []string {
	c.mu.Lock()
	v, ok := c.byPath[path]
	c.mu.Unlock()
	if !ok {
		v = lookup(path)
		c.mu.Lock()
		if c.byPath == nil {
			c.byPath = map[string][]string{}
		}
		if len(c.byPath) < maxCachedPaths {
			c.byPath[path] = v
		}
		c.mu.Unlock()
	}
	// A copy, so a caller changing its result cannot change the cache.
	return slices.Clone(v)
}

// envelopeValue answers paths naming envelope fields from the decoded
// struct, so the commonest groupBy keys cost no decoding.
func (e *Event) envelopeValue(path string) ([]string, bool) {
	one := func(s string) ([]string, bool) { return []string{s}, true }
	switch path {
	case "id":
		return one(e.ID)
	case "detail-type":
		return one(e.DetailType)
	case "source":
		return one(e.Source)
	case "account":
		return one(e.Account)
	case "region":
		return one(e.Region)
	case PrincipalPath:
		return one(e.Principal())
	case "resources":
		if len(e.Resources) == 0 {
			return nil, true
		}
		return append([]string(nil), e.Resources...), true
	}
	return nil, false
}

// decodeAny decodes JSON keeping numbers as their text.
func decodeAny(data []byte) (any, bool) {
	if len(data) == 0 {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	return v, true
}

// scalarText renders a decoded JSON value as Values does.
func scalarText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		if x {
			return "true"
		}
		return "false"
	case nil:
		return "null"
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return ""
		}
		return string(b)
	}
}

// walk finds the values at path in the JSON value data by scanning it,
// skipping what the path does not enter: arrays are flattened, a key may
// stand for several dotted segments, and malformed input yields nothing.
func walk(data []byte, path []string, out *[]string) {
	i := skipSpace(data, 0)
	if i >= len(data) {
		return
	}
	switch {
	case data[i] == '[':
		for _, elem := range arrayElems(data, i) {
			walk(elem, path, out)
		}
	case len(path) == 0:
		end, ok := skipValue(data, i)
		if ok {
			*out = append(*out, leafText(data[i:end]))
		}
	case data[i] == '{':
		if child, rest, ok := objectChild(data, i, path); ok {
			walk(child, rest, out)
		}
	}
}

// objectChild finds, in the object at data[i], the member the path enters:
// the key equal to the first segment, or failing that to the first
// segments joined with dots. Among equal keys the last wins, as in
// decoding.
func objectChild(data []byte, i int, path []string) (child []byte, rest []string, ok bool) {
	best := 0
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return nil, nil, false
	}
	for i < len(data) {
		if data[i] != '"' {
			return nil, nil, false
		}
		end, ok := skipString(data, i)
		if !ok {
			return nil, nil, false
		}
		key, ok := unquote(data[i:end])
		if !ok {
			return nil, nil, false
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return nil, nil, false
		}
		i = skipSpace(data, i+1)
		vend, ok := skipValue(data, i)
		if !ok {
			return nil, nil, false
		}
		if n := keyMatch(key, path); n > 0 && (best == 0 || n <= best) {
			best, child, rest = n, data[i:vend], path[n:]
		}
		i = skipSpace(data, vend)
		if i >= len(data) {
			return nil, nil, false
		}
		if data[i] == '}' {
			break
		}
		if data[i] != ',' {
			return nil, nil, false
		}
		i = skipSpace(data, i+1)
	}
	return child, rest, best > 0
}

// keyMatch returns how many path segments key stands for: 1 when it is the
// first segment, n when it is the first n segments joined with dots, and 0
// when it is neither.
func keyMatch(key string, path []string) int {
	if !strings.HasPrefix(key, path[0]) {
		return 0
	}
	rest := key[len(path[0]):]
	n := 1
	for rest != "" && n < len(path) {
		if rest[0] != '.' || !strings.HasPrefix(rest[1:], path[n]) {
			return 0
		}
		rest = rest[1+len(path[n]):]
		n++
	}
	if rest != "" {
		return 0
	}
	return n
}

// arrayElems returns the elements of the array at data[i].
func arrayElems(data []byte, i int) [][]byte {
	var elems [][]byte
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == ']' {
		return nil
	}
	for i < len(data) {
		end, ok := skipValue(data, i)
		if !ok {
			return elems
		}
		elems = append(elems, data[i:end])
		i = skipSpace(data, end)
		if i >= len(data) || data[i] == ']' {
			return elems
		}
		if data[i] != ',' {
			return elems
		}
		i = skipSpace(data, i+1)
	}
	return elems
}

// leafText renders a value found at the end of a path.
func leafText(raw []byte) string {
	switch raw[0] {
	case '"':
		s, _ := unquote(raw)
		return s
	case '{':
		v, ok := decodeAny(raw)
		if !ok {
			return ""
		}
		return scalarText(v)
	}
	return string(raw)
}

// unquote decodes a JSON string, without allocating twice for the common
// string with no escapes.
func unquote(raw []byte) (string, bool) {
	if len(raw) < 2 {
		return "", false
	}
	if bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), true
	}
	// Escapes and invalid UTF-8 decode as encoding/json does (U+FFFD).
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at data[i].
func skipString(data []byte, i int) (int, bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the value starting at data[i].
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, ok := skipString(data, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	case ',', ':', '}', ']':
		return 0, false
	}
	j := i
	for j < len(data) && !strings.ContainsRune(" \t\r\n,:}]", rune(data[j])) {
		j++
	}
	return j, true
}
