package eventfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// values reads JSON values written one after another: a file holding one
// event, pretty-printed or not, or JSON lines in a file named .json. A file
// with one value gives the position "file"; several give "file:LINE",
// counting from line, the line the reader is at.
func (em *emitter) values(br *bufio.Reader, line int) error {
	s := &splitter{br: br, line: line}
	var pending Item
	pendingLine, count := 0, 0
	for {
		it, line, ok := s.next()
		if !ok {
			break
		}
		count++
		if count > 1 {
			pending.Pos = em.at(pendingLine)
			if err := em.emit(pending); err != nil {
				return err
			}
		}
		pending, pendingLine = it, line
	}
	switch count {
	case 0:
		return nil
	case 1:
		pending.Pos = em.name
	default:
		pending.Pos = em.at(pendingLine)
	}
	return em.emit(pending)
}

// splitter cuts a byte stream into top-level JSON values by tracking
// nesting and strings, without decoding, so one malformed value does not
// stop the values after it.
type splitter struct {
	br   *bufio.Reader
	line int // the line being read, from 1
	done bool
	// count and multiLine tell whether the stream looks like JSON lines:
	// if every value so far fitted on one line, a line that ends inside a
	// value is a broken line, not the start of a pretty-printed value.
	count     int
	multiLine bool
}

// next returns the next value (or the reason it is bad) and the line it
// starts on; ok is false at the end of the stream.
func (s *splitter) next() (it Item, line int, ok bool) {
	for !s.done {
		c, err := s.br.ReadByte()
		if err == io.EOF {
			s.done = true
			break
		}
		if err != nil {
			s.done = true
			return Item{Err: fmt.Errorf("read: %w", err)}, s.line, true
		}
		switch {
		case c == '\n':
			s.line++
		case isSpace(c):
		case c == '{' || c == '[':
			it, line = s.value(c)
			return it, line, true
		default:
			line = s.line
			return Item{Err: fmt.Errorf("not a JSON object: %s", s.restOfLine(c))}, line, true
		}
	}
	return Item{}, 0, false
}

// value reads the rest of a value that opened with open.
func (s *splitter) value(open byte) (Item, int) {
	start := s.line
	buf := []byte{open}
	depth, inString, escaped, tooBig := 1, false, false, false
	for depth > 0 {
		c, err := s.br.ReadByte()
		if err != nil {
			s.done = true
			if err == io.EOF {
				return Item{Err: errors.New("truncated: the input ends inside this value")}, start
			}
			return Item{Err: fmt.Errorf("read: %w", err)}, start
		}
		if c == '\n' {
			s.line++
			if s.count > 0 && !s.multiLine {
				s.count++
				return Item{Err: errors.New("not valid JSON: the line ends inside a value")}, start
			}
		}
		if !tooBig {
			buf = append(buf, c)
			if len(buf) > MaxItem {
				tooBig, buf = true, nil
			}
		}
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
	}
	s.count++
	if s.line != start {
		s.multiLine = true
	}
	if tooBig {
		return Item{Err: fmt.Errorf("value larger than %d bytes", MaxItem)}, start
	}
	if err := validJSON(buf); err != nil {
		return Item{Err: err}, start
	}
	return Item{Raw: buf}, start
}

// restOfLine consumes the line that began with c and returns its start,
// quoted, for an error message.
func (s *splitter) restOfLine(c byte) string {
	const show = 40
	text := []byte{c}
	for {
		b, err := s.br.ReadByte()
		if err != nil {
			s.done = true
			break
		}
		if b == '\n' {
			s.line++
			break
		}
		if len(text) < show {
			text = append(text, b)
		}
	}
	return fmt.Sprintf("%q", text)
}
