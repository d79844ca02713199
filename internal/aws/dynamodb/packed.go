package dynamodb

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDB bills a write by the started KB of the item (the larger of the
// item before and after it), so the JSON documents that items carry (an
// incident record, a problem, an analysis) are stored compressed: a
// problem's few KB of JSON pack to a third, and an incident record, packed
// with a dictionary of what records hold (see Packer), to about 300 bytes.

// maxUnpacked bounds what an attribute unpacks to: an item is at most
// 400 KB, and no document of opsloop's comes near this once unpacked.
const maxUnpacked = 4 << 20

// A Packer packs JSON documents with DEFLATE primed with a dictionary of
// what they usually hold (field names, common values): a small document
// then packs to a half of what it would alone, since DEFLATE refers back
// into the dictionary rather than spelling each first occurrence out. The
// dictionary must never change once items are written with it: a new one
// is a new attribute (or a new Packer reading the old one).
type Packer struct {
	dict    []byte
	writers sync.Pool
}

// NewPacker returns a Packer primed with dict (nil: none).
func NewPacker(dict []byte) *Packer {
	p := &Packer{dict: dict}
	p.writers.New = func() any {
		w, _ := flate.NewWriterDict(nil, flate.DefaultCompression, dict)
		return w
	}
	return p
}

// plain packs without a dictionary: Packed and Unpack.
var plain = NewPacker(nil)

// Packed returns v as JSON compressed with DEFLATE, as a binary attribute
// that Unpack reads.
func Packed(v any) (types.AttributeValue, error) { return plain.Pack(v) }

// Unpack decodes the JSON document of item's attribute name into v: packed
// (binary, see Packed) or, as items written before packing hold it, a
// string.
func Unpack(item map[string]types.AttributeValue, name string, v any) error {
	return plain.Unpack(item, name, v)
}

// Pack returns v as JSON compressed with p's dictionary, as a binary
// attribute that p.Unpack reads.
func (p *Packer) Pack(v any) (types.AttributeValue, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	w := p.writers.Get().(*flate.Writer)
	defer p.writers.Put(w)
	w.Reset(&buf) // keeps the dictionary
	if _, err := w.Write(data); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return &types.AttributeValueMemberB{Value: buf.Bytes()}, nil
}

// Unpack decodes the JSON document of item's attribute name into v: packed
// with p's dictionary (binary) or a plain JSON string.
func (p *Packer) Unpack(item map[string]types.AttributeValue, name string, v any) error {
	var data []byte
	switch a := item[name].(type) {
	case *types.AttributeValueMemberB:
		r := flate.NewReaderDict(bytes.NewReader(a.Value), p.dict)
		defer r.Close()
		var err error
		if data, err = io.ReadAll(io.LimitReader(r, maxUnpacked+1)); err != nil {
			return fmt.Errorf("attribute %s: unpack: %w", name, err)
		}
		if len(data) > maxUnpacked {
			return fmt.Errorf("attribute %s: unpacks to more than %d bytes", name, maxUnpacked)
		}
	case *types.AttributeValueMemberS:
		data = []byte(a.Value)
	case nil:
		return fmt.Errorf("attribute %s: %w", name, errMissing)
	default:
		return fmt.Errorf("attribute %s: %T, want binary or string", name, a)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("attribute %s: %w", name, err)
	}
	return nil
}

var errMissing = errors.New("missing")
