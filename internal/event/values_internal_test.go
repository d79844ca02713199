package event

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// FuzzValues checks the scanning path lookup against decoding the JSON and
// walking the decoded value, on any valid JSON and any path.
func FuzzValues(f *testing.F) {
	doc := `{"a":{"b":[{"c":1},{"c":"x\"y"},{"d":null}],"e.f":{"g":true}},"h":[[1,2],[3]],"i":{"j":{"k":"v"}},"a":{"b":{"c":2}},"s":"\u00e9"}`
	for _, p := range []string{"a.b.c", "a.e.f.g", "h", "i.j", "i.j.k", "a.b", "s", "x", "a..b", "."} {
		f.Add([]byte(doc), p)
	}
	matches, _ := filepath.Glob(filepath.Join("..", "..", "events-samples", "*", "*.json"))
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b, "detail.userIdentity.arn")
			f.Add(b, "detail.configuration.metrics.metricStat.metric.dimensions")
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, path string) {
		if !json.Valid(data) || path == "" {
			// Malformed input must not panic either.
			var out []string
			walk(data, strings.Split(path, "."), &out)
			return
		}
		segs := strings.Split(path, ".")
		var got, want []string
		walk(data, segs, &got)
		if v, ok := decodeAny(data); ok {
			collect(v, segs, &want)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("walk(%s, %q) = %q, want %q", data, path, got, want)
		}
	})
}

// collect is the reference for walk: the same lookup on decoded JSON.
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
