package rules

import (
	"fmt"
	"strings"
)

// Template is a title with {{path}} placeholders naming event fields, such as
// "Alarm {{detail.alarmName}} is in ALARM".
type Template struct {
	src   string
	parts []templatePart
}

type templatePart struct {
	text string
	path string // set for placeholders
}

// eventRoots are the top-level fields of an EventBridge event; a path that
// starts anywhere else can never hold a value.
var eventRoots = map[string]bool{
	"version": true, "id": true, "detail-type": true, "source": true, "account": true,
	"time": true, "region": true, "resources": true, "detail": true,
	// principal is derived (event.PrincipalPath): the IAM identity that
	// acted, without the session name its caller picks.
	"principal": true,
}

// ParseTemplate parses a title template and checks that every placeholder
// names a field an event can have.
func ParseTemplate(src string) (*Template, error) {
	t := &Template{src: src}
	rest := src
	for {
		open := strings.Index(rest, "{{")
		if open < 0 {
			if strings.Contains(rest, "}}") {
				return nil, fmt.Errorf("%q has \"}}\" without \"{{\"", src)
			}
			t.parts = append(t.parts, templatePart{text: rest})
			return t, nil
		}
		if strings.Contains(rest[:open], "}}") {
			return nil, fmt.Errorf("%q has \"}}\" without \"{{\"", src)
		}
		end := strings.Index(rest[open:], "}}")
		if end < 0 {
			return nil, fmt.Errorf("%q has an unclosed \"{{\"", src)
		}
		path := strings.TrimSpace(rest[open+2 : open+end])
		if err := CheckPath(path); err != nil {
			return nil, fmt.Errorf("placeholder {{%s}}: %w", path, err)
		}
		t.parts = append(t.parts, templatePart{text: rest[:open]}, templatePart{path: path})
		rest = rest[open+end+2:]
	}
}

// CheckPath reports whether path can name a field of an EventBridge event:
// dot-separated, non-empty segments under one of the envelope fields.
func CheckPath(path string) error {
	if path == "" {
		return fmt.Errorf("empty path references nothing")
	}
	segs := strings.Split(path, ".")
	for _, s := range segs {
		if s == "" || strings.ContainsAny(s, " {}\"") {
			return fmt.Errorf("path %q is malformed", path)
		}
	}
	if !eventRoots[segs[0]] {
		return fmt.Errorf("path %q references nothing: an event's fields are detail.*, id, source, detail-type, account, region, time, resources, version, principal", path)
	}
	return nil
}

// Paths lists the placeholders' paths.
func (t *Template) Paths() []string {
	var paths []string
	for _, p := range t.parts {
		if p.path != "" {
			paths = append(paths, p.path)
		}
	}
	return paths
}

// String returns the template source.
func (t *Template) String() string { return t.src }

// Render fills the placeholders with lookup's values; several values are
// joined with ", " and a missing field renders as "?".
func (t *Template) Render(lookup func(path string) []string) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.path == "" {
			b.WriteString(p.text)
			continue
		}
		vals := lookup(p.path)
		if len(vals) == 0 {
			b.WriteString("?")
			continue
		}
		b.WriteString(strings.Join(vals, ", "))
	}
	return b.String()
}
