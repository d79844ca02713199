package review

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
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

// RuleDigest is the part of a rule a change to which changes its behaviour.
type RuleDigest struct {
	Action     string   `json:"action"`
	Priority   int      `json:"priority,omitempty"`
	Pattern    string   `json:"pattern"`
	Severity   string   `json:"severity,omitempty"`
	Category   string   `json:"category,omitempty"`
	Threshold  string   `json:"threshold,omitempty"`
	GroupBy    []string `json:"groupBy,omitempty"`
	Title      string   `json:"title,omitempty"`
	Recover    string   `json:"recoverWhen,omitempty"`
	Escalation int      `json:"escalation,omitempty"`
	Flapping   string   `json:"flapping,omitempty"`
	Problems   string   `json:"problems,omitempty"`
}

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
		d := RuleDigest{
			Action: string(r.Action), Priority: r.Priority, Severity: r.Severity, Category: r.Category,
			GroupBy: slices.Clone(r.GroupBy), Escalation: r.Escalation.Factor,
		}
		if r.Pattern != nil {
			d.Pattern = r.Pattern.String()
		}
		if r.Recover != nil {
			d.Recover = r.Recover.String()
		}
		if r.Title != nil {
			d.Title = r.Title.String()
		}
		if r.Threshold != nil {
			d.Threshold = fmt.Sprintf("%d within %s", r.Threshold.Count, Window(r.Threshold.Window))
		}
		if r.Flapping.Transitions > 0 {
			d.Flapping = fmt.Sprintf("%d within %s", r.Flapping.Transitions, Window(r.Flapping.Window))
		}
		if r.Action == rules.Incident && r.Problems.Count > 0 {
			d.Problems = fmt.Sprintf("%d within %s", r.Problems.Count, Window(r.Problems.Window))
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

// differs names the fields in which d and o differ, in the rules file's terms.
func (d RuleDigest) differs(o RuleDigest) []string {
	var f []string
	check := func(name string, same bool) {
		if !same {
			f = append(f, name)
		}
	}
	check("action", d.Action == o.Action)
	check("priority", d.Priority == o.Priority)
	check("pattern", d.Pattern == o.Pattern)
	check("severity", d.Severity == o.Severity)
	check("category", d.Category == o.Category)
	check("threshold", d.Threshold == o.Threshold)
	check("groupBy", slices.Equal(d.GroupBy, o.GroupBy))
	check("title", d.Title == o.Title)
	check("recoverWhen", d.Recover == o.Recover)
	check("escalation", d.Escalation == o.Escalation)
	check("flapping", d.Flapping == o.Flapping)
	check("problems", d.Problems == o.Problems)
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
	return s, nil
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
