// Package jsonscan holds the scanning steps opsloop's JSON readers share,
// made to cost little on the long runs of plain text JSON mostly is.
package jsonscan

import (
	"encoding/binary"
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
