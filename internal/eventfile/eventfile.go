// Package eventfile reads EventBridge events from files for replay and
// tests: single event files, JSON lines, JSON arrays and directories of
// them, gzip-compressed or not. What each value holds is told by its
// content (shapes.go): EventBridge events, raw CloudTrail records, CloudTrail
// log files, lookup-events output, CloudTrail Lake results; CloudTrail
// records become the events EventBridge would deliver.
package eventfile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/opsloop/opsloop/internal/event"
)

// MaxItem is the largest single item (event, line or record) read, in
// bytes. It is above event.MaxSize so that an oversized event still reaches
// event.Parse and is rejected there with its size in the reason.
const MaxItem = 4 * event.MaxSize

// Item is one event read from a file, or the reason one could not be read.
type Item struct {
	// Raw is the event, in EventBridge's form (CloudTrail records are
	// converted). Each Raw is a fresh slice the callee may keep.
	Raw []byte
	// Pos says where the item came from: "file" for a file holding one
	// event, "file:LINE" for JSON lines, "file#Records[i]" for CloudTrail
	// log files and "file#[i]" for JSON arrays of events.
	Pos string
	// Err is set, and Raw nil, when the item is not valid JSON or a
	// CloudTrail record could not be converted.
	Err error
	// Event is the event parsed, as event.Parse(Raw) returns it; nil
	// with Err or Skip. Its Raw is Raw.
	Event *event.Event
	// Skip says why the item holds no event although nothing is wrong
	// with it (SkipDigest); Raw and Err are empty.
	Skip string
}

// extensions are the names Read picks up when it walks a directory.
var extensions = []string{".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz"}

// Read reads every event in paths, in order, and calls fn with each.
// Directories are walked recursively in lexical order, reading the files
// whose names end in one of .json, .jsonl, .ndjson and their .gz forms;
// files named directly are read whatever their names. A bad item is
// delivered as an Item with Err set and reading goes on. Read returns an
// error only for a path it cannot read, when ctx is done, or when fn
// returns one, which stops the reading.
func Read(ctx context.Context, paths []string, fn func(Item) error) error {
	return ReadWith(ctx, paths, Options{}, fn)
}

// ReadWith is Read with options: paths may also be s3://bucket/prefix,
// read through opts.Bucket; files in CloudTrail's layout are read in the
// order of the times in their names, those the filter excludes by their
// path not at all, and events the filter excludes come as Items with
// Skip SkipFiltered.
func ReadWith(ctx context.Context, paths []string, opts Options, fn func(Item) error) error {
	if !opts.Filter.IsZero() {
		inner := fn
		fn = func(it Item) error {
			if it.Event != nil && !opts.Filter.KeepEvent(it.Event) {
				return inner(Item{Pos: it.Pos, Skip: SkipFiltered})
			}
			return inner(it)
		}
	}
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(p, "s3://") {
			if err := readBucket(ctx, p, opts, fn); err != nil {
				return err
			}
			continue
		}
		info, err := os.Stat(p)
		if err != nil {
			if _, lerr := os.Lstat(p); lerr == nil {
				// A dangling link is bad input, counted like any other.
				if err := fn(Item{Pos: p, Err: fmt.Errorf("cannot open: %w", err)}); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("read events: %w", err)
		}
		if !info.IsDir() && !info.Mode().IsRegular() {
			// /dev/zero or a FIFO would never end, or never start.
			return fmt.Errorf("read events: %s is not a regular file or directory (%s)", p, info.Mode().Type())
		}
		files := []string{p}
		if info.IsDir() {
			if files, err = listDir(p); err != nil {
				return fmt.Errorf("read events: %w", err)
			}
			files = slices.DeleteFunc(files, func(f string) bool { return !opts.Filter.KeepFile(f) })
			SortTrailFiles(files)
		}
		if err := readFiles(ctx, files, opts, readFile, fn); err != nil {
			return err
		}
	}
	return nil
}

