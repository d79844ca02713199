package event

import (
	"bytes"
	"encoding/json"
)

// The CloudTrail view is decoded for every event a rule records or opens an
// incident for; encoding/json's reflection was 11% of a replay's time. The
// scan below reads the same fields in one pass of the detail, which the
// event's parse checked as JSON, and declines to encoding/json whatever it
// would not read the same (see recordScan): FuzzCloudTrailView compares the
// two on every input.

// cloudTrailViewNames are the members of cloudTrailJSON, in the order of
// scanCloudTrailView's switch.
var cloudTrailViewNames = []string{
	"eventVersion", "eventID", "eventName", "eventSource", "eventType", "eventTime", "awsRegion",
	"recipientAccountId", "errorCode", "errorMessage", "sourceIPAddress", "userAgent", // 0–11: strings
	"userIdentity", "readOnly", "requestParameters", "responseElements", "additionalEventData", "resources",
}

var (
	identityNames   = []string{"type", "principalId", "arn", "accountId", "accessKeyId", "userName", "invokedBy", "sessionContext"}
	contextNames    = []string{"sessionIssuer", "attributes"}
	issuerNames     = []string{"type", "principalId", "arn", "accountId", "userName"}
	attributesNames = []string{"mfaAuthenticated"}
	resourceNames   = []string{"ARN", "accountId", "type"}
)

// scanCloudTrailView decodes detail, valid JSON, as json.Unmarshal into a
// cloudTrailJSON would; ok false declines.
func scanCloudTrailView(detail []byte) (r cloudTrailJSON, ok bool) {
	detail = bytes.TrimSpace(detail)
	strs := []*string{&r.EventVersion, &r.EventID, &r.EventName, &r.EventSource, &r.EventType, &r.EventTime, &r.AWSRegion,
		&r.Recipient, &r.ErrorCode, &r.ErrorMessage, &r.SourceIPAddress, &r.UserAgent}
	ok = objectMembers(detail, cloudTrailViewNames, func(field int, value []byte) bool {
		switch {
		case field < len(strs):
			return setString(strs[field], value)
		case field == 12:
			return scanIdentity(&r, value)
		case field == 13: // *flexBool: null leaves it nil, anything else is read as text
			if string(value) != "null" {
				var b flexBool
				_ = b.UnmarshalJSON(value)
				r.ReadOnly = &b
			}
			return true
		case field == 14:
			r.RequestParameters = bytes.Clone(value) // a RawMessage is a copy
		case field == 15:
			r.ResponseElements = bytes.Clone(value)
		case field == 16:
			r.AdditionalEventData = bytes.Clone(value)
		default:
			return scanResources(&r, value)
		}
		return true
	})
	return r, ok
}

func scanIdentity(r *cloudTrailJSON, value []byte) bool {
	ui := &r.UserIdentity
	strs := []*string{&ui.Type, &ui.PrincipalID, &ui.ARN, &ui.AccountID, &ui.AccessKeyID, &ui.UserName, &ui.InvokedBy}
	si := &ui.SessionContext.SessionIssuer
	issuer := []*string{&si.Type, &si.PrincipalID, &si.ARN, &si.AccountID, &si.UserName}
	mfa := &ui.SessionContext.Attributes.MFAAuthenticated
	return objectMembers(value, identityNames, func(field int, value []byte) bool {
		if field < len(strs) {
			return setString(strs[field], value)
		}
		return objectMembers(value, contextNames, func(field int, value []byte) bool {
			if field == 0 {
				return stringFields(value, issuerNames, issuer)
			}
			return objectMembers(value, attributesNames, func(_ int, value []byte) bool { return setFlexString(mfa, value) })
		})
	})
}

// setFlexString sets *dst as flexString's UnmarshalJSON would: a string's
// text, nothing for null, anything else as written.
func setFlexString(dst *flexString, value []byte) bool {
	switch {
	case string(value) == "null":
		*dst = ""
	case value[0] == '"':
		v, ok := plainString(value)
		if !ok {
			return false
		}
		*dst = flexString(*v)
	default:
		*dst = flexString(value)
	}
	return true
}

func scanResources(r *cloudTrailJSON, value []byte) bool {
	if string(value) == "null" {
		r.Resources = nil
		return true
	}
	if value[0] != '[' {
		return false
	}
	type resource = struct {
		ARN       string `json:"ARN"`
		AccountID string `json:"accountId"`
		Type      string `json:"type"`
	}
	r.Resources = []resource{}
	return arrayElements(value, func(elem []byte) bool {
		var res resource
		if !stringFields(elem, resourceNames, []*string{&res.ARN, &res.AccountID, &res.Type}) {
			return false
		}
		r.Resources = append(r.Resources, res)
		return true
	})
}

// stringMember is the string member name of the JSON object data, as
// json.Unmarshal into a T, a struct of that one field (field returns it),
// reads it: "" when data is not an object or the member not a string.
func stringMember[T any](data []byte, name string, field func(*T) *string) string {
	var v string
	if objectMembers(data, []string{name}, func(_ int, value []byte) bool { return setString(&v, value) }) {
		return v
	}
	var t T
	if json.Unmarshal(data, &t) != nil {
		return ""
	}
	return *field(&t)
}

type consoleLoginJSON struct {
	ConsoleLogin string `json:"ConsoleLogin"`
}

type mfaUsedJSON struct {
	MFAUsed string `json:"MFAUsed"`
}

// objectMembers calls fn with the index in names and the value of each
// member of the object value whose key is one of names, as written. null
// is an object without members. It declines on anything else, on a key
// equal to one of names but for case (encoding/json would read it), on a
// name given twice, and when fn declines.
func objectMembers(value []byte, names []string, fn func(field int, value []byte) bool) bool {
	if string(value) == "null" {
		return true
	}
	s := &recordScan{data: value}
	seen := uint64(0)
	end, ok := s.members(0, 1, func(key, v []byte) bool {
		field := -1
		for n, name := range names {
			if string(key) == name {
				field = n
				break
			}
		}
		if field < 0 {
			for _, name := range names {
				if bytes.EqualFold(key, []byte(name)) {
					return false
				}
			}
			return true
		}
		if seen&(1<<field) != 0 {
			return false
		}
		seen |= 1 << field
		return fn(field, v)
	})
	return ok && s.space(end) == len(value)
}

// arrayElements calls fn with each element of the array value.
func arrayElements(value []byte, fn func(elem []byte) bool) bool {
	s := &recordScan{data: value}
	i := s.space(1)
	if s.at(i) == ']' {
		return s.space(i+1) == len(value)
	}
	for {
		end, ok := s.skip(i, 1)
		if !ok || !fn(value[i:end]) {
			return false
		}
		switch i = s.space(end); s.at(i) {
		case ',':
			i = s.space(i + 1)
		case ']':
			return s.space(i+1) == len(value)
		default:
			return false
		}
	}
}

// stringFields reads the object value's string members names into dsts.
func stringFields(value []byte, names []string, dsts []*string) bool {
	return objectMembers(value, names, func(field int, value []byte) bool { return setString(dsts[field], value) })
}

// setString sets *dst to the string value, as encoding/json would; null
// leaves it; anything plainString declines is declined.
func setString(dst *string, value []byte) bool {
	v, ok := plainString(value)
	if ok && v != nil {
		*dst = *v
	}
	return ok
}
