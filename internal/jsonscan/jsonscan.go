// Package jsonscan holds the scanning steps opsloop's JSON readers share,
// made to cost little on the long runs of plain text JSON mostly is.
package jsonscan

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"unsafe"
)

// Eight bytes at a time: what a string's scan stops at.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = '"' * ones
	slashs = '\\' * ones
	spaces = 0x20 * ones
)

// StringStop returns the index of the first byte at or after j in s that
// ends the plain run of a JSON string: a quote, a backslash or a control
// character; len(s) when there is none. Bytes of multi-byte UTF-8
// sequences never stop it.
func StringStop(s string, j int) int {
	b := unsafe.Slice(unsafe.StringData(s), len(s)) // read only
	for ; j+8 <= len(b); j += 8 {
		x := binary.LittleEndian.Uint64(b[j:])
		// A byte's high bit is set in each term when the byte is zero
		// (after the xor) or below 0x20; borrows may flag bytes above the
		// first flagged one, never below, so the lowest flag is exact.
		q, b := x^quotes, x^slashs
		t := ((q - ones) &^ q) | ((b - ones) &^ b) | ((x - spaces) &^ x)
		if t &= highs; t != 0 {
			return j + bits.TrailingZeros64(t)/8
		}
	}
	for ; j < len(s); j++ {
		if c := s[j]; c == '"' || c == '\\' || c < 0x20 {
			return j
		}
	}
	return j
}

// ErrShort says the text ended inside the value: more may complete it.
var ErrShort = errors.New("jsonscan: the text ends inside the value")

// errSyntax says the text is not JSON; encoding/json says why in its words.
var errSyntax = errors.New("jsonscan: not valid JSON")

// MaxNesting is how deep Value follows arrays and objects, as
// encoding/json does.
const MaxNesting = 10000

// Value returns the index after the JSON value starting at s[i] (after
// any whitespace), checking it as strictly as encoding/json does: ErrShort
// when s ends inside it, another error when it is not JSON (then
// encoding/json can say what is wrong in its own words).
func Value(s string, i int) (int, error) {
	var closers []byte // of the arrays and objects open, innermost last
	for {
		// A value starts at i.
		i = space(s, i)
		if i >= len(s) {
			return i, ErrShort
		}
		var err error
		switch c := s[i]; {
		case c == '{' || c == '[':
			if len(closers) >= MaxNesting {
				return i, errSyntax
			}
			close := byte('}')
			if c == '[' {
				close = ']'
			}
			if i = space(s, i+1); i >= len(s) {
				return i, ErrShort
			}
			if s[i] == close {
				i++
				break
			}
			closers = append(closers, close)
			if c == '{' {
				if i, err = key(s, i); err != nil {
					return i, err
				}
			}
			continue
		case c == '"':
			i, err = str(s, i)
		case c == '-' || (c >= '0' && c <= '9'):
			i, err = number(s, i)
		case c == 't':
			i, err = literal(s, i, "true")
		case c == 'f':
			i, err = literal(s, i, "false")
		case c == 'n':
			i, err = literal(s, i, "null")
		default:
			return i, errSyntax
		}
		if err != nil {
			return i, err
		}
		// After a value: close what ends here, until a comma or the end.
		for {
			if len(closers) == 0 {
				return i, nil
			}
			if i = space(s, i); i >= len(s) {
				return i, ErrShort
			}
			close := closers[len(closers)-1]
			if s[i] == close {
				closers = closers[:len(closers)-1]
				i++
				continue
			}
			if s[i] != ',' {
				return i, errSyntax
			}
			i++
			if close == '}' {
				if i, err = key(s, space(s, i)); err != nil {
					return i, err
				}
			}
			break
		}
	}
}

func space(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// key moves past an object member's key and its colon.
func key(s string, i int) (int, error) {
	if i >= len(s) {
		return i, ErrShort
	}
	if s[i] != '"' {
		return i, errSyntax
	}
	i, err := str(s, i)
	if err != nil {
		return i, err
	}
	if i = space(s, i); i >= len(s) {
		return i, ErrShort
	}
	if s[i] != ':' {
		return i, errSyntax
	}
	return i + 1, nil
}

// str moves past the string at s[i].
func str(s string, i int) (int, error) {
	for j := StringStop(s, i+1); j < len(s); j = StringStop(s, j) {
		switch s[j] {
		case '"':
			return j + 1, nil
		case '\\':
			if j+1 >= len(s) {
				return len(s), ErrShort
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				for k := j + 2; k < j+6; k++ {
					if k >= len(s) {
						return len(s), ErrShort
					}
					if !isHex(s[k]) {
						return k, errSyntax
					}
				}
				j += 6
			default:
				return j, errSyntax
			}
		default: // a control character
			return j, errSyntax
		}
	}
	return len(s), ErrShort
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// number moves past the number at s[i]; one that reaches the end of s may
// go on.
func number(s string, i int) (int, error) {
	digits := func(j int) int {
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		return j
	}
	if s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return i, ErrShort
	case s[i] == '0':
		i++
	case s[i] >= '1' && s[i] <= '9':
		i = digits(i)
	default:
		return i, errSyntax
	}
	if i < len(s) && s[i] == '.' {
		if i++; i >= len(s) {
			return i, ErrShort
		}
		if s[i] < '0' || s[i] > '9' {
			return i, errSyntax
		}
		i = digits(i)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		if i++; i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) {
			return i, ErrShort
		}
		if s[i] < '0' || s[i] > '9' {
			return i, errSyntax
		}
		i = digits(i)
	}
	if i >= len(s) {
		return i, ErrShort
	}
	return i, nil
}

// literal moves past word at s[i].
func literal(s string, i int, word string) (int, error) {
	for k := range len(word) {
		if i+k >= len(s) {
			return i + k, ErrShort
		}
		if s[i+k] != word[k] {
			return i + k, errSyntax
		}
	}
	return i + len(word), nil
}
