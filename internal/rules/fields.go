package rules

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Fields lists the fields of a rule in a rules file, in Rule's order: the
// `rule` tags of Rule.
func Fields() []string {
	var out []string
	t := reflect.TypeFor[Rule]()
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("rule"); name != "" {
			out = append(out, name)
		}
	}
	return out
}

// undigested are the fields whose change changes nothing a rule does.
var undigested = map[string]bool{"name": true, "description": true}

// Digest is what of r a change to which changes its behaviour: each field
// of Fields but name and description, by its name in the file, as a value
// that encodes to JSON (two digests differ in a field exactly when its
// encodings do), or absent when unset. The
// problems recurrence counts for incident rules only: no other rule opens
// incidents that could recur.
func (r *Rule) Digest() map[string]any {
	out := map[string]any{}
	v := reflect.ValueOf(r).Elem()
	t := v.Type()
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("rule")
		if name == "" || undigested[name] || (name == "problems" && r.Action != Incident) {
			continue
		}
		if d := digest(v.Field(i).Interface()); d != nil {
			out[name] = d
		}
	}
	return out
}

// digest is one field's value in a Digest; nil when unset.
func digest(v any) any {
	switch f := v.(type) {
	case *Threshold:
		if f == nil {
			return nil
		}
		return countWithin(f.Count, f.Window)
	case Flapping:
		if f.Transitions == 0 {
			return nil
		}
		return countWithin(f.Transitions, f.Window)
	case Recurrence:
		if f.Count == 0 {
			return nil
		}
		if f.Accounts > 0 {
			return countWithin(f.Count, f.Window) + fmt.Sprintf(", across %d accounts", f.Accounts)
		}
		return countWithin(f.Count, f.Window)
	case Escalation:
		return nonZero(f.Factor)
	case Scope:
		if f.IsZero() {
			return nil
		}
		return f.String()
	case int:
		return nonZero(f)
	case Action:
		return string(f)
	case string:
		if f == "" {
			return nil
		}
		return f
	case []string:
		if len(f) == 0 {
			return nil
		}
		return slices.Clone(f)
	case []Runbook:
		if len(f) == 0 {
			return nil
		}
		parts := make([]string, len(f))
		for i, r := range f {
			parts[i] = r.String()
		}
		return strings.Join(parts, "; ")
	case fmt.Stringer:
		if reflect.ValueOf(f).IsNil() {
			return nil
		}
		return f.String()
	}
	panic(fmt.Sprintf("rules: no digest for a field of type %T: add one", v))
}

func nonZero(n int) any {
	if n == 0 {
		return nil
	}
	return n
}

func countWithin(n int, window time.Duration) string {
	return fmt.Sprintf("%d within %s", n, FormatDuration(window))
}

// DigestKind is the JSON kind of field's value in a Digest: "string",
// "number" or "array"; "" for a field no digest holds.
func DigestKind(field string) string {
	if undigested[field] {
		return ""
	}
	t := reflect.TypeFor[Rule]()
	for i := range t.NumField() {
		if t.Field(i).Tag.Get("rule") != field {
			continue
		}
		switch t.Field(i).Type {
		case reflect.TypeFor[int](), reflect.TypeFor[Escalation]():
			return "number"
		case reflect.TypeFor[[]string]():
			return "array"
		}
		return "string"
	}
	return ""
}
