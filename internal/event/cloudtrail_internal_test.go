package event

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestWriteJSONStringAsEncodingJSON: the shortcut for plain strings writes
// what encoding/json writes, whatever the string.
func TestWriteJSONStringAsEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", "eu-west-1", "a\"b", `a\b`, "tab\there", "\x00", "\u2028", "\u2029", "\u20ac", "é", "\xff", "<&>", "\x7f"} {
		var got bytes.Buffer
		writeJSONString(&got, s)
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got.String() != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("writeJSONString(%q) = %s, want %s", s, got.String(), want.String())
		}
	}
}
