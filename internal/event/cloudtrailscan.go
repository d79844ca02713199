package event

import (
	"bytes"
	"unicode/utf8"
	"unsafe"

	"github.com/opsloop/opsloop/internal/jsonscan"
)

// cloudTrailFields are what converting a CloudTrail record reads of it.
type cloudTrailFields struct {
	EventID      *string `json:"eventID"`
	EventSource  *string `json:"eventSource"`
	EventType    *string `json:"eventType"`
	EventTime    *string `json:"eventTime"`
	AWSRegion    *string `json:"awsRegion"`
	Recipient    *string `json:"recipientAccountId"`
	UserIdentity *struct {
		AccountID string `json:"accountId"`
	} `json:"userIdentity"`
}

// recordScan reads a record known to be valid JSON (as a json.Decoder hands
// it out) in one pass, without encoding/json: the fields conversion needs,
// whether it is compact already, and how deep it nests. It declines, for
// encoding/json to decide, whatever it would not read the same: escapes in
// the keys or values it reads, keys equal to those but for case (which
// encoding/json matches too), repeated ones, values of other types. On
// input that is not valid JSON it ends without panicking, its results
// meaningless.
type recordScan struct {
	data    []byte
	compact bool // no whitespace outside strings
	depth   int  // deepest nesting, the record's own object 1
}

// scanCloudTrailRecord scans data, which starts with '{'; ok false
// declines.
func scanCloudTrailRecord(data []byte) (f cloudTrailFields, compact bool, depth int, ok bool) {
	s := &recordScan{data: data, compact: true}
	var identity []byte
	seen := 0 // bit per field of cloudTrailNames
	end, ok := s.members(0, 1, func(key []byte, value []byte) bool {
		field := -1
		for n, name := range cloudTrailNames {
			if string(key) == name {
				field = n
			} else if bytes.EqualFold(key, []byte(name)) {
				return false
			}
		}
		if field < 0 {
			return true
		}
		if seen&(1<<field) != 0 {
			return false
		}
		seen |= 1 << field
		if field == userIdentityField {
			if string(value) == "null" {
				return true
			}
			identity = value
			return len(value) > 0 && value[0] == '{'
		}
		v, ok := plainString(value)
		if ok && v != nil {
			*f.field(field) = v
		}
		return ok
	})
	if !ok || end != len(data) {
		return f, false, 0, false
	}
	if identity != nil {
		f.UserIdentity = &struct {
			AccountID string `json:"accountId"`
		}{}
		inner := &recordScan{data: identity}
		seenAccount := false
		if _, ok := inner.members(0, 1, func(key []byte, value []byte) bool {
			if string(key) != "accountId" {
				return !bytes.EqualFold(key, []byte("accountId"))
			}
			if seenAccount {
				return false
			}
			seenAccount = true
			v, ok := plainString(value)
			if ok && v != nil {
				f.UserIdentity.AccountID = *v
			}
			return ok
		}); !ok {
			return f, false, 0, false
		}
	}
	return f, s.compact, s.depth, true
}

// cloudTrailNames are the members of cloudTrailFields, in field order.
var cloudTrailNames = []string{"eventID", "eventSource", "eventType", "eventTime", "awsRegion", "recipientAccountId", "userIdentity"}

const userIdentityField = 6

func (f *cloudTrailFields) field(n int) **string {
	return []**string{&f.EventID, &f.EventSource, &f.EventType, &f.EventTime, &f.AWSRegion, &f.Recipient}[n]
}

// plainString is the string value holds when it is one without escapes,
// in valid UTF-8 (encoding/json replaces what is not); nil for null; ok
// false for anything else.
func plainString(value []byte) (*string, bool) {
	if string(value) == "null" {
		return nil, true
	}
	if len(value) < 2 || value[0] != '"' || bytes.IndexByte(value, '\\') >= 0 || !utf8.Valid(value) {
		return nil, false
	}
	v := string(value[1 : len(value)-1])
	return &v, true
}

func (s *recordScan) at(i int) byte {
	if i < len(s.data) {
		return s.data[i]
	}
	return 0
}

// space moves past whitespace at i, noting it.
func (s *recordScan) space(i int) int {
	for i < len(s.data) {
		switch s.data[i] {
		case ' ', '\t', '\n', '\r':
			s.compact = false
			i++
		default:
			return i
		}
	}
	return i
}

// members walks the object at i, nested depth levels deep, calling fn with
// each member's key (as written) and value; it returns the index after
// the object, and false when fn declined or the object is not one.
func (s *recordScan) members(i, depth int, fn func(key, value []byte) bool) (int, bool) {
	if s.at(i) != '{' {
		return i, false
	}
	s.depth = max(s.depth, depth)
	i = s.space(i + 1)
	if s.at(i) == '}' {
		return i + 1, true
	}
	for {
		if s.at(i) != '"' {
			return i, false
		}
		keyEnd := s.str(i)
		key := s.data[i+1 : max(i+1, keyEnd-1)]
		if bytes.IndexByte(key, '\\') >= 0 {
			return i, false
		}
		i = s.space(keyEnd)
		if s.at(i) != ':' {
			return i, false
		}
		start := s.space(i + 1)
		end, ok := s.skip(start, depth)
		if !ok || !fn(key, s.data[start:end]) {
			return end, false
		}
		switch i = s.space(end); s.at(i) {
		case ',':
			i = s.space(i + 1)
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// skip returns the index after the value at i, inside an object or array
// depth levels deep. The text being valid JSON, an array or object ends at
// the bracket that balances its own.
func (s *recordScan) skip(i, depth int) (int, bool) {
	switch c := s.at(i); c {
	case '"':
		return s.str(i), true
	case '{', '[':
		level := 0
		for i < len(s.data) {
			switch s.data[i] {
			case '"':
				i = s.str(i)
				continue
			case '{', '[':
				if level++; depth+level > MaxDepth+1 { // deeper than any event may be
					return i, false
				}
				s.depth = max(s.depth, depth+level)
			case '}', ']':
				if level--; level == 0 {
					return i + 1, true
				}
			case ' ', '\t', '\n', '\r':
				s.compact = false
			}
			i++
		}
		return i, false
	case 0:
		return i, false
	default: // a number, true, false or null
		j := i
		for j < len(s.data) {
			switch s.data[j] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return j, j > i
			}
			j++
		}
		return j, j > i
	}
}

// str returns the index after the string at i.
func (s *recordScan) str(i int) int {
	text := unsafe.String(unsafe.SliceData(s.data), len(s.data))
	for j := jsonscan.StringStop(text, i+1); j < len(text); j = jsonscan.StringStop(text, j) {
		switch text[j] {
		case '"':
			return j + 1
		case '\\':
			j += 2
		default: // a control character: not valid JSON
			j++
		}
	}
	return len(text)
}
