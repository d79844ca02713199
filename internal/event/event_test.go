package event_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/event"
)

const minimal = `{"version":"0","id":"e1","detail-type":"Test Event","source":"test.source","account":"123456789012",` +
	`"time":"2026-01-02T03:04:05Z","region":"us-east-1","resources":["arn:aws:s3:::b"],"detail":{"k":"v"}}`

// with returns minimal with field replaced by the JSON value v, or removed
// when v is empty.
func with(field, v string) string {
	fields := []struct{ k, v string }{
		{"version", `"0"`}, {"id", `"e1"`}, {"detail-type", `"Test Event"`}, {"source", `"test.source"`},
		{"account", `"123456789012"`}, {"time", `"2026-01-02T03:04:05Z"`}, {"region", `"us-east-1"`},
		{"resources", `["arn:aws:s3:::b"]`}, {"detail", `{"k":"v"}`},
	}
	var parts []string
	for _, f := range fields {
		val := f.v
		if f.k == field {
			if v == "" {
				continue
			}
			val = v
		}
		parts = append(parts, fmt.Sprintf("%q:%s", f.k, val))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		input string
		check func(*event.Event) string
	}{
		{"minimal", minimal, func(e *event.Event) string {
			want := event.Event{Version: "0", ID: "e1", DetailType: "Test Event", Source: "test.source", Account: "123456789012", Region: "us-east-1"}
			if e.Version != want.Version || e.ID != want.ID || e.DetailType != want.DetailType || e.Source != want.Source ||
				e.Account != want.Account || e.Region != want.Region {
				return fmt.Sprintf("envelope = %+v, want %+v", *e, want)
			}
			if !e.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
				return fmt.Sprintf("Time = %v", e.Time)
			}
			if len(e.Resources) != 1 || e.Resources[0] != "arn:aws:s3:::b" {
				return fmt.Sprintf("Resources = %q", e.Resources)
			}
			if string(e.Detail) != `{"k":"v"}` {
				return fmt.Sprintf("Detail = %s", e.Detail)
			}
			if string(e.Raw) != minimal {
				return "Raw is not the input"
			}
			return ""
		}},
		{"no version", with("version", ""), func(e *event.Event) string {
			if e.Version != "" {
				return fmt.Sprintf("Version = %q, want empty", e.Version)
			}
			return ""
		}},
		{"empty resources", with("resources", "[]"), func(e *event.Event) string {
			if len(e.Resources) != 0 {
				return fmt.Sprintf("Resources = %q, want none", e.Resources)
			}
			return ""
		}},
		{"time with offset and fraction", with("time", `"2026-01-02T05:04:05.250+02:00"`), func(e *event.Event) string {
			if !e.Time.Equal(time.Date(2026, 1, 2, 3, 4, 5, 250e6, time.UTC)) {
				return fmt.Sprintf("Time = %v", e.Time)
			}
			return ""
		}},
		{"surrounding whitespace", "\n  " + minimal + "\n", func(e *event.Event) string {
			if e.ID != "e1" {
				return fmt.Sprintf("ID = %q", e.ID)
			}
			return ""
		}},
		{"unicode detail", with("detail", `{"name":"café ☕","esc":"\u00e9"}`), func(e *event.Event) string {
			if got := e.Values("detail.name"); len(got) != 1 || got[0] != "café ☕" {
				return fmt.Sprintf("Values(detail.name) = %q", got)
			}
			return ""
		}},
		{"deep but allowed", with("detail", strings.Repeat(`{"a":`, event.MaxDepth-1)+"1"+strings.Repeat("}", event.MaxDepth-1)), func(e *event.Event) string {
			return ""
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := event.Parse([]byte(tt.input))
			if err != nil {
				t.Fatalf("Parse(%s) error = %v, want none", tt.name, err)
			}
			if msg := tt.check(e); msg != "" {
				t.Errorf("Parse(%s): %s", tt.name, msg)
			}
		})
	}
}

