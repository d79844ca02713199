package event

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Detail types CloudTrail delivers to EventBridge.
const (
	DetailTypeAPICall       = "AWS API Call via CloudTrail"
	DetailTypeConsoleSignIn = "AWS Console Sign In via CloudTrail"
	DetailTypeServiceEvent  = "AWS Service Event via CloudTrail"
	DetailTypeConsoleAction = "AWS Console Action via CloudTrail"
	// DetailTypeInsight is a CloudTrail Insights event: unusual API call or
	// error rates, when it starts and when it ends.
	DetailTypeInsight = "AWS Insight via CloudTrail"
)

// ErrWrongKind is wrapped by the typed views (CloudTrail, Alarm,
// ConfigChange, ConfigCompliance) when the event is not of their kind.
var ErrWrongKind = errors.New("event is of another kind")

// CloudTrail is the detail of an event CloudTrail delivered: an API call,
// a console sign-in, a console action or a service event.
type CloudTrail struct {
	EventVersion       string
	EventID            string
	EventName          string
	EventSource        string
	EventType          string
	EventTime          time.Time
	AWSRegion          string
	RecipientAccountID string
	ErrorCode          string
	ErrorMessage       string
	UserIdentity       UserIdentity
	SourceIPAddress    string
	UserAgent          string
	// ReadOnly is the record's readOnly flag, or, when the record has none,
	// inferred from the event name (Get, List, Describe, Head, Lookup).
	ReadOnly            bool
	RequestParameters   json.RawMessage
	ResponseElements    json.RawMessage
	AdditionalEventData json.RawMessage
	Resources           []CloudTrailResource
	// ConsoleLogin is "Success" or "Failure" for console sign-ins.
	ConsoleLogin string
	// MFAUsed reports a console sign-in made with MFA.
	MFAUsed bool
}

// UserIdentity says who made a CloudTrail-recorded request.
type UserIdentity struct {
	Type             string
	PrincipalID      string
	ARN              string
	AccountID        string
	AccessKeyID      string
	UserName         string
	InvokedBy        string
	SessionIssuer    *SessionIssuer // nil when the request used no role session
	MFAAuthenticated bool
}

// SessionIssuer is the role or user whose temporary credentials were used.
type SessionIssuer struct {
	Type        string
	PrincipalID string
	ARN         string
	AccountID   string
	UserName    string
}

// CloudTrailResource is one entry of a CloudTrail record's resources list.
type CloudTrailResource struct {
	ARN       string
	AccountID string
	Type      string
}

// Failed reports whether the recorded request failed: an error code, or a
// console sign-in that did not succeed.
func (c *CloudTrail) Failed() bool {
	return c.ErrorCode != "" || c.ConsoleLogin == "Failure"
}

// Service is the short service name of the event source: "ec2" for
// "ec2.amazonaws.com".
func (c *CloudTrail) Service() string {
	return strings.TrimSuffix(c.EventSource, ".amazonaws.com")
}

type cloudTrailJSON struct {
	EventVersion string `json:"eventVersion"`
	EventID      string `json:"eventID"`
	EventName    string `json:"eventName"`
	EventSource  string `json:"eventSource"`
	EventType    string `json:"eventType"`
	EventTime    string `json:"eventTime"`
	AWSRegion    string `json:"awsRegion"`
	Recipient    string `json:"recipientAccountId"`
	ErrorCode    string `json:"errorCode"`
	ErrorMessage string `json:"errorMessage"`
	UserIdentity struct {
		Type           string `json:"type"`
		PrincipalID    string `json:"principalId"`
		ARN            string `json:"arn"`
		AccountID      string `json:"accountId"`
		AccessKeyID    string `json:"accessKeyId"`
		UserName       string `json:"userName"`
		InvokedBy      string `json:"invokedBy"`
		SessionContext struct {
			SessionIssuer struct {
				Type        string `json:"type"`
				PrincipalID string `json:"principalId"`
				ARN         string `json:"arn"`
				AccountID   string `json:"accountId"`
				UserName    string `json:"userName"`
			} `json:"sessionIssuer"`
			Attributes struct {
				MFAAuthenticated flexString `json:"mfaAuthenticated"`
			} `json:"attributes"`
		} `json:"sessionContext"`
	} `json:"userIdentity"`
	SourceIPAddress     string          `json:"sourceIPAddress"`
	UserAgent           string          `json:"userAgent"`
	ReadOnly            *flexBool       `json:"readOnly"`
	RequestParameters   json.RawMessage `json:"requestParameters"`
	ResponseElements    json.RawMessage `json:"responseElements"`
	AdditionalEventData json.RawMessage `json:"additionalEventData"`
	Resources           []struct {
		ARN       string `json:"ARN"`
		AccountID string `json:"accountId"`
		Type      string `json:"type"`
	} `json:"resources"`
}

