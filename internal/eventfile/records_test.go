package eventfile

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/trailgen"
)

// The reading of CloudTrail files before records were read with jsonscan:
// encoding/json's decoder for every record. The reading now must deliver
// the same items.

func refCloudTrail(em *emitter, br *bufio.Reader) error {
	cr := &capReader{r: br}
	cr.limitFrom(0)
	dec := json.NewDecoder(cr)
	if _, err := dec.Token(); err != nil {
		return em.fail(fmt.Errorf("not valid JSON: %w", err))
	}
	for dec.More() {
		cr.limitFrom(dec.InputOffset())
		key, err := dec.Token()
		if err != nil {
			return em.fail(fmt.Errorf("not valid JSON: %w", err))
		}
		if key != "Records" {
			var skip json.RawMessage
			cr.limitFrom(dec.InputOffset())
			if err := dec.Decode(&skip); err != nil {
				return em.fail(fmt.Errorf("not valid JSON: %w", err))
			}
			continue
		}
		if done, err := refRecords(em, dec, cr); done || err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return em.fail(fmt.Errorf("not valid JSON: %w", err))
	}
	return em.trailing(dec)
}

// records streams the Records array; done reports that the file cannot be
// read further, its reason already delivered.
func refRecords(em *emitter, dec *json.Decoder, cr *capReader) (done bool, err error) {
	pos := func(i int) string { return fmt.Sprintf("%s#Records[%d]", em.name, i) }
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('[') {
		return true, em.fail(errors.New(`"Records" is not an array`))
	}
	i := 0
	for ; dec.More(); i++ {
		var raw json.RawMessage
		cr.limitFrom(dec.InputOffset())
		if err := dec.Decode(&raw); err != nil {
			return true, em.emit(Item{Pos: pos(i), Err: fmt.Errorf("not valid JSON, reading stops: %w", err)})
		}
		it := Item{Pos: pos(i)}
		// The decoder has checked the record as JSON.
		if it.Event, it.Err = event.ParseValidCloudTrailRecord(raw); it.Event != nil {
			it.Raw = it.Event.Raw
		}
		if err := em.emit(it); err != nil {
			return true, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return true, em.emit(Item{Pos: pos(i), Err: fmt.Errorf("not valid JSON: %w", err)})
	}
	return false, nil
}

// readCloudTrail delivers the items of a CloudTrail file read by read.
func readCloudTrail(content []byte, read func(*emitter, *bufio.Reader) error) ([]string, error) {
	var got []string
	em := &emitter{ctx: context.Background(), name: "ct.json", fn: func(it Item) error {
		if it.Err != nil {
			got = append(got, it.Pos+" error: "+it.Err.Error())
		} else {
			got = append(got, it.Pos+" "+string(it.Raw))
		}
		return nil
	}}
	err := read(em, bufio.NewReaderSize(bytes.NewReader(content), 16))
	return got, err
}

func checkRecords(t *testing.T, content []byte) {
	t.Helper()
	got, err := readCloudTrail(content, (*emitter).cloudTrail)
	want, werr := readCloudTrail(content, refCloudTrail)
	if (err == nil) != (werr == nil) || !slices.Equal(got, want) {
		t.Fatalf("reading %.200q:\n got %q (%v)\nwant %q (%v)", content, got, err, want, werr)
	}
}

func TestRecordsAsEncodingJSONReadThem(t *testing.T) {
	g := trailgen.New(9, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	var recs []string
	for range 300 {
		b, err := json.Marshal(g.Record())
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, string(b))
	}
	checkRecords(t, []byte(`{"Records":[`+strings.Join(recs, ",")+`]}`))
	checkRecords(t, []byte("{ \"Records\" : [\n"+strings.Join(recs, " ,\n ")+"\n] , \"x\": {\"y\": [1]} }\n"))
	r := recs[0]
	for _, c := range []string{
		`{"Records":[]}`, `{"Records":[ ]}`, `{"Records":[],"digest":{"x":1}}`, `{"a":1,"Records":[` + r + `]}`,
		`{"Records":[` + r + `]`, `{"Records":[` + r, `{"Records":[` + r + `,`, `{"Records":[` + r + ` ` + r + `]}`,
		`{"Records":[` + r + `,]}`, `{"Records":[,` + r + `]}`, `{"Records":[{]}`, `{"Records":[1,"x",null,[` + r + `]]}`,
		`{"Records":[` + r + `]}x`, `{"Records":[` + r + `]]`, `{"Records":[` + r + `],}`, `{"Records":{}}`,
		`{"Records":[{"eventTime":"2026-01-01T00:00:00Z"}, {]}`, `{"Records":[` + r[:len(r)/2], `{"Records":[-]}`,
		`{"Records":[` + r + `],"Records":[` + r + `]}`, `{"Records":[12`, `{"Records":[12]}`,
		`{"Records":[` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `]}`,
	} {
		checkRecords(t, []byte(c))
	}
}

// TestRecordTooLarge: a record past MaxItem stops reading, as before.
func TestRecordTooLarge(t *testing.T) {
	big := `{"eventTime":"2026-01-01T00:00:00Z","x":"` + strings.Repeat("a", MaxItem+200<<10) + `"}`
	got, err := readCloudTrail([]byte(`{"Records":[`+big+`]}`), (*emitter).cloudTrail)
	if err != nil || len(got) != 1 || !strings.Contains(got[0], errTooLarge.Error()) {
		t.Fatalf("got %.300q, %v; want one error naming the limit", got, err)
	}
}

func FuzzRecords(f *testing.F) {
	f.Add([]byte(`{"eventTime":"2026-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","awsRegion":"us-east-1","eventID":"e","recipientAccountId":"1"}, {"a":[1,2]}`), []byte("]}"))
	f.Add([]byte(`{]`), []byte("]}"))
	f.Add([]byte(`1`), []byte(`], "x": [1, {"Records": 2}] }`))
	f.Fuzz(func(t *testing.T, body, tail []byte) {
		checkRecords(t, append(append([]byte(`{"Records":[`), body...), tail...))
	})
}
