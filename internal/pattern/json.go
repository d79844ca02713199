package pattern

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/opsloop/opsloop/internal/jsonscan"
)

// maxDepth bounds JSON nesting so hostile input cannot exhaust the stack.
const maxDepth = 1000

type jsonKind uint8

const (
	jsonNull jsonKind = iota
	jsonFalse
	jsonTrue
	jsonNumber
	jsonString
	jsonArray
	jsonObject
)

// jsonValue is a parsed pattern document. Unlike encoding/json it keeps
// object members in document order with duplicates, and numbers as their
// original text, because EventBridge applies duplicate keys in order (last
// one wins per path) and matches numbers beyond float64 by their text.
type jsonValue struct {
	kind    jsonKind
	text    string // string contents, or number text
	items   []jsonValue
	members []jsonMember
}

type jsonMember struct {
	key   string
	value jsonValue
}

// syntaxError reports malformed JSON with the byte offset where it was found.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.offset, e.msg)
}

// parseJSON parses one complete JSON document; trailing non-space is an error.
func parseJSON(src string) (jsonValue, error) {
	p := treeParser{src: src}
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return jsonValue{}, err
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return jsonValue{}, p.fail("unexpected data after the top-level value")
	}
	return v, nil
}

type treeParser struct {
	src string
	pos int
	buf []byte
}

func (p *treeParser) fail(msg string) error {
	return &syntaxError{offset: p.pos, msg: msg}
}

func (p *treeParser) skipSpace() {
	p.pos = skipSpace(p.src, p.pos)
}

func skipSpace(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func (p *treeParser) value(depth int) (jsonValue, error) {
	if depth > maxDepth {
		return jsonValue{}, p.fail("nesting too deep")
	}
	if p.pos >= len(p.src) {
		return jsonValue{}, p.fail("unexpected end of input")
	}
	switch c := p.src[p.pos]; {
	case c == '{':
		return p.object(depth)
	case c == '[':
		return p.array(depth)
	case c == '"':
		s, next, buf, err := decodeString(p.src, p.pos, p.buf[:0])
		p.buf = buf
		if err != nil {
			return jsonValue{}, err
		}
		p.pos = next
		return jsonValue{kind: jsonString, text: s}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		end, err := scanNumber(p.src, p.pos)
		if err != nil {
			return jsonValue{}, err
		}
		v := jsonValue{kind: jsonNumber, text: p.src[p.pos:end]}
		p.pos = end
		return v, nil
	default:
		for _, lit := range [...]struct {
			word string
			kind jsonKind
		}{{"true", jsonTrue}, {"false", jsonFalse}, {"null", jsonNull}} {
			if hasWord(p.src, p.pos, lit.word) {
				p.pos += len(lit.word)
				return jsonValue{kind: lit.kind}, nil
			}
		}
		return jsonValue{}, p.fail(fmt.Sprintf("unexpected character %q", rune(c)))
	}
}

func hasWord(s string, i int, word string) bool {
	return len(s)-i >= len(word) && s[i:i+len(word)] == word
}

func (p *treeParser) object(depth int) (jsonValue, error) {
	p.pos++ // '{'
	v := jsonValue{kind: jsonObject}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == '}' {
		p.pos++
		return v, nil
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.src) || p.src[p.pos] != '"' {
			return jsonValue{}, p.fail("expected a string key")
		}
		key, next, buf, err := decodeString(p.src, p.pos, p.buf[:0])
		p.buf = buf
		if err != nil {
			return jsonValue{}, err
		}
		p.pos = skipSpace(p.src, next)
		if p.pos >= len(p.src) || p.src[p.pos] != ':' {
			return jsonValue{}, p.fail("expected ':' after key")
		}
		p.pos++
		p.skipSpace()
		member, err := p.value(depth + 1)
		if err != nil {
			return jsonValue{}, err
		}
		v.members = append(v.members, jsonMember{key: key, value: member})
		p.skipSpace()
		if p.pos >= len(p.src) {
			return jsonValue{}, p.fail("unexpected end of input in object")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return v, nil
		default:
			return jsonValue{}, p.fail("expected ',' or '}' in object")
		}
	}
}

