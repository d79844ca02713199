package awstest

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
)

// EventBridge's documented PutEvents limits, which the Events endpoint
// enforces.
const (
	MaxPutEventsEntries = 10
	// MaxPutEventsSize bounds the summed entry sizes of one request, computed
	// as EventBridge documents it (see EntrySize).
	MaxPutEventsSize = 1 << 20
	MaxEventSource   = 256
	MaxDetailType    = 128
	MaxEventBusName  = 1600
	MaxTraceHeader   = 500
)

// Event is an event the Events endpoint accepted.
type Event struct {
	ID          string
	Bus         string
	Source      string
	DetailType  string
	Detail      json.RawMessage
	Resources   []string
	Time        time.Time
	TraceHeader string
	// Account and Region are the event's, when it came from another
	// account (Forward); empty means the endpoint's own.
	Account, Region string
}

// JSON renders the event as EventBridge delivers it to targets.
func (e Event) JSON() []byte {
	resources := e.Resources
	if resources == nil {
		resources = []string{}
	}
	account, region := e.Account, e.Region
	if account == "" {
		account = Account
	}
	if region == "" {
		region = Region
	}
	data, _ := json.Marshal(map[string]any{
		"version": "0", "id": e.ID, "detail-type": e.DetailType, "source": e.Source,
		"account": account, "time": e.Time.UTC().Format(time.RFC3339), "region": region,
		"resources": resources, "detail": e.Detail,
	})
	return data
}

// EntrySize is the size EventBridge counts for one PutEvents entry: 14
// bytes for a time, the UTF-8 bytes of Source, DetailType, Detail and each
// resource.
func EntrySize(hasTime bool, source, detailType, detail string, resources []string) int {
	n := len(source) + len(detailType) + len(detail)
	if hasTime {
		n += 14
	}
	for _, r := range resources {
		n += len(r)
	}
	return n
}

// Events is a local EventBridge endpoint implementing PutEvents, with
// per-entry failures on demand besides request faults.
type Events struct {
	// Faults decides which requests fail before they are handled.
	Faults *Faults

	ep *endpoint

	mu        sync.Mutex
	events    []Event
	nextID    int64
	entryPlan []string // scripted per-entry error codes; "" accepts the entry
	entryRate float64
	entryCode string
	rng       *rand.Rand
	subs      []func(Event)
	// principals by access key, and the buses' resource policies.
	principals map[string]Principal
	policies   map[string][]PolicyStatement
}

// NewEvents starts an EventBridge endpoint; Close stops it.
func NewEvents() *Events {
	e := &Events{Faults: &Faults{}}
	e.ep = newEndpoint("AWSEvents.", "events", e.Faults)
	e.ep.signedOps["PutEvents"] = e.putEvents
	return e
}

// URL is the endpoint's base URL, for BaseEndpoint.
func (e *Events) URL() string { return e.ep.server.URL }

// Close stops the endpoint.
func (e *Events) Close() { e.ep.server.Close() }

// Calls reports how many requests for op reached the endpoint.
func (e *Events) Calls(op string) int { return e.ep.callCount(op) }

// Client returns an EventBridge client of the SDK pointed at the endpoint.
func (e *Events) Client(optFns ...func(*eventbridge.Options)) *eventbridge.Client {
	return eventbridge.New(eventbridge.Options{Region: Region, BaseEndpoint: aws.String(e.URL()), Credentials: Credentials()}, optFns...)
}

// Events returns the accepted events, in order.
func (e *Events) Events() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.events...)
}

// Subscribe calls fn with each event accepted from now on, after the
// response is decided; fn must not call back into the endpoint.
func (e *Events) Subscribe(fn func(Event)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.subs = append(e.subs, fn)
}

// ScriptEntries makes the next entries (across requests) fail with the
// given per-entry error codes, one each, in order; "" accepts an entry.
func (e *Events) ScriptEntries(codes ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.entryPlan = append(e.entryPlan, codes...)
}

// FailEntries makes each valid entry fail with code with probability
// fraction, reproducibly for a seed; a fraction of 0 stops it.
func (e *Events) FailEntries(fraction float64, seed uint64, code string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.entryRate, e.entryCode = fraction, code
	e.rng = rand.New(rand.NewPCG(seed, ^seed))
}

type putEventsEntry struct {
	Time         *float64 `json:"Time"`
	Source       *string  `json:"Source"`
	DetailType   *string  `json:"DetailType"`
	Detail       *string  `json:"Detail"`
	Resources    []string `json:"Resources"`
	EventBusName *string  `json:"EventBusName"`
	TraceHeader  *string  `json:"TraceHeader"`
}

