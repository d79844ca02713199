package eventfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unsafe"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/jsonscan"
)

// records delivers the elements of a CloudTrail file's Records array, read
// from r just after its '['. Each record is found and checked as JSON in
// one pass (jsonscan), a fraction of what encoding/json's decoder costs,
// and converted without encoding/json. At anything but a record, a comma
// or the array's end, encoding/json's decoder takes over the rest of the
// array, so that a file that is not JSON is reported in its words and read
// as far as before. rest is what follows the array; done reports that the
// file cannot be read further, its reason already delivered.
func (em *emitter) records(r io.Reader) (rest io.Reader, done bool, err error) {
	rs := &recordStream{r: r}
	for i := 0; ; i++ {
		c, err := rs.next()
		if err != nil {
			return em.decodeRecords(rs, i)
		}
		skip := 0
		switch {
		case c == ']':
			rs.off++
			return rs.rest(), false, nil
		case i > 0 && c != ',':
			return em.decodeRecords(rs, i)
		case i > 0:
			skip = 1
		}
		raw, err := rs.value(skip)
		if errors.Is(err, errTooLarge) {
			return nil, true, em.emit(Item{Pos: em.recordPos(i), Err: fmt.Errorf("not valid JSON, reading stops: %w", err)})
		}
		if err != nil {
			return em.decodeRecords(rs, i)
		}
		if err := em.record(i, raw); err != nil {
			return nil, true, err
		}
	}
}

func (em *emitter) recordPos(i int) string { return fmt.Sprintf("%s#Records[%d]", em.name, i) }

// record converts and delivers record i.
func (em *emitter) record(i int, raw []byte) error {
	it := Item{Pos: em.recordPos(i)}
	if it.Event, it.Err = event.ParseValidCloudTrailRecord(raw); it.Event != nil {
		it.Raw = it.Event.Raw
	}
	return em.emit(it)
}

// decodeRecords reads the rest of the Records array, from record i on,
// with encoding/json's decoder, as the whole array once was: the decoder
// is put where the array stands by a '[' and, after a record, a stand-in
// record.
func (em *emitter) decodeRecords(rs *recordStream, i int) (rest io.Reader, done bool, err error) {
	prefix := "["
	if i > 0 {
		prefix = `[""`
	}
	text := rs.rest()
	cr := &capReader{r: io.MultiReader(strings.NewReader(prefix), text)}
	cr.limitFrom(0)
	dec := json.NewDecoder(cr)
	_, err = dec.Token()
	if i > 0 && err == nil {
		var stand json.RawMessage
		err = dec.Decode(&stand) // fails where the text after it is not JSON
	}
	if err != nil {
		return nil, true, em.emit(Item{Pos: em.recordPos(i), Err: fmt.Errorf("not valid JSON, reading stops: %w", err)})
	}
	for ; dec.More(); i++ {
		var raw json.RawMessage
		cr.limitFrom(dec.InputOffset())
		if err := dec.Decode(&raw); err != nil {
			return nil, true, em.emit(Item{Pos: em.recordPos(i), Err: fmt.Errorf("not valid JSON, reading stops: %w", err)})
		}
		if err := em.record(i, raw); err != nil {
			return nil, true, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, true, em.emit(Item{Pos: em.recordPos(i), Err: fmt.Errorf("not valid JSON: %w", err)})
	}
	return io.MultiReader(dec.Buffered(), text), false, nil
}

// recordStream buffers a stream of JSON text for reading one value at a
// time.
type recordStream struct {
	r   io.Reader
	buf []byte
	off int // the unread text is buf[off:]
	eof bool
}

// fill reads more text, keeping the unread part.
func (rs *recordStream) fill() error {
	if rs.eof {
		return io.ErrUnexpectedEOF
	}
	n := copy(rs.buf, rs.buf[rs.off:])
	rs.buf, rs.off = rs.buf[:n], 0
	if cap(rs.buf)-n < 32<<10 {
		rs.buf = append(rs.buf, make([]byte, max(64<<10, n))...)[:n]
	}
	m, err := rs.r.Read(rs.buf[n:cap(rs.buf)])
	rs.buf = rs.buf[:n+m]
	if err == io.EOF {
		rs.eof = true
	} else if err != nil {
		return err
	}
	return nil
}

// next returns the next byte that is not whitespace, without consuming it.
func (rs *recordStream) next() (byte, error) {
	for {
		for ; rs.off < len(rs.buf); rs.off++ {
			switch c := rs.buf[rs.off]; c {
			case ' ', '\t', '\n', '\r':
			default:
				return c, nil
			}
		}
		if err := rs.fill(); err != nil {
			return 0, err
		}
	}
}

// value returns the JSON value skip bytes past the reading position and
// moves past it; the bytes are valid until the next call. An error leaves
// the position where it was.
func (rs *recordStream) value(skip int) ([]byte, error) {
	for {
		text := rs.buf[rs.off+skip:]
		end, err := jsonscan.Value(unsafe.String(unsafe.SliceData(text), len(text)), 0)
		switch {
		case err == nil && end > MaxItem+64<<10:
			return nil, errTooLarge
		case err == nil:
			rs.off += skip + end
			return text[:end:end], nil
		case errors.Is(err, jsonscan.ErrShort) && !rs.eof && len(text) > MaxItem+64<<10:
			return nil, errTooLarge
		case errors.Is(err, jsonscan.ErrShort) && !rs.eof:
			if ferr := rs.fill(); ferr != nil && !errors.Is(ferr, io.ErrUnexpectedEOF) {
				return nil, ferr
			}
			continue
		}
		return nil, err
	}
}

// rest is the text not read yet.
func (rs *recordStream) rest() io.Reader {
	return io.MultiReader(bytes.NewReader(rs.buf[rs.off:]), rs.r)
}
