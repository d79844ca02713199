// Package inert makes text that came from an event safe to show where it
// goes: a terminal, a plain-text e-mail, Markdown. Any string of an event
// may have been chosen by an attacker (a denied call keeps its caller's
// parameters), so it is shown as text, never as markup or control codes.
package inert

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// control reports whether r is a C0 or C1 control character, DEL, or a
// Unicode line or paragraph separator: what a terminal or mail reader may
// act on instead of showing.
func control(r rune) bool {
	return r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == '\u2028' || r == '\u2029'
}

// escape writes r as a Go-style escape: \n, \t, \x1b, \u009b.
func escape(b *strings.Builder, r rune) {
	switch r {
	case '\n':
		b.WriteString(`\n`)
	case '\r':
		b.WriteString(`\r`)
	case '\t':
		b.WriteString(`\t`)
	default:
		if r < 0x80 {
			fmt.Fprintf(b, `\x%02x`, r)
		} else {
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
}

// Line is s on one line with every control character escaped (a newline
// becomes the two characters \n) and invalid UTF-8 replaced: for terminal
// output and plain-text e-mail, where a raw newline could forge a line and
// an escape sequence could rewrite the screen.
func Line(s string) string {
	clean := true
	for _, r := range s {
		if control(r) || r == utf8.RuneError {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if control(r) {
			escape(&b, r)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// markdownSpecial are the characters that make Markdown syntax anywhere in
// a line: emphasis, code, links and images (a link needs "["), raw HTML,
// tables, strikethrough, and the backslash itself.
const markdownSpecial = "\\`*_[]<>!|~"

// Markdown is Line(s) with Markdown syntax escaped, so that event text in an
// OpsItem description renders as the same text: no link, image, emphasis,
// HTML, or, at the start of a line, heading, list or quote.
func Markdown(s string) string {
	s = Line(s)
	var b strings.Builder
	b.Grow(len(s))
	if s != "" && strings.ContainsRune("#+-=", rune(s[0])) {
		b.WriteByte('\\')
	}
	digits := 0
	for s[digits:] != "" && s[digits] >= '0' && s[digits] <= '9' {
		digits++
	}
	for i, r := range s {
		if r < utf8.RuneSelf && (strings.ContainsRune(markdownSpecial, r) || (digits > 0 && i == digits && (r == '.' || r == ')'))) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Writer escapes control characters other than newline and tab in what is
// written to w: the last guard of a terminal against escape sequences in
// output built from events. Inside JSON strings its \u escapes stay valid
// JSON. Writes of partial UTF-8 sequences are held until complete.
type Writer struct {
	w       io.Writer
	pending []byte
}

// NewWriter returns a Writer to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

// Unwrap returns the writer t writes to, for output that is opsloop's own
// and needs control codes (a progress bar on a terminal).
func (t *Writer) Unwrap() io.Writer { return t.w }

// Write implements io.Writer; n counts the bytes of p taken.
func (t *Writer) Write(p []byte) (int, error) {
	data := append(t.pending, p...)
	t.pending = nil
	// Keep back an incomplete rune at the end for the next write.
	if cut := incompleteTail(data); cut > 0 {
		t.pending = append([]byte(nil), data[len(data)-cut:]...)
		data = data[:len(data)-cut]
	}
	var b strings.Builder
	for len(data) > 0 {
		r, size := utf8.DecodeRune(data)
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, data[0])
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case control(r):
			escape(&b, r)
		default:
			b.Write(data[:size])
		}
		data = data[size:]
	}
	if _, err := io.WriteString(t.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes what an incomplete rune held back.
func (t *Writer) Flush() error {
	if len(t.pending) == 0 {
		return nil
	}
	p := t.pending
	t.pending = nil
	var b strings.Builder
	for _, c := range p {
		fmt.Fprintf(&b, `\x%02x`, c)
	}
	_, err := io.WriteString(t.w, b.String())
	return err
}

// incompleteTail is how many bytes at the end of p begin a rune that is not
// complete yet.
func incompleteTail(p []byte) int {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(p); i++ {
		c := p[len(p)-i]
		if c < 0x80 {
			return 0
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(p[len(p)-i:]) {
				return i
			}
			return 0
		}
	}
	return 0
}
