package eventfile

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// split reads content as the file name and renders each item as
// "POS RAW" or "POS error: ...".
func split(t testing.TB, name string, content []byte) []string {
	t.Helper()
	var got []string
	err := readStream(context.Background(), name, bytes.NewReader(content), func(it Item) error {
		if it.Err != nil {
			got = append(got, it.Pos+" error: "+it.Err.Error())
		} else {
			got = append(got, it.Pos+" "+string(it.Raw))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("readStream(%s) error = %v", name, err)
	}
	return got
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	_ = w.Close()
	return b.Bytes()
}

func TestSplit(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                []string
	}{
		{"one object", "f.json", `{"a":1}`, []string{`f.json {"a":1}`}},
		{"pretty object", "f.json", "\ufeff\n  {\n \"a\": [1,\n 2]\n}\n\n", []string{"f.json {\n \"a\": [1,\n 2]\n}"}},
		{"braces in strings", "f.json", `{"a":"}{][\"}"}`, []string{`f.json {"a":"}{][\"}"}`}},
		{"lines after blank lines", "f.json", "\n\n{\"a\":1}\n{\"b\":2}\n", []string{`f.json:3 {"a":1}`, `f.json:4 {"b":2}`}},
		{"lines in json", "f.json", "{\"a\":1}\n{\"b\":2}\n", []string{`f.json:1 {"a":1}`, `f.json:2 {"b":2}`}},
		{"concatenated pretty", "f.json", "{\n\"a\":1\n}\n{\n\"b\":2\n}", []string{"f.json:1 {\n\"a\":1\n}", "f.json:4 {\n\"b\":2\n}"}},
		{"garbage line among lines", "f.json", "{\"a\":1}\nnot json at all\n{\"b\":2}\n",
			[]string{`f.json:1 {"a":1}`, `f.json:2 error: not a JSON object: "not json at all"`, `f.json:3 {"b":2}`}},
		{"truncated line among lines", "f.json", "{\"a\":1}\n{\"b\":\n{\"c\":3}\n",
			[]string{`f.json:1 {"a":1}`, `f.json:2 error: not valid JSON: the line ends inside a value`, `f.json:3 {"c":3}`}},
		{"invalid object among lines", "f.json", "{\"a\":1}\n{\"b\":tru}\n{\"c\":3}\n",
			[]string{`f.json:1 {"a":1}`, `f.json:2 error: not valid JSON: invalid character '}' in literal true (expecting 'e') at byte 9`, `f.json:3 {"c":3}`}},
		{"truncated single", "f.json", `{"a":[1,2`, []string{`f.json error: truncated: the input ends inside this value`}},
		{"empty", "f.json", "", []string{`f.json error: no events: the file is empty`}},
		{"whitespace only", "f.json", " \n\t\r\n", []string{`f.json error: no events: the file is empty`}},
		{"scalar", "f.json", `42`, []string{`f.json error: not a JSON object: "42"`}},
		{"array", "f.json", ` [ {"a":1} , {"b":2} ] `, []string{`f.json#[0] {"a":1}`, `f.json#[1] {"b":2}`}},
		{"empty array", "f.json", `[]`, nil},
		{"broken array", "f.json", `[{"a":1},{"b":}]`, []string{`f.json#[0] {"a":1}`, `f.json#[1] error: not valid JSON, reading stops: invalid character '}' looking for beginning of value`}},
		{"array then junk", "f.json", `[{"a":1}] x`, []string{`f.json#[0] {"a":1}`, `f.json error: unexpected data after the top-level value`}},
		{"jsonl", "f.jsonl", "{\"a\":1}\r\n\r\n  {\"b\":2}  \n{bad}\n[1]", []string{`f.jsonl:1 {"a":1}`, `f.jsonl:3 {"b":2}`,
			`f.jsonl:4 error: not valid JSON: invalid character 'b' looking for beginning of object key string at byte 2`, `f.jsonl:5 [1]`}},
		{"jsonl with byte order mark", "f.jsonl", "\ufeff{\"a\":1}\n", []string{`f.jsonl:1 {"a":1}`}},
		{"ndjson without final newline", "f.ndjson", `{"a":1}`, []string{`f.ndjson:1 {"a":1}`}},
		{"jsonl gz", "f.jsonl.gz", string(gz("{\"a\":1}\n{\"b\":2}\n")), []string{`f.jsonl.gz:1 {"a":1}`, `f.jsonl.gz:2 {"b":2}`}},
		{"json gz by content", "whatever", string(gz(`{"a":1}`)), []string{`whatever {"a":1}`}},
		{"corrupt gz", "f.json.gz", "\x1f\x8b\x08\x00\x00", []string{`f.json.gz error: open gzip: unexpected EOF`}},
		{"truncated gz", "f.jsonl.gz", string(gz("{\"a\":1}\n{\"b\":2}\n")[:25]), []string{`f.jsonl.gz:1 {"a":1}`, `f.jsonl.gz:2 error: read: unexpected EOF`}},
		{"records with other keys", "ct.json", `{"Records":[],"digest":{"x":1}}`, nil},
		{"records not an array", "ct.json", `{"Records":{}}`, []string{`ct.json error: "Records" is not an array`}},
		{"records broken", "ct.json", `{"Records":[{"eventTime":"2026-01-01T00:00:00Z"}, {]}`, []string{
			`ct.json#Records[0] error: cloudtrail record: field "eventSource": missing`,
			`ct.json#Records[1] error: not valid JSON, reading stops: invalid character ']' looking for beginning of object key string`,
		}},
		{"records later key is one event", "f.json", `{"id":"x","Records":[]}`, []string{`f.json {"id":"x","Records":[]}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := split(t, tt.file, []byte(tt.content))
			if !slices.Equal(got, tt.want) {
				t.Errorf("readStream(%s, %q) =\n%s\nwant\n%s", tt.file, tt.content, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestSplitOversized(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("x", MaxItem) + `"}`
	tests := []struct {
		file, content string
		want          []string
	}{
		{"f.json", big + "\n" + `{"a":1}`, []string{"f.json:1 error: value larger than 4194304 bytes", `f.json:2 {"a":1}`}},
		{"f.jsonl", big + "\n" + `{"a":1}`, []string{"f.jsonl:1 error: line longer than 4194304 bytes", `f.jsonl:2 {"a":1}`}},
	}
	for _, tt := range tests {
		if got := split(t, tt.file, []byte(tt.content)); !slices.Equal(got, tt.want) {
			t.Errorf("readStream(%s, oversized) = %q, want %q", tt.file, got, tt.want)
		}
	}
}

// FuzzSplit checks that no content makes the splitting panic or fail, that
// every item delivered without an error is valid JSON at a position in the
// file, and that a file holding one JSON object yields exactly that object.
func FuzzSplit(f *testing.F) {
	seeds := []string{
		`{"a":1}`, "{\"a\":1}\n{\"b\":2}\n", "{\n\"a\":\"x\\\"}\"\n}", `[{"a":1},{"b":2}]`, `{"Records":[{"eventTime":"x"}]}`,
		"{\"a\":\n", "not json", "\x1f\x8b\x08", string(gz(`{"a":1}`)), "\ufeff{}", "{\"a\":1}\n{\"b\":\n{\"c\":3}", `[`, `{"Records":`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, name := range []string{"f.json", "f.jsonl"} {
			var items []Item
			err := readStream(context.Background(), name, bytes.NewReader(data), func(it Item) error {
				items = append(items, it)
				return nil
			})
			if err != nil {
				t.Fatalf("readStream(%s) error = %v, want none: bad content is reported in items", name, err)
			}
			for _, it := range items {
				if !strings.HasPrefix(it.Pos, name) {
					t.Fatalf("item position %q, want it to start with %q", it.Pos, name)
				}
				if it.Err == nil && !json.Valid(it.Raw) {
					t.Fatalf("readStream(%s) delivered invalid JSON %q at %s", name, it.Raw, it.Pos)
				}
				if it.Err != nil && it.Raw != nil {
					t.Fatalf("item at %s has both Err and Raw", it.Pos)
				}
			}
			trimmed := bytes.Trim(data, " \t\r\n") // JSON whitespace, not Unicode's
			if name == "f.json" && json.Valid(trimmed) && len(trimmed) > 0 && trimmed[0] == '{' && !otherShape(trimmed) &&
				!bytes.ContainsAny(trimmed, "\n\r") && len(trimmed) <= MaxItem {
				if len(items) != 1 || items[0].Err != nil || !bytes.Equal(items[0].Raw, trimmed) || items[0].Pos != name {
					t.Fatalf("readStream(%s, one object %q) = %+v, want that object", name, trimmed, items)
				}
			}
		}
	})
}

// otherShape reports whether the object holds CloudTrail data that Read
// converts or skips (shapes.go) rather than delivers as it is.
func otherShape(obj []byte) bool {
	var top map[string]json.RawMessage
	if json.Unmarshal(obj, &top) != nil {
		return false
	}
	for _, k := range []string{"Records", "Events", "QueryResultRows", "eventVersion", "eventType", "eventSource", "digestStartTime", "digestEndTime", "logFiles"} {
		if _, ok := top[k]; ok {
			return true
		}
	}
	return false
}