func (p *treeParser) array(depth int) (jsonValue, error) {
	p.pos++ // '['
	v := jsonValue{kind: jsonArray}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ']' {
		p.pos++
		return v, nil
	}
	for {
		p.skipSpace()
		item, err := p.value(depth + 1)
		if err != nil {
			return jsonValue{}, err
		}
		v.items = append(v.items, item)
		p.skipSpace()
		if p.pos >= len(p.src) {
			return jsonValue{}, p.fail("unexpected end of input in array")
		}
		switch p.src[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return v, nil
		default:
			return jsonValue{}, p.fail("expected ',' or ']' in array")
		}
	}
}

// scanNumber checks the JSON number grammar at s[i:] and returns its end.
func scanNumber(s string, i int) (int, error) {
	start := i
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return 0, &syntaxError{offset: start, msg: "invalid number"}
	}
	if i < len(s) && s[i] == '.' {
		i++
		digits := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == digits {
			return 0, &syntaxError{offset: start, msg: "invalid number"}
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		digits := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == digits {
			return 0, &syntaxError{offset: start, msg: "invalid number"}
		}
	}
	return i, nil
}

// decodeString decodes the JSON string starting at s[i] (the opening quote).
// It returns a substring of s when no unescaping is needed, which keeps event
// parsing free of per-value allocations; otherwise the decoded bytes are
// appended to buf and copied into a new string. Invalid UTF-8 and lone
// surrogates become U+FFFD, as encoding/json does.
func decodeString(s string, i int, buf []byte) (string, int, []byte, error) {
	start := i + 1
	j := jsonscan.StringStop(s, start)
	if j < len(s) && s[j] == '"' && utf8.ValidString(s[start:j]) {
		return s[start:j], j + 1, buf, nil
	}
	j = start // escapes, control characters or invalid UTF-8: the careful way
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			return string(buf), j + 1, buf, nil
		case c < 0x20:
			return "", 0, buf, &syntaxError{offset: j, msg: "control character in string"}
		case c == '\\':
			if j+1 >= len(s) {
				return "", 0, buf, &syntaxError{offset: j, msg: "unterminated escape"}
			}
			e := s[j+1]
			j += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(s, j)
				if !ok {
					return "", 0, buf, &syntaxError{offset: j - 2, msg: "invalid \\u escape"}
				}
				j += 4
				if utf16.IsSurrogate(r) {
					if r2, ok2 := lowSurrogate(s, j); ok2 {
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							r = dec
							j += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", 0, buf, &syntaxError{offset: j - 2, msg: fmt.Sprintf("invalid escape \\%c", e)}
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			j++
		default:
			r, size := utf8.DecodeRuneInString(s[j:])
			buf = utf8.AppendRune(buf, r)
			j += size
		}
	}
	return "", 0, buf, &syntaxError{offset: i, msg: "unterminated string"}
}

func lowSurrogate(s string, j int) (rune, bool) {
	if j+6 > len(s) || s[j] != '\\' || s[j+1] != 'u' {
		return 0, false
	}
	return hex4(s, j+2)
}

func hex4(s string, j int) (rune, bool) {
	if j+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := j; k < j+4; k++ {
		c := s[k]
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// appendJSONString writes s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendJSON writes v compactly; object members keep their order.
func appendJSON(b []byte, v jsonValue) []byte {
	switch v.kind {
	case jsonNull:
		return append(b, "null"...)
	case jsonTrue:
		return append(b, "true"...)
	case jsonFalse:
		return append(b, "false"...)
	case jsonNumber:
		return append(b, v.text...)
	case jsonString:
		return appendJSONString(b, v.text)
	case jsonArray:
		b = append(b, '[')
		for i, it := range v.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSON(b, it)
		}
		return append(b, ']')
	default:
		b = append(b, '{')
		for i, m := range v.members {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, m.key)
			b = append(b, ':')
			b = appendJSON(b, m.value)
		}
		return append(b, '}')
	}
}

// parseFinite parses JSON number text, reporting false when it does not fit a
// float64 (EventBridge rejects such numbers wherever it compares numerically).
func parseFinite(text string) (float64, bool) {
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange && f == 0 {
			return 0, true // underflow rounds to zero, as Java's parser does
		}
		return 0, false
	}
	return f, true
}