func (e *Events) putEvents(accessKey string, body []byte) (any, *apiError) {
	var req struct {
		Entries    []putEventsEntry `json:"Entries"`
		EndpointId *string          `json:"EndpointId"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if n := len(req.Entries); n < 1 || n > MaxPutEventsEntries {
		return nil, validation("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and %d (has %d)", MaxPutEventsEntries, n)
	}
	total := 0
	for _, en := range req.Entries {
		total += EntrySize(en.Time != nil, deref(en.Source), deref(en.DetailType), deref(en.Detail), en.Resources)
	}
	if total > MaxPutEventsSize {
		return nil, validation("Total size of the entries in the request is over the limit (%d > %d bytes)", total, MaxPutEventsSize)
	}

	e.mu.Lock()
	results := make([]map[string]string, len(req.Entries))
	var accepted []Event
	failed := 0
	who := e.caller(accessKey)
	for i, en := range req.Entries {
		code, msg := checkEntry(en)
		if bus := entryBus(en); code == "" && !e.allowed(who, bus, *en.Source, *en.DetailType) {
			code, msg = "AccessDeniedException", fmt.Sprintf("%s is not authorized to perform events:PutEvents on event bus %s", who.ARN, bus)
		}
		if code == "" {
			code, msg = e.entryFault()
		}
		if code != "" {
			results[i] = map[string]string{"ErrorCode": code, "ErrorMessage": msg}
			failed++
			continue
		}
		e.nextID++
		ev := Event{
			ID:     fmt.Sprintf("%08x-0000-4000-8000-%012x", e.nextID>>48, e.nextID&0xffffffffffff),
			Bus:    "default",
			Source: *en.Source, DetailType: *en.DetailType, Detail: json.RawMessage(*en.Detail),
			Resources: en.Resources, Time: time.Now().UTC(), TraceHeader: deref(en.TraceHeader),
		}
		ev.Bus = entryBus(en)
		if en.Time != nil {
			sec, frac := math.Modf(*en.Time)
			ev.Time = time.Unix(int64(sec), int64(frac*1e9)).UTC()
		}
		e.events = append(e.events, ev)
		accepted = append(accepted, ev)
		results[i] = map[string]string{"EventId": ev.ID}
	}
	subs := slices.Clone(e.subs)
	e.mu.Unlock()

	for _, ev := range accepted {
		for _, fn := range subs {
			fn(ev)
		}
	}
	return map[string]any{"FailedEntryCount": failed, "Entries": results}, nil
}

// entryFault returns the injected error for the next valid entry, if any.
// The caller holds e.mu.
func (e *Events) entryFault() (string, string) {
	if len(e.entryPlan) > 0 {
		code := e.entryPlan[0]
		e.entryPlan = e.entryPlan[1:]
		if code != "" {
			return code, "injected failure " + code
		}
		return "", ""
	}
	if e.entryRate > 0 && e.rng.Float64() < e.entryRate {
		return e.entryCode, "injected failure " + e.entryCode
	}
	return "", ""
}

// checkEntry returns the per-entry error EventBridge gives an invalid entry.
func checkEntry(en putEventsEntry) (code, msg string) {
	switch {
	case en.Source == nil || *en.Source == "":
		return "InvalidArgument", "Parameter Source is not valid. Reason: Source is a required argument."
	case en.DetailType == nil || *en.DetailType == "":
		return "InvalidArgument", "Parameter DetailType is not valid. Reason: DetailType is a required argument."
	case en.Detail == nil || *en.Detail == "":
		return "InvalidArgument", "Parameter Detail is not valid. Reason: Detail is a required argument."
	case utf8.RuneCountInString(*en.Source) > MaxEventSource:
		return "InvalidArgument", fmt.Sprintf("Parameter Source is not valid. Reason: longer than %d characters.", MaxEventSource)
	case utf8.RuneCountInString(*en.DetailType) > MaxDetailType:
		return "InvalidArgument", fmt.Sprintf("Parameter DetailType is not valid. Reason: longer than %d characters.", MaxDetailType)
	case strings.HasPrefix(*en.Source, "aws."):
		return "NotAuthorizedForSourceException", "Not authorized for the source."
	case en.EventBusName != nil && (*en.EventBusName == "" || utf8.RuneCountInString(*en.EventBusName) > MaxEventBusName):
		return "InvalidArgument", fmt.Sprintf("Parameter EventBusName is not valid. Reason: length must be 1 to %d.", MaxEventBusName)
	case en.TraceHeader != nil && (*en.TraceHeader == "" || utf8.RuneCountInString(*en.TraceHeader) > MaxTraceHeader):
		return "InvalidArgument", fmt.Sprintf("Parameter TraceHeader is not valid. Reason: length must be 1 to %d.", MaxTraceHeader)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(*en.Detail), &obj) != nil {
		return "MalformedDetail", "Detail is malformed."
	}
	return "", ""
}

// entryBus is the bus an entry is for.
func entryBus(en putEventsEntry) string {
	if en.EventBusName != nil {
		return busName(*en.EventBusName)
	}
	return "default"
}

// busName accepts a bus name or ARN and returns the name.
func busName(s string) string {
	if i := strings.LastIndex(s, ":event-bus/"); i >= 0 {
		return s[i+len(":event-bus/"):]
	}
	return s
}