// listDir lists the event files under dir, skipping hidden files and
// directories.
func listDir(dir string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !hasEventExtension(d.Name()) {
			return nil
		}
		switch {
		case d.Type().IsRegular():
			files = append(files, path)
		case d.Type()&fs.ModeSymlink != 0:
			// Links to files are read; a broken link is kept so that
			// reading it reports the path. Links to directories are not
			// followed, which rules out cycles.
			if info, err := os.Stat(path); err != nil || info.Mode().IsRegular() {
				files = append(files, path)
			}
		}
		return nil
	})
	return files, err
}

func hasEventExtension(name string) bool {
	for _, ext := range extensions {
		if strings.HasSuffix(name, ext) {
			return true
		}
	}
	return false
}

func readFile(ctx context.Context, path string, fn func(Item) error) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// A dangling link found in a directory: counted, not fatal.
			return fn(Item{Pos: path, Err: fmt.Errorf("cannot open: %w", err)})
		}
		return fmt.Errorf("read events: %w", err)
	}
	defer f.Close()
	return readStream(ctx, path, f, fn)
}

// readStream reads the events of one file's content; name gives positions
// and, for JSON lines, the format.
func readStream(ctx context.Context, name string, r io.Reader, fn func(Item) error) error {
	em := &emitter{ctx: ctx, name: name, fn: fn}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return em.fail(fmt.Errorf("open gzip: %w", err))
		}
		defer gz.Close()
		br = bufio.NewReaderSize(gz, 64<<10)
	}
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xef, 0xbb, 0xbf}) {
		_, _ = br.Discard(3)
	}
	base := strings.TrimSuffix(name, ".gz")
	if strings.HasSuffix(base, ".jsonl") || strings.HasSuffix(base, ".ndjson") {
		return em.lines(br)
	}
	first, newlines, err := skipSpace(br)
	if err == io.EOF {
		return em.fail(errors.New("no events: the file is empty"))
	}
	if err != nil {
		return em.fail(fmt.Errorf("read: %w", err))
	}
	switch {
	case first == '[':
		return em.array(br)
	case first == '{' && startsWithRecords(br):
		return em.cloudTrail(br)
	}
	return em.values(br, 1+newlines)
}

// skipSpace consumes leading whitespace, counting line ends, and returns
// the next byte without consuming it.
func skipSpace(br *bufio.Reader) (next byte, newlines int, err error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, newlines, err
		}
		if c == '\n' {
			newlines++
		}
		if !isSpace(c) {
			return c, newlines, br.UnreadByte()
		}
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// startsWithRecords reports whether the object ahead opens with a
// "Records" key, as CloudTrail log files do, looking at its first bytes
// only so a large file is not read twice.
func startsWithRecords(br *bufio.Reader) bool {
	head, _ := br.Peek(4096)
	return firstKey(head) == "Records"
}

// emitter delivers items, numbering positions and honouring ctx.
type emitter struct {
	ctx  context.Context
	name string
	fn   func(Item) error
}

func (em *emitter) emit(it Item) error {
	if err := em.ctx.Err(); err != nil {
		return err
	}
	if it.Raw != nil && it.Event == nil && it.Err == nil {
		return em.value(it)
	}
	return em.fn(it)
}

// fail delivers an error about the file as a whole.
func (em *emitter) fail(err error) error {
	return em.emit(Item{Pos: em.name, Err: err})
}

func (em *emitter) at(line int) string { return em.name + ":" + strconv.Itoa(line) }