// CloudTrail decodes the detail of an event CloudTrail delivered. It wraps
// ErrWrongKind for events of other detail types.
func (e *Event) CloudTrail() (*CloudTrail, error) {
	if e.cache == nil {
		return e.decodeCloudTrail()
	}
	e.cache.ctOnce.Do(func() { e.cache.ct, e.cache.ctErr = e.decodeCloudTrail() })
	if e.cache.ctErr != nil {
		return nil, e.cache.ctErr
	}
	// A copy of the view, so a caller changing it cannot change the cache.
	c := *e.cache.ct
	return &c, nil
}

func (e *Event) decodeCloudTrail() (*CloudTrail, error) {
	if !isCloudTrailType(e.DetailType) {
		return nil, fmt.Errorf("cloudtrail view of %q: %w", e.DetailType, ErrWrongKind)
	}
	r, ok := scanCloudTrailView(e.Detail)
	if !ok {
		r = cloudTrailJSON{}
		if err := json.Unmarshal(e.Detail, &r); err != nil {
			return nil, fmt.Errorf("decode cloudtrail detail: %w", err)
		}
	}
	c := &CloudTrail{
		EventVersion:        r.EventVersion,
		EventID:             r.EventID,
		EventName:           r.EventName,
		EventSource:         r.EventSource,
		EventType:           r.EventType,
		AWSRegion:           r.AWSRegion,
		RecipientAccountID:  r.Recipient,
		ErrorCode:           r.ErrorCode,
		ErrorMessage:        r.ErrorMessage,
		SourceIPAddress:     r.SourceIPAddress,
		UserAgent:           r.UserAgent,
		RequestParameters:   nullToNil(r.RequestParameters),
		ResponseElements:    nullToNil(r.ResponseElements),
		AdditionalEventData: nullToNil(r.AdditionalEventData),
	}
	if t, err := time.Parse(time.RFC3339, r.EventTime); err == nil {
		c.EventTime = t
	}
	ui := r.UserIdentity
	c.UserIdentity = UserIdentity{
		Type:             ui.Type,
		PrincipalID:      ui.PrincipalID,
		ARN:              ui.ARN,
		AccountID:        ui.AccountID,
		AccessKeyID:      ui.AccessKeyID,
		UserName:         ui.UserName,
		InvokedBy:        ui.InvokedBy,
		MFAAuthenticated: strings.EqualFold(string(ui.SessionContext.Attributes.MFAAuthenticated), "true"),
	}
	if si := ui.SessionContext.SessionIssuer; si.ARN != "" || si.PrincipalID != "" {
		c.UserIdentity.SessionIssuer = &SessionIssuer{
			Type: si.Type, PrincipalID: si.PrincipalID, ARN: si.ARN, AccountID: si.AccountID, UserName: si.UserName,
		}
	}
	if r.ReadOnly != nil {
		c.ReadOnly = bool(*r.ReadOnly)
	} else {
		c.ReadOnly = readOnlyName(r.EventName)
	}
	for _, res := range r.Resources {
		c.Resources = append(c.Resources, CloudTrailResource(res))
	}
	if c.ResponseElements != nil {
		c.ConsoleLogin = stringMember(c.ResponseElements, "ConsoleLogin", func(r *consoleLoginJSON) *string { return &r.ConsoleLogin })
	}
	if c.AdditionalEventData != nil {
		c.MFAUsed = strings.EqualFold(stringMember(c.AdditionalEventData, "MFAUsed", func(r *mfaUsedJSON) *string { return &r.MFAUsed }), "yes")
	}
	return c, nil
}

func isCloudTrailType(dt string) bool {
	switch dt {
	case DetailTypeAPICall, DetailTypeConsoleSignIn, DetailTypeServiceEvent, DetailTypeConsoleAction,
		"AWS Console Signin via CloudTrail": // the spelling some AWS pages use
		return true
	}
	return false
}

