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
