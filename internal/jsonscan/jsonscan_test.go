package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
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

// checkValue holds Value to json.Decoder on the same text: the same end
// of the first value, refusing the same texts, and ErrShort exactly where
// the decoder runs out of input.
func checkValue(t *testing.T, b []byte) {
	t.Helper()
	end, err := Value(string(b), 0)
	dec := json.NewDecoder(bytes.NewReader(b))
	var raw json.RawMessage
	derr := dec.Decode(&raw)
	trimmed := bytes.TrimSpace(b)
	topNumber := len(trimmed) > 0 && (trimmed[0] == '-' || trimmed[0] >= '0' && trimmed[0] <= '9')
	switch {
	case derr == nil && err == nil:
		if end != int(dec.InputOffset()) {
			t.Fatalf("Value(%q) ends at %d, the decoder at %d", b, end, dec.InputOffset())
		}
	case derr == nil && errors.Is(err, ErrShort) && topNumber:
		// A number at the end may go on, for Value; the decoder knows
		// its input has ended.
	case derr == nil:
		t.Fatalf("Value(%q) = %d, %v; the decoder accepts %s", b, end, err, raw)
	case err == nil:
		t.Fatalf("Value(%q) accepts up to %d; the decoder says %v", b, end, derr)
	case errors.Is(err, ErrShort) != (errors.Is(derr, io.ErrUnexpectedEOF) || errors.Is(derr, io.EOF)):
		t.Fatalf("Value(%q) = %v, the decoder %v", b, err, derr)
	}
}

func TestValue(t *testing.T) {
	for _, s := range []string{
		`{}`, `[]`, ` {"a":[1,-2.5e+3,true,false,null,"x\"\\\/\b\f\n\r\t\u00e9"],"b":{}} `, `{"a":1}{`, `[1,2]x`,
		`{"a":}`, `{"a"1}`, `{,}`, `[1,]`, `[01]`, `[1.]`, `[1e]`, `[-]`, `["\x"]`, `["\u12g4"]`, "[\"\x01\"]", `[tru]`, `[nul`,
		`{"a":[1,2`, `{"a`, `"abc`, `"ab\`, `"\u12`, `12`, `-`, `[1e+`, `{"a":1,`, `{"a":1 `, `[[[[]]]]`, "[\"\xff\xfe\"]",
	} {
		checkValue(t, []byte(s))
	}
	deep := strings.Repeat("[", MaxNesting) + strings.Repeat("]", MaxNesting)
	checkValue(t, []byte(deep))
	checkValue(t, []byte("["+deep+"]"))
}

func FuzzValue(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":null}],"c":"d\u0041"}`, `[1,2`, `{"a":tru}`, `[-0.5e-7]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkValue(t, b)
	})
}