// readOnlyName infers readOnly from the event name for records that lack
// the flag (older records, some services).
func readOnlyName(name string) bool {
	for _, p := range []string{"Get", "List", "Describe", "Head", "Lookup"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func nullToNil(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return nil
	}
	return raw
}

// flexBool accepts true/false as JSON booleans or strings: CloudTrail writes
// both depending on the service.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch strings.Trim(string(data), `"`) {
	case "true", "True", "TRUE":
		*b = true
	default:
		*b = false
	}
	return nil
}

// flexString accepts a string, boolean or number and keeps its text.
type flexString string

func (s *flexString) UnmarshalJSON(data []byte) error {
	var str string
	if json.Unmarshal(data, &str) == nil {
		*s = flexString(str)
		return nil
	}
	*s = flexString(data)
	return nil
}

// FromCloudTrailRecord converts one CloudTrail log record, as found in the
// Records array of a CloudTrail log file, into the EventBridge event that
// EventBridge delivers for it: the detail type follows the record's
// eventType, the source is "aws." plus the service of eventSource, and the
// detail is the record itself.
func FromCloudTrailRecord(record []byte) ([]byte, error) {
	out, _, err := fromCloudTrailRecord(record, false)
	return out, err
}

// ParseCloudTrailRecord converts one CloudTrail log record as
// FromCloudTrailRecord does and returns the event parsed, as
// Parse(FromCloudTrailRecord(record)) would, without parsing again what the
// conversion just wrote. The event's Raw is the converted event.
func ParseCloudTrailRecord(record []byte) (*Event, error) {
	return parseCloudTrailRecord(record, false)
}

// ParseValidCloudTrailRecord is ParseCloudTrailRecord for a record known to
// be valid JSON, such as a json.Decoder hands out: it reads the record in
// one pass of its own instead of encoding/json's three, with the same
// result. Given anything but valid JSON, its result is undefined (but it
// returns).
func ParseValidCloudTrailRecord(record []byte) (*Event, error) {
	return parseCloudTrailRecord(record, true)
}

func parseCloudTrailRecord(record []byte, valid bool) (*Event, error) {
	out, env, err := fromCloudTrailRecord(record, valid)
	if err != nil {
		return nil, err
	}
	for _, s := range []string{env.ID, env.Account, env.Region} {
		if strings.TrimSpace(s) == "" {
			// Parse names the blank field.
			return Parse(out)
		}
	}
	env.Raw, env.Detail, env.cache = out, out[env.detailAt:len(out)-1], &valueCache{}
	return &env.Event, nil
}

// converted is an event FromCloudTrailRecord wrote: its envelope, and
// where the detail starts in the output.
type converted struct {
	Event
	detailAt int
}

