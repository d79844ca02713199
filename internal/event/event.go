// Package event is opsloop's model of one EventBridge event: the envelope
// decoded and validated, the detail kept raw, with typed views of the
// sources opsloop cares about (CloudTrail, CloudWatch alarms, AWS Config)
// decoded on demand.
package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxSize is the largest event Parse accepts, in bytes: EventBridge's
// current limit for one event.
const MaxSize = 1 << 20

// MaxDepth is the deepest nesting of objects and arrays Parse accepts.
// Real AWS events stay far below it; anything deeper is hostile or broken.
const MaxDepth = 64

// Event is one EventBridge event: the envelope decoded, the detail kept raw.
type Event struct {
	Version    string
	ID         string
	DetailType string
	Source     string
	Account    string
	Region     string
	Time       time.Time
	Resources  []string
	Detail     json.RawMessage // raw bytes of detail, for matching and evidence
	Raw        []byte          // the whole event as received

	// cache holds Values results; nil for an Event built by hand rather
	// than by Parse.
	cache *valueCache
}

// ParseError says why Parse rejected an event. Field is empty when the
// problem is with the event as a whole (size, encoding, syntax).
type ParseError struct {
	Field  string
	Reason string
}

// Error renders the error as `event: field "time": not RFC 3339: "..."`.
func (e *ParseError) Error() string {
	if e.Field == "" {
		return "event: " + e.Reason
	}
	return fmt.Sprintf("event: field %q: %s", e.Field, e.Reason)
}

// Parse decodes and validates one EventBridge event. The returned Event keeps
// data as Raw, so data must not be modified afterwards. Every error is a
// *ParseError.
func Parse(data []byte) (*Event, error) {
	if len(data) > MaxSize {
		return nil, &ParseError{Reason: fmt.Sprintf("%d bytes is over the %d-byte limit", len(data), MaxSize)}
	}
	if !utf8.Valid(data) {
		return nil, &ParseError{Reason: "not valid UTF-8"}
	}
	if err := checkDepth(data, MaxDepth); err != nil {
		return nil, err
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, &ParseError{Reason: "empty input"}
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return nil, &ParseError{Reason: "not valid JSON"}
		}
		return nil, &ParseError{Reason: "want a JSON object, found " + jsonType(trimmed)}
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return nil, &ParseError{Reason: "not valid JSON: " + syntaxReason(err)}
	}

	e := &Event{Raw: data, cache: &valueCache{}}
	var err error
	if e.Version, err = stringField(fields, "version", false); err != nil {
		return nil, err
	}
	required := []struct {
		name string
		dst  *string
	}{
		{"id", &e.ID},
		{"detail-type", &e.DetailType},
		{"source", &e.Source},
		{"account", &e.Account},
		{"time", nil},
		{"region", &e.Region},
	}
	for _, f := range required {
		s, err := stringField(fields, f.name, true)
		if err != nil {
			return nil, err
		}
		if f.dst != nil {
			*f.dst = s
			continue
		}
		t, perr := time.Parse(time.RFC3339, s)
		if perr != nil {
			return nil, &ParseError{Field: "time", Reason: "not RFC 3339: " + quoteShort(s)}
		}
		e.Time = t
	}
	if e.Resources, err = resourcesField(fields); err != nil {
		return nil, err
	}
	detail, ok := fields["detail"]
	if !ok {
		return nil, &ParseError{Field: "detail", Reason: "missing"}
	}
	if t := jsonType(detail); t != "object" {
		return nil, &ParseError{Field: "detail", Reason: "want object, found " + t}
	}
	e.Detail = detail
	return e, nil
}

func stringField(fields map[string]json.RawMessage, name string, required bool) (string, error) {
	raw, ok := fields[name]
	if !ok {
		if required {
			return "", &ParseError{Field: name, Reason: "missing"}
		}
		return "", nil
	}
	if t := jsonType(raw); t != "string" {
		return "", &ParseError{Field: name, Reason: "want string, found " + t}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", &ParseError{Field: name, Reason: "bad string: " + err.Error()}
	}
	if required && strings.TrimSpace(s) == "" {
		return "", &ParseError{Field: name, Reason: "empty"}
	}
	return s, nil
}

func resourcesField(fields map[string]json.RawMessage) ([]string, error) {
	raw, ok := fields["resources"]
	if !ok {
		return nil, nil
	}
	if t := jsonType(raw); t != "array" {
		return nil, &ParseError{Field: "resources", Reason: "want array of strings, found " + t}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, &ParseError{Field: "resources", Reason: "bad array: " + err.Error()}
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		if t := jsonType(item); t != "string" {
			return nil, &ParseError{Field: fmt.Sprintf("resources[%d]", i), Reason: "want string, found " + t}
		}
		var s string
		if err := json.Unmarshal(item, &s); err != nil {
			return nil, &ParseError{Field: fmt.Sprintf("resources[%d]", i), Reason: "bad string: " + err.Error()}
		}
		out = append(out, s)
	}
	return out, nil
}

// jsonType names the JSON type of a valid JSON value by its first byte.
func jsonType(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// checkDepth rejects nesting deeper than limit without decoding, so a
// pathological input costs one linear scan.
func checkDepth(data []byte, limit int) error {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
			if depth > limit {
				return &ParseError{Reason: fmt.Sprintf("nested deeper than %d levels", limit)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// syntaxReason shortens encoding/json's messages, which repeat the package
// name, to what an operator needs.
func syntaxReason(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return fmt.Sprintf("%q...", s[:cut])
	}
	return fmt.Sprintf("%q", s)
}
