package eventfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/event"
)

// Skipped reasons: CloudTrail data that holds no event.
const (
	SkipDigest = "CloudTrail digest file"
)

// value delivers one JSON value read from a file, told by its content,
// not by the file's name: an EventBridge event; a raw CloudTrail record
// (JSON lines or arrays of them, as SIEMs, Athena and security datasets
// hold them); a CloudTrail log file's {"Records": [...]}; the output of
// `aws cloudtrail lookup-events` ({"Events": [{"CloudTrailEvent": "..."}]});
// the output of CloudTrail Lake's get-query-results ({"QueryResultRows":
// ...}); or a CloudTrail digest file, skipped and counted.
func (em *emitter) value(it Item) error {
	if ev, err := event.Parse(it.Raw); err == nil {
		it.Event = ev
		return em.fn(it)
	}
	// Anything else is delivered as it is, for the reader's event.Parse to
	// say what is wrong with it.
	var top map[string]json.RawMessage
	if json.Unmarshal(it.Raw, &top) != nil {
		return em.fn(it)
	}
	has := func(k string) bool { _, ok := top[k]; return ok }
	switch {
	case has("detail-type") || has("detail"):
		return em.fn(it) // an EventBridge event, but a bad one
	case has("eventVersion") || has("eventType") || has("eventSource") && has("eventName"):
		return em.fn(record(it.Pos, it.Raw))
	case firstKey(it.Raw) == "Records": // as CloudTrail writes its log files
		return em.list(it.Pos, "Records", top["Records"], func(raw json.RawMessage) ([]byte, error) { return raw, nil })
	case has("Events"):
		return em.list(it.Pos, "Events", top["Events"], lookupEvent)
	case has("QueryResultRows"):
		return em.list(it.Pos, "QueryResultRows", top["QueryResultRows"], lakeRow)
	case has("digestStartTime") || has("digestEndTime") || has("logFiles") && has("digestS3Object"):
		return em.fn(Item{Pos: it.Pos, Skip: SkipDigest})
	}
	return em.fn(it)
}

// record converts one raw CloudTrail record into the event EventBridge
// would have delivered.
func record(pos string, raw []byte) Item {
	it := Item{Pos: pos}
	if it.Event, it.Err = event.ParseCloudTrailRecord(raw); it.Event != nil {
		it.Raw = it.Event.Raw
	}
	return it
}

// list delivers each element of the array raw under key, made a CloudTrail
// record by toRecord.
func (em *emitter) list(pos, key string, raw json.RawMessage, toRecord func(json.RawMessage) ([]byte, error)) error {
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return em.fn(Item{Pos: pos, Err: fmt.Errorf("%q is not an array", key)})
	}
	for i, e := range elems {
		p := fmt.Sprintf("%s#%s[%d]", pos, key, i)
		rec, err := toRecord(e)
		it := Item{Pos: p, Err: err}
		if err == nil {
			it = record(p, rec)
		}
		if err := em.emit(it); err != nil {
			return err
		}
	}
	return nil
}

// lookupEvent is the record of one element of lookup-events' Events: its
// CloudTrailEvent, a JSON string.
func lookupEvent(raw json.RawMessage) ([]byte, error) {
	var e struct {
		CloudTrailEvent *string `json:"CloudTrailEvent"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || e.CloudTrailEvent == nil {
		return nil, errors.New(`lookup-events: field "CloudTrailEvent": missing`)
	}
	return []byte(*e.CloudTrailEvent), nil
}

// lakeBools are the record's boolean fields, which Lake gives as strings.
var lakeBools = map[string]bool{"readOnly": true, "managementEvent": true}

// lakeTimes are the forms CloudTrail Lake gives eventTime in.
var lakeTimes = []string{time.RFC3339Nano, "2006-01-02 15:04:05.000", "2006-01-02 15:04:05"}

// lakeRow is the record of one CloudTrail Lake result row, a list of
// one-column objects. A column holding a whole record (as "eventJson" does)
// is the record. Otherwise the columns are the record's fields, named as
// the event data store names them (a dotted name nests); values that are
// JSON objects or arrays are taken as JSON, eventTime in Lake's form is
// made RFC 3339, readOnly and managementEvent booleans. Lake gives nested fields it did not select as JSON in a
// form of its own ({key=value}), kept as strings: patterns on them do not
// match, which is why selecting eventJson is the way to replay Lake data.
func lakeRow(raw json.RawMessage) ([]byte, error) {
	var cells []map[string]*string
	if err := json.Unmarshal(raw, &cells); err != nil {
		return nil, errors.New("CloudTrail Lake row: want an array of columns")
	}
	rec := map[string]any{}
	for _, cell := range cells {
		for name, v := range cell {
			if v == nil {
				continue
			}
			val := any(*v)
			if s := strings.TrimSpace(*v); (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) && json.Valid([]byte(s)) {
				var whole struct {
					EventVersion string `json:"eventVersion"`
				}
				if json.Unmarshal([]byte(s), &whole) == nil && whole.EventVersion != "" {
					return []byte(s), nil // the whole record
				}
				val = json.RawMessage(s)
			}
			switch {
			case name == "eventTime":
				val = lakeTime(*v)
			case lakeBools[name] && (*v == "true" || *v == "false"):
				val = *v == "true"
			}
			setPath(rec, strings.Split(name, "."), val)
		}
	}
	if len(rec) == 0 {
		return nil, errors.New("CloudTrail Lake row: no columns")
	}
	return json.Marshal(rec)
}

func lakeTime(v string) string {
	for _, layout := range lakeTimes {
		if t, err := time.Parse(layout, strings.TrimSpace(v)); err == nil {
			return t.UTC().Format(time.RFC3339)
		}
	}
	return v // the record's conversion names it
}

func setPath(m map[string]any, path []string, v any) {
	for _, p := range path[:len(path)-1] {
		next, ok := m[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[p] = next
		}
		m = next
	}
	m[path[len(path)-1]] = v
}

// firstKey is the first key of the JSON object raw.
func firstKey(raw []byte) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	key, _ := dec.Token()
	s, _ := key.(string)
	return s
}