// fromCloudTrailRecord converts record; valid says it is known to be valid
// JSON, which recordScan can then read.
func fromCloudTrailRecord(record []byte, valid bool) ([]byte, converted, error) {
	var none converted
	if len(record) > MaxSize {
		return nil, none, fmt.Errorf("cloudtrail record: %d bytes is over the %d-byte limit", len(record), MaxSize)
	}
	trimmed := bytes.TrimSpace(record)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, none, errors.New("cloudtrail record: want a JSON object")
	}
	var r cloudTrailFields
	scanned, compact, depth := false, false, 0
	if valid {
		r, compact, depth, scanned = scanCloudTrailRecord(trimmed)
	}
	if !scanned {
		r = cloudTrailFields{}
		if err := json.Unmarshal(trimmed, &r); err != nil {
			return nil, none, fmt.Errorf("cloudtrail record: %s", syntaxReason(err))
		}
	}
	missing := func(name string, v *string) error {
		if v == nil || *v == "" {
			return fmt.Errorf("cloudtrail record: field %q: missing", name)
		}
		return nil
	}
	detailType, err := cloudTrailDetailType(r.EventType)
	if err != nil {
		return nil, none, err
	}
	if detailType == DetailTypeInsight {
		// Insights events name the service in insightDetails; CloudTrail
		// itself emits them.
		cloudtrail := "cloudtrail.amazonaws.com"
		r.EventSource = &cloudtrail
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"eventSource", r.EventSource}, {"eventTime", r.EventTime}, {"awsRegion", r.AWSRegion}} {
		if err := missing(f.name, f.v); err != nil {
			return nil, none, err
		}
	}
	account := ""
	if r.Recipient != nil {
		account = *r.Recipient
	}
	if account == "" && r.UserIdentity != nil {
		account = r.UserIdentity.AccountID
	}
	if account == "" {
		return nil, none, errors.New(`cloudtrail record: field "recipientAccountId": missing`)
	}
	id := ""
	if r.EventID != nil {
		id = *r.EventID
	}
	if id == "" {
		id = derivedID(trimmed)
	}
	at, err := time.Parse(time.RFC3339, *r.EventTime)
	if err != nil {
		return nil, none, fmt.Errorf("cloudtrail record: field %q: not RFC 3339: %s", "eventTime", quoteShort(*r.EventTime))
	}
	if !utf8.Valid(trimmed) {
		return nil, none, errors.New("cloudtrail record: not valid UTF-8")
	}
	if !scanned || depth > MaxDepth-1 {
		if err := checkDepth(trimmed, MaxDepth-1); err != nil {
			return nil, none, fmt.Errorf("cloudtrail record: %w", err)
		}
	}
	// The envelope is written by hand, in EventBridge's field order, so the
	// record is compacted once and not HTML-escaped (sign-in URLs keep '&').
	source := "aws." + strings.TrimSuffix(*r.EventSource, ".amazonaws.com")
	var out bytes.Buffer
	out.Grow(len(trimmed) + 256)
	out.WriteString(`{"version":"0","id":`)
	writeJSONString(&out, id)
	out.WriteString(`,"detail-type":`)
	writeJSONString(&out, detailType)
	out.WriteString(`,"source":`)
	writeJSONString(&out, source)
	out.WriteString(`,"account":`)
	writeJSONString(&out, account)
	out.WriteString(`,"time":`)
	writeJSONString(&out, *r.EventTime)
	out.WriteString(`,"region":`)
	writeJSONString(&out, *r.AWSRegion)
	out.WriteString(`,"resources":[],"detail":`)
	detailAt := out.Len()
	if scanned && compact {
		out.Write(trimmed)
	} else if err := json.Compact(&out, trimmed); err != nil {
		return nil, none, fmt.Errorf("cloudtrail record: %s", syntaxReason(err))
	}
	out.WriteByte('}')
	if out.Len() > MaxSize {
		return nil, none, fmt.Errorf("cloudtrail record: the event would be %d bytes, over the %d-byte limit", out.Len(), MaxSize)
	}
	env := converted{Event: Event{Version: "0", ID: id, DetailType: detailType, Source: source, Account: account,
		Region: *r.AWSRegion, Time: at, Resources: []string{}}, detailAt: detailAt}
	return out.Bytes(), env, nil
}

// writeJSONString writes s as a JSON string without HTML escaping.
func writeJSONString(buf *bytes.Buffer, s string) {
	if plainJSON(s) { // as encoding/json would write it, without its cost
		buf.WriteByte('"')
		buf.WriteString(s)
		buf.WriteByte('"')
		return
	}
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s)           // encoding a string cannot fail
	buf.Truncate(buf.Len() - 1) // Encode appends a newline
}

// plainJSON says encoding/json writes s between quotes as it stands: valid
// UTF-8 without quotes, backslashes, control characters or the line and
// paragraph separators (whose UTF-8 starts with 0xE2; any 0xE2 declines).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c == 0xE2 {
			return false
		}
	}
	return utf8.ValidString(s)
}

func cloudTrailDetailType(eventType *string) (string, error) {
	if eventType == nil {
		// Records from before eventType existed are all API calls.
		return DetailTypeAPICall, nil
	}
	switch *eventType {
	case "AwsApiCall", "":
		return DetailTypeAPICall, nil
	case "AwsConsoleSignIn":
		return DetailTypeConsoleSignIn, nil
	case "AwsServiceEvent":
		return DetailTypeServiceEvent, nil
	case "AwsConsoleAction":
		return DetailTypeConsoleAction, nil
	case "AwsCloudTrailInsight":
		return DetailTypeInsight, nil
	}
	return "", fmt.Errorf("cloudtrail record: field \"eventType\": %s is not delivered as an API call, sign-in, console action, service event or Insights event", quoteShort(*eventType))
}

// derivedID gives a record without eventID a stable, UUID-shaped id, so
// replaying the same file twice yields the same ids.
func derivedID(record []byte) string {
	h := sha256.Sum256(record)
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
