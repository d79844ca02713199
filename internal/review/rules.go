package review

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/rules"
)

// RulesSnapshot is what a review remembers of the rules it reviewed, so the
// next review can say what changed since.
type RulesSnapshot struct {
	Taken time.Time             `json:"taken"`
	Rules map[string]RuleDigest `json:"rules"`
}

// RuleDigest is the part of a rule a change to which changes its
// behaviour (rules.Rule.Digest): each field by its name in the rules file,
// as JSON.
type RuleDigest map[string]json.RawMessage

// RuleChange is one rule added, removed or changed between two snapshots.
type RuleChange struct {
	Rule   string   `json:"rule"`
	Change string   `json:"change"` // "added", "removed" or "changed"
	Fields []string `json:"fields,omitempty"`
}

// Kinds of RuleChange.
const (
	RuleAdded   = "added"
	RuleRemoved = "removed"
	RuleChanged = "changed"
)

// Snapshot digests set.
func Snapshot(set *rules.Set, taken time.Time) RulesSnapshot {
	s := RulesSnapshot{Taken: taken.UTC(), Rules: map[string]RuleDigest{}}
	if set == nil {
		return s
	}
	for _, r := range set.Rules {
		d := RuleDigest{}
		for field, v := range r.Digest() {
			raw, err := json.Marshal(v)
			if err != nil {
				panic(fmt.Sprintf("review: digest of rule %s field %s: %v", r.Name, field, err)) // digests are plain values
			}
			d[field] = raw
		}
		s.Rules[r.Name] = d
	}
	return s
}

// DiffRules lists the rules added, removed and changed from old to cur,
// by rule name.
func DiffRules(old, cur RulesSnapshot) []RuleChange {
	var out []RuleChange
	for name, d := range cur.Rules {
		o, ok := old.Rules[name]
		if !ok {
			out = append(out, RuleChange{Rule: name, Change: RuleAdded})
			continue
		}
		if fields := d.differs(o); len(fields) > 0 {
			out = append(out, RuleChange{Rule: name, Change: RuleChanged, Fields: fields})
		}
	}
	for name := range old.Rules {
		if _, ok := cur.Rules[name]; !ok {
			out = append(out, RuleChange{Rule: name, Change: RuleRemoved})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rule < out[j].Rule })
	return out
}

// differs names the fields in which d and o differ, in the rules file's
// terms and order.
func (d RuleDigest) differs(o RuleDigest) []string {
	var f []string
	for _, name := range rules.Fields() {
		if !bytes.Equal(d[name], o[name]) {
			f = append(f, name)
		}
	}
	return f
}

// snapshotElement is the id of the script element of type
// application/json that carries a report's rules snapshot: data for the
// next review, never run.
const snapshotElement = "opsloop-rules-snapshot"

// maxSnapshotInput bounds what ReadSnapshot reads.
const maxSnapshotInput = 32 << 20

// ErrNoSnapshot is returned by ReadSnapshot for input that holds none.
var ErrNoSnapshot = errors.New("no rules snapshot")

// ReadSnapshot reads a rules snapshot from a snapshot JSON file or from a
// report written by WriteHTML.
func ReadSnapshot(r io.Reader) (RulesSnapshot, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxSnapshotInput+1))
	if err != nil {
		return RulesSnapshot{}, fmt.Errorf("read rules snapshot: %w", err)
	}
	if len(data) > maxSnapshotInput {
		return RulesSnapshot{}, fmt.Errorf("read rules snapshot: input over %d bytes", maxSnapshotInput)
	}
	data = bytes.TrimSpace(data)
	if !bytes.HasPrefix(data, []byte("{")) {
		open := []byte(`<script type="application/json" id="` + snapshotElement + `">`)
		i := bytes.Index(data, open)
		if i < 0 {
			return RulesSnapshot{}, ErrNoSnapshot
		}
		rest := data[i+len(open):]
		end := bytes.Index(rest, []byte("</script>"))
		if end < 0 {
			return RulesSnapshot{}, fmt.Errorf("read rules snapshot: unterminated script element: %w", ErrNoSnapshot)
		}
		// Script content is raw text: no entities to decode.
		data = rest[:end]
	}
	var s RulesSnapshot
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return RulesSnapshot{}, fmt.Errorf("read rules snapshot: %w", err)
	}
	if s.Rules == nil {
		return RulesSnapshot{}, fmt.Errorf("read rules snapshot: no \"rules\": %w", ErrNoSnapshot)
	}
	for name, d := range s.Rules {
		for field, raw := range d {
			var b bytes.Buffer
			if err := json.Compact(&b, raw); err != nil {
				return RulesSnapshot{}, fmt.Errorf("read rules snapshot: rule %q: %s: %w", name, field, err)
			}
			want := rules.DigestKind(field)
			if want == "" {
				return RulesSnapshot{}, fmt.Errorf("read rules snapshot: rule %q: %s: not a field of a rule's digest", name, field)
			}
			if jsonKind(b.Bytes()) != want {
				return RulesSnapshot{}, fmt.Errorf("read rules snapshot: rule %q: %s: want a %s", name, field, want)
			}
			d[field] = b.Bytes()
		}
	}
	return s, nil
}

// jsonKind is the kind of the compact JSON value v, as rules.DigestKind
// names it.
func jsonKind(v []byte) string {
	switch {
	case len(v) == 0:
		return ""
	case v[0] == '"':
		return "string"
	case v[0] == '[':
		var list []string
		if json.Unmarshal(v, &list) != nil {
			return ""
		}
		return "array"
	case v[0] == '-' || v[0] >= '0' && v[0] <= '9':
		return "number"
	}
	return ""
}

// snapshotScript is the snapshot as the content of a script element: JSON
// with "<", ">" and "&" escaped by encoding/json, so no "</script>" can
// end it early.
func snapshotScript(s RulesSnapshot) (string, error) {
	data, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode rules snapshot: %w", err)
	}
	if strings.Contains(string(data), "</") {
		return "", fmt.Errorf("encode rules snapshot: unescaped end tag")
	}
	return string(data), nil
}
