package inert_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/inert"
)

func TestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"title\x1b]0;pwned\x07", `title\x1b]0;pwned\x07`},
		{"erase\x1b[2K\x1b[1A", `erase\x1b[2K\x1b[1A`},
		{"two\nlines\r", `two\nlines\r`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"sep\u2028x", `sep\u2028x`},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		{"é ✓", "é ✓"},
	}
	for _, tt := range tests {
		if got := inert.Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMarkdown(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alarm db-1 at 2026-03-01", "alarm db-1 at 2026-03-01"},
		{"[click](https://evil.example)", `\[click\](https://evil.example)`},
		{"![img](x)", `\!\[img\](x)`},
		{"<script>", `\<script\>`},
		{"**bold** _it_ `code`", `\*\*bold\*\* \_it\_ \` + "`" + `code\` + "`"},
		{"# heading\n- item", `\# heading\\n- item`},
		{"- item", `\- item`},
		{"12. ordered", `12\. ordered`},
		{"| a | b |", `\| a \| b \|`},
		{"plain words", "plain words"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := inert.Markdown(tt.in); got != tt.want {
			t.Errorf("Markdown(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriter(t *testing.T) {
	var out bytes.Buffer
	w := inert.NewWriter(&out)
	// A C1 control split across writes, ANSI in a table, newline and tab kept.
	for _, p := range []string{"a\tb\x1b[31mred\n", "c1 \xc2", "\x9b x\n", "é"} {
		if _, err := w.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "a\tb\\x1b[31mred\nc1 \\u009b x\né"
	if out.String() != want {
		t.Errorf("written %q, want %q", out.String(), want)
	}
}

func TestWriterKeepsJSONValid(t *testing.T) {
	b, _ := json.Marshal(map[string]string{"title": "x\u009b\u0085y"}) // encoding/json leaves C1 raw
	var out bytes.Buffer
	w := inert.NewWriter(&out)
	w.Write(b)
	var back map[string]string
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || back["title"] != "x\u009b\u0085y" || strings.ContainsRune(out.String(), '\u009b') {
		t.Errorf("through Writer: %s (%v); want valid JSON with the same value and no raw C1", out.String(), err)
	}
}

func FuzzLine(f *testing.F) {
	f.Add("a\x1b[2Jb\n\u009b")
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{inert.Line(s), inert.Markdown(s)} {
			for _, r := range out {
				if r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) {
					t.Fatalf("output of %q holds control %U", s, r)
				}
			}
		}
		var buf bytes.Buffer
		w := inert.NewWriter(&buf)
		w.Write([]byte(s))
		w.Flush()
		for _, r := range buf.String() {
			if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f)) {
				t.Fatalf("Writer output of %q holds control %U", s, r)
			}
		}
	})
}
