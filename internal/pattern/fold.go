package pattern

import (
	"unicode"
	"unicode/utf8"
)

// fold maps s to a case-folded key: two strings are equal ignoring case
// (Unicode simple folding, as strings.EqualFold) exactly when their keys are
// equal. Folding is per character, so prefixes and suffixes fold alike.
func fold(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf || (c >= 'a' && c <= 'z') {
			return foldSlow(s, i)
		}
	}
	return s
}

func foldSlow(s string, from int) string {
	b := make([]byte, 0, len(s)+4)
	b = append(b, s[:from]...)
	return string(appendFold(b, s[from:]))
}

// appendFold appends the folded key of s to b.
func appendFold(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			for _, r := range s[i:] {
				b = utf8.AppendRune(b, foldRune(r))
			}
			return b
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}

// foldRune returns the smallest rune in r's case-folding orbit. For ASCII
// letters that is the upper-case letter: the other members of an orbit such as
// k, K and the Kelvin sign are all larger.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if r >= 'a' && r <= 'z' {
			return r - 'a' + 'A'
		}
		return r
	}
	lowest := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < lowest {
			lowest = f
		}
	}
	return lowest
}

// caseRune reports whether the event's rune e matches the pattern's rune p
// ignoring case as EventBridge does: each character of the pattern stands
// for its lower-case and its upper-case form, one character at a time
// (event-ruler's EqualsIgnoreCaseParser). This is narrower than Unicode
// folding: the Kelvin sign matches k but not K, a title-case letter only
// its lower- and upper-case forms. Go's simple case mappings stand in for
// Java's; they differ only where Java maps one character to several
// (ß to SS), which opsloop leaves unmatched.
func caseRune(p, e rune) bool {
	if p < utf8.RuneSelf && e < utf8.RuneSelf {
		return lowerASCII(p) == lowerASCII(e)
	}
	return e == unicode.ToLower(p) || e == unicode.ToUpper(p)
}

func lowerASCII(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// caseEqualAt reports whether s, from byte i on, starts (or, with whole,
// is entirely) the pattern operand p ignoring case; it returns the byte
// offset in s after the matched runes.
func casePrefixLen(p, s string) (int, bool) {
	i := 0
	for _, pr := range p {
		if i >= len(s) {
			return 0, false
		}
		er, n := utf8.DecodeRuneInString(s[i:])
		if !caseRune(pr, er) {
			return 0, false
		}
		i += n
	}
	return i, true
}

// caseEqual reports whether the event's s equals the pattern operand p
// ignoring case (caseRune).
func caseEqual(p, s string) bool {
	n, ok := casePrefixLen(p, s)
	return ok && n == len(s)
}

// casePrefix reports whether s begins with p ignoring case.
func casePrefix(p, s string) bool {
	_, ok := casePrefixLen(p, s)
	return ok
}

// caseSuffix reports whether s ends with p ignoring case.
func caseSuffix(p, s string) bool {
	n := utf8.RuneCountInString(p)
	i := len(s)
	for ; n > 0 && i > 0; n-- {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
	}
	return n == 0 && caseEqual(p, s[i:])
}