// bads are inputs Parse must reject, with the field and reason it names.
var bads = []struct {
	name, input, field, reason string
}{
	{"empty", "", "", "empty input"},
	{"blank", " \n\t", "", "empty input"},
	{"not json", "hello", "", "not valid JSON"},
	{"array", "[1,2]", "", "want a JSON object, found array"},
	{"string", `"x"`, "", "want a JSON object, found string"},
	{"null", "null", "", "want a JSON object, found null"},
	{"truncated", minimal[:len(minimal)-3], "", "not valid JSON"},
	{"trailing garbage", minimal + "x", "", "not valid JSON"},
	{"two objects", minimal + minimal, "", "not valid JSON"},
	{"invalid utf-8", strings.Replace(minimal, "Test Event", "Test \xff Event", 1), "", "not valid UTF-8"},
	{"too deep", with("detail", strings.Repeat(`{"a":`, event.MaxDepth)+"1"+strings.Repeat("}", event.MaxDepth)), "", "nested deeper than 64 levels"},
	{"too deep arrays", with("detail", `{"a":`+strings.Repeat("[", 200)+strings.Repeat("]", 200)+"}"), "", "nested deeper than 64 levels"},
	{"too big", with("detail", `{"pad":"`+strings.Repeat("x", event.MaxSize)+`"}`), "", "over the 1048576-byte limit"},
	{"missing id", with("id", ""), "id", "missing"},
	{"missing detail-type", with("detail-type", ""), "detail-type", "missing"},
	{"missing source", with("source", ""), "source", "missing"},
	{"missing account", with("account", ""), "account", "missing"},
	{"missing time", with("time", ""), "time", "missing"},
	{"missing region", with("region", ""), "region", "missing"},
	{"missing detail", with("detail", ""), "detail", "missing"},
	{"empty id", with("id", `""`), "id", "empty"},
	{"blank source", with("source", `"  "`), "source", "empty"},
	{"id number", with("id", "12"), "id", "want string, found number"},
	{"detail-type null", with("detail-type", "null"), "detail-type", "want string, found null"},
	{"source object", with("source", `{"a":1}`), "source", "want string, found object"},
	{"region bool", with("region", "true"), "region", "want string, found boolean"},
	{"version number", with("version", "0"), "version", "want string, found number"},
	{"time not rfc3339", with("time", `"2026-01-02 03:04:05"`), "time", `not RFC 3339: "2026-01-02 03:04:05"`},
	{"time date only", with("time", `"2026-01-02"`), "time", `not RFC 3339: "2026-01-02"`},
	{"time number", with("time", "1767323045"), "time", "want string, found number"},
	{"detail string", with("detail", `"{}"`), "detail", "want object, found string"},
	{"detail array", with("detail", `[{}]`), "detail", "want object, found array"},
	{"detail null", with("detail", `null`), "detail", "want object, found null"},
	{"resources object", with("resources", `{}`), "resources", "want array of strings, found object"},
	{"resources string", with("resources", `"arn:aws:s3:::b"`), "resources", "want array of strings, found string"},
	{"resources element number", with("resources", `["a",7]`), "resources[1]", "want string, found number"},
	{"resources element null", with("resources", `[null]`), "resources[0]", "want string, found null"},
}

func TestParseBads(t *testing.T) {
	for _, tt := range bads {
		t.Run(tt.name, func(t *testing.T) {
			e, err := event.Parse([]byte(tt.input))
			if err == nil {
				t.Fatalf("Parse(%s) = %+v, want error", tt.name, e)
			}
			var pe *event.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%s) error = %T %v, want *ParseError", tt.name, err, err)
			}
			if pe.Field != tt.field {
				t.Errorf("Parse(%s) error field = %q, want %q (%v)", tt.name, pe.Field, tt.field, err)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("Parse(%s) error reason = %q, want it to contain %q", tt.name, pe.Reason, tt.reason)
			}
		})
	}
}

func TestParseErrorMessage(t *testing.T) {
	tests := []struct {
		input, want string
	}{
		{with("detail-type", ""), `event: field "detail-type": missing`},
		{with("time", `"yesterday"`), `event: field "time": not RFC 3339: "yesterday"`},
		{with("time", `"`+strings.Repeat("9", 100)+`"`), `event: field "time": not RFC 3339: "` + strings.Repeat("9", 64) + `"...`},
		{"[]", `event: want a JSON object, found array`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := event.Parse([]byte(tt.input))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(%.40s) error = %v, want %s", tt.input, err, tt.want)
			}
		})
	}
}

// FuzzParse checks that no input makes Parse or the methods on a parsed
// event panic, and that what Parse accepts holds together.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	for _, b := range bads {
		f.Add([]byte(b.input))
	}
	root, files := sampleFiles(f)
	for _, rel := range files {
		f.Add(readFile(f, filepath.Join(root, rel)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := event.Parse(data)
		if err != nil {
			var pe *event.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error = %T, want *ParseError", err)
			}
			return
		}
		if e.ID == "" || e.Source == "" || e.DetailType == "" || e.Time.IsZero() {
			t.Fatalf("Parse accepted an event with an empty required field: %+v", e)
		}
		if len(e.Detail) == 0 || e.Detail[0] != '{' {
			t.Fatalf("Parse accepted detail %.20q, want an object", e.Detail)
		}
		if got := e.Values("source"); len(got) != 1 || got[0] != e.Source {
			t.Fatalf("Values(source) = %q, want [%q]", got, e.Source)
		}
		_ = e.Values("detail.a.b")
		_ = e.Summary()
		_ = e.Actor()
		_ = e.ResourceRefs()
		_, _ = e.CloudTrail()
		_, _ = e.Alarm()
		_, _ = e.ConfigChange()
		_, _ = e.ConfigCompliance()
	})
}