// lines reads JSON lines: one event per non-blank line.
func (em *emitter) lines(br *bufio.Reader) error {
	for line := 1; ; line++ {
		text, tooLong, err := readLine(br)
		if err != nil && err != io.EOF {
			// A line cut short by a read error is not worth reporting
			// apart from the error itself.
			return em.emit(Item{Pos: em.at(line), Err: fmt.Errorf("read: %w", err)})
		}
		if len(text) > 0 || tooLong {
			it := Item{Pos: em.at(line)}
			switch {
			case tooLong:
				it.Err = fmt.Errorf("line longer than %d bytes", MaxItem)
			default:
				if it.Err = validJSON(text); it.Err == nil {
					it.Raw = text
				}
			}
			if err := em.emit(it); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// readLine returns the next line, in a fresh slice, without its line ending
// and surrounding whitespace, dropping the content of lines over MaxItem.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			buf = append(buf, chunk...)
			if len(buf) > MaxItem {
				tooLong, buf = true, nil
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSpace(buf), tooLong, err
	}
}

// validJSON says why text is not one valid JSON value, if it is not.
func validJSON(text []byte) error {
	if json.Valid(text) {
		return nil
	}
	var v json.RawMessage
	err := json.Unmarshal(text, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not valid JSON: %s at byte %d", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	}
	return errors.New("not valid JSON")
}

// array reads a JSON array of events.
func (em *emitter) array(br *bufio.Reader) error {
	cr := &capReader{r: br}
	cr.limitFrom(0)
	dec := json.NewDecoder(cr)
	if _, err := dec.Token(); err != nil {
		return em.fail(fmt.Errorf("not valid JSON: %w", err))
	}
	i := 0
	for ; dec.More(); i++ {
		var raw json.RawMessage
		cr.limitFrom(dec.InputOffset())
		if err := dec.Decode(&raw); err != nil {
			// The decoder cannot resynchronise after a syntax error.
			return em.emit(Item{Pos: fmt.Sprintf("%s#[%d]", em.name, i), Err: fmt.Errorf("not valid JSON, reading stops: %w", err)})
		}
		if err := em.emit(Item{Raw: raw, Pos: fmt.Sprintf("%s#[%d]", em.name, i)}); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return em.emit(Item{Pos: fmt.Sprintf("%s#[%d]", em.name, i), Err: fmt.Errorf("not valid JSON: %w", err)})
	}
	return em.trailing(dec)
}

// cloudTrail reads a CloudTrail log file, one record at a time, and
// delivers each record as the event EventBridge would have delivered.
func (em *emitter) cloudTrail(br *bufio.Reader) error {
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
		tok, err := dec.Token()
		if err != nil || tok != json.Delim('[') {
			return em.fail(errors.New(`"Records" is not an array`))
		}
		cr.limit = 0 // records limits each record itself
		rest, done, err := em.records(io.MultiReader(dec.Buffered(), cr))
		if done || err != nil {
			return err
		}
		// The rest of the file's object, after the array, read by a decoder
		// put in its place by a stand-in member before it.
		cr = &capReader{r: io.MultiReader(strings.NewReader(`{"":""`), rest)}
		cr.limitFrom(0)
		dec = json.NewDecoder(cr)
		var stand json.RawMessage
		if _, err := dec.Token(); err != nil {
			return em.fail(fmt.Errorf("not valid JSON: %w", err))
		}
		if _, err := dec.Token(); err != nil {
			return em.fail(fmt.Errorf("not valid JSON: %w", err))
		}
		if err := dec.Decode(&stand); err != nil {
			return em.fail(fmt.Errorf("not valid JSON: %w", err))
		}
	}
	if _, err := dec.Token(); err != nil {
		return em.fail(fmt.Errorf("not valid JSON: %w", err))
	}
	return em.trailing(dec)
}

// errTooLarge stops a decoder reading one value past MaxItem bytes.
var errTooLarge = fmt.Errorf("a record over %d bytes", MaxItem)

// capReader lets a json.Decoder read at most MaxItem bytes (and a read
// buffer) past the start of the value it decodes, so that one huge record
// is refused while streaming instead of buffered whole.
type capReader struct {
	r     io.Reader
	n     int64 // bytes read
	limit int64 // no reading past this offset; 0 before the first value
}

// limitFrom starts a value at the decoder's offset off.
func (c *capReader) limitFrom(off int64) { c.limit = off + MaxItem + 64<<10 }

func (c *capReader) Read(p []byte) (int, error) {
	if c.limit > 0 {
		room := c.limit - c.n
		if room <= 0 {
			return 0, errTooLarge
		}
		if int64(len(p)) > room {
			p = p[:room]
		}
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// trailing reports anything but whitespace after the file's one value.
func (em *emitter) trailing(dec *json.Decoder) error {
	var extra json.RawMessage
	err := dec.Decode(&extra)
	if err == io.EOF {
		return nil
	}
	return em.fail(errors.New("unexpected data after the top-level value"))
}
