package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// Values returns the values at a dotted path into the whole event, such as
// "source", "detail.alarmName" or "detail.userIdentity.arn". Arrays met on
// the way are flattened, as EventBridge patterns do; strings come back
// without quotes, other scalars as their JSON text, objects as compact JSON.
// A key that itself contains dots (AWS Config's "Configuration.State") is
// found too. Values returns nil when nothing is at path.
func (e *Event) Values(path string) []string {
	if path == "" {
		return nil
	}
	if v, ok := e.envelopeValue(path); ok {
		return v
	}
	root := e.root()
	if root == nil {
		return nil
	}
	var out []string
	collect(root, strings.Split(path, "."), &out)
	return out
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
	case "resources":
		if len(e.Resources) == 0 {
			return nil, true
		}
		return append([]string(nil), e.Resources...), true
	}
	return nil, false
}

// root returns the decoded event, decoding it on first use.
func (e *Event) root() any {
	if e.tree == nil {
		return e.decodeTree()
	}
	e.tree.once.Do(func() { e.tree.root = e.decodeTree() })
	return e.tree.root
}

func (e *Event) decodeTree() any {
	if len(e.Raw) > 0 {
		if v, ok := decodeAny(e.Raw); ok {
			return v
		}
	}
	// An Event built by hand: assemble the tree from its fields.
	m := map[string]any{
		"version":     e.Version,
		"id":          e.ID,
		"detail-type": e.DetailType,
		"source":      e.Source,
		"account":     e.Account,
		"region":      e.Region,
	}
	if !e.Time.IsZero() {
		m["time"] = e.Time.UTC().Format(time.RFC3339)
	}
	res := make([]any, len(e.Resources))
	for i, r := range e.Resources {
		res[i] = r
	}
	m["resources"] = res
	if d, ok := decodeAny(e.Detail); ok {
		m["detail"] = d
	}
	return m
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

func collect(v any, path []string, out *[]string) {
	if arr, ok := v.([]any); ok {
		for _, item := range arr {
			collect(item, path, out)
		}
		return
	}
	if len(path) == 0 {
		*out = append(*out, scalarText(v))
		return
	}
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	// Try the plain segment first, then segments joined back with dots for
	// keys that contain dots themselves.
	key := path[0]
	for i := 1; i <= len(path); i++ {
		if i > 1 {
			key += "." + path[i-1]
		}
		if child, ok := m[key]; ok {
			collect(child, path[i:], out)
			return
		}
	}
}

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
