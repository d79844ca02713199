package jsonscan

import (
	"math/rand/v2"
	"testing"
)

func stringStopByBytes(s string, j int) int {
	for ; j < len(s); j++ {
		if c := s[j]; c == '"' || c == '\\' || c < 0x20 {
			return j
		}
	}
	return j
}

func TestStringStop(t *testing.T) {
	alphabet := []byte{'a', 'Z', '"', '\\', 0, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xc3, 0xa9, 0xff, 0x5b, 0x5d, 0x22 ^ 0x80}
	r := rand.New(rand.NewPCG(3, 4))
	for range 20000 {
		b := make([]byte, r.IntN(40))
		for i := range b {
			if r.IntN(6) == 0 {
				b[i] = alphabet[r.IntN(len(alphabet))]
			} else {
				b[i] = byte('a' + r.IntN(26))
			}
		}
		s := string(b)
		for j := 0; j <= len(s); j++ {
			if got, want := StringStop(s, j), stringStopByBytes(s, j); got != want {
				t.Fatalf("StringStop(%q, %d) = %d, want %d", s, j, got, want)
			}
		}
	}
}

func FuzzStringStop(f *testing.F) {
	f.Add([]byte(`abcdefgh"ijk`), 0)
	f.Add([]byte("\x80\x81\x82\x83\x84\x85\x86\x87\\"), 1)
	f.Fuzz(func(t *testing.T, b []byte, j int) {
		if j < 0 || j > len(b) {
			return
		}
		if got, want := StringStop(string(b), j), stringStopByBytes(string(b), j); got != want {
			t.Fatalf("StringStop(%q, %d) = %d, want %d", b, j, got, want)
		}
	})
}
