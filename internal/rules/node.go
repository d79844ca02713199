package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// node is a JSON value with the byte range it came from, so that validation can
// name the line of every field and hand the exact source of a pattern to the
// pattern compiler.
type node struct {
	kind    kind
	start   int // offset of the value's first byte
	end     int // offset just past the value
	members []member
	elems   []*node
	str     string
	num     json.Number
	boolean bool
}

type member struct {
	key      string
	keyStart int
	value    *node
}

type kind int

const (
	kindNull kind = iota
	kindBool
	kindNumber
	kindString
	kindArray
	kindObject
)

func (k kind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// maxDepth bounds nesting so a hostile file cannot exhaust the stack.
const maxDepth = 64

// parseTree decodes data into a tree of nodes. Duplicate keys are kept in
// order; the validator reports them.
func parseTree(data []byte) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	p := &treeParser{dec: dec, data: data}
	root, err := p.value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &syntaxError{offset: int(dec.InputOffset()), msg: "unexpected data after the top-level value"}
	}
	return root, nil
}

type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string { return e.msg }

type treeParser struct {
	dec  *json.Decoder
	data []byte
}

// skip returns the offset of the next significant byte at or after off,
// passing over whitespace and the separators the decoder consumes silently.
func (p *treeParser) skip(off int) int {
	for off < len(p.data) {
		switch p.data[off] {
		case ' ', '\t', '\n', '\r', ',', ':':
			off++
		default:
			return off
		}
	}
	return off
}

func (p *treeParser) token() (json.Token, int, error) {
	start := p.skip(int(p.dec.InputOffset()))
	tok, err := p.dec.Token()
	if err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, int(se.Offset), &syntaxError{offset: int(se.Offset), msg: se.Error()}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, len(p.data), &syntaxError{offset: len(p.data), msg: "unexpected end of JSON"}
		}
		return nil, start, &syntaxError{offset: start, msg: err.Error()}
	}
	return tok, start, nil
}

func (p *treeParser) value(depth int) (*node, error) {
	if depth > maxDepth {
		off := p.skip(int(p.dec.InputOffset()))
		return nil, &syntaxError{offset: off, msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	tok, start, err := p.token()
	if err != nil {
		return nil, err
	}
	n := &node{start: start}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n.kind = kindObject
			for p.dec.More() {
				ktok, kstart, err := p.token()
				if err != nil {
					return nil, err
				}
				key, _ := ktok.(string)
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.members = append(n.members, member{key: key, keyStart: kstart, value: v})
			}
		case '[':
			n.kind = kindArray
			for p.dec.More() {
				v, err := p.value(depth + 1)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
		default:
			return nil, &syntaxError{offset: start, msg: fmt.Sprintf("unexpected %q", t)}
		}
		if _, _, err := p.token(); err != nil { // the closing delimiter
			return nil, err
		}
	case string:
		n.kind, n.str = kindString, t
	case json.Number:
		n.kind, n.num = kindNumber, t
	case bool:
		n.kind, n.boolean = kindBool, t
	case nil:
		n.kind = kindNull
	}
	n.end = int(p.dec.InputOffset())
	return n, nil
}

// get returns the member value named key, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kindObject {
		return nil
	}
	var found *node
	for _, m := range n.members {
		if m.key == key {
			found = m.value // last wins, as in encoding/json and EventBridge
		}
	}
	return found
}

// lineCol converts a byte offset to a 1-based line and column.
func lineCol(data []byte, off int) (int, int) {
	if off > len(data) {
		off = len(data)
	}
	line := 1 + bytes.Count(data[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}
