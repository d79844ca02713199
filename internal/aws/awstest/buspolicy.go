package awstest

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Principal is an IAM principal of some account, as a bus's resource
// policy sees it: who signs a PutEvents request, or the role a rule in
// another account puts its events on a bus with.
type Principal struct {
	Account string
	// OrgID is the principal's organization (aws:PrincipalOrgID); empty
	// outside any.
	OrgID string
	ARN   string
}

// PolicyStatement is one statement of a bus's resource policy, as a
// template's AWS::Events::EventBusPolicy holds it. The Events endpoint
// evaluates Effect, Principal, Action and Condition; the Resource is the bus.
type PolicyStatement struct {
	Sid       string                                `json:"Sid"`
	Effect    string                                `json:"Effect"`
	Principal any                                   `json:"Principal"`
	Action    any                                   `json:"Action"`
	Condition map[string]map[string]json.RawMessage `json:"Condition"`
}

// AddPrincipal makes requests signed with accessKey come from p. Requests
// signed with any other key come from a principal of Account, the bus
// owner's.
func (e *Events) AddPrincipal(accessKey string, p Principal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.principals == nil {
		e.principals = map[string]Principal{}
	}
	e.principals[accessKey] = p
}

// SetBusPolicy gives bus a resource policy. As in EventBridge, principals
// of other accounts may put events on a bus only where an Allow statement
// matches, the owner's principals unless a Deny statement matches; a bus
// without a policy takes events from its owner's principals only.
func (e *Events) SetBusPolicy(bus string, statements ...PolicyStatement) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.policies == nil {
		e.policies = map[string][]PolicyStatement{}
	}
	e.policies[bus] = statements
}

// Forward is EventBridge delivering an event to bus as the target of a
// rule in another account, whose role is p: the event keeps its source,
// account and Region (an aws. source included, which no caller's own
// PutEvents may use), and the bus's policy decides. It returns the
// accepted event, or an error naming the refusal.
func (e *Events) Forward(p Principal, bus string, raw []byte) (Event, error) {
	var env struct {
		ID         string          `json:"id"`
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Time       time.Time       `json:"time"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
		Account    string          `json:"account"`
		Region     string          `json:"region"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return Event{}, fmt.Errorf("forward: not an event: %w", err)
	}
	e.mu.Lock()
	if !e.allowed(p, bus, env.Source, env.DetailType) {
		e.mu.Unlock()
		return Event{}, fmt.Errorf("AccessDeniedException: %s is not authorized to perform events:PutEvents on event bus %s", p.ARN, bus)
	}
	ev := Event{ID: env.ID, Bus: bus, Source: env.Source, DetailType: env.DetailType, Detail: env.Detail,
		Resources: env.Resources, Time: env.Time, Account: env.Account, Region: env.Region}
	e.events = append(e.events, ev)
	subs := append([]func(Event){}, e.subs...)
	e.mu.Unlock()
	for _, fn := range subs {
		fn(ev)
	}
	return ev, nil
}

// caller is the principal of an access key. The caller holds e.mu.
func (e *Events) caller(accessKey string) Principal {
	if p, ok := e.principals[accessKey]; ok {
		return p
	}
	return Principal{Account: Account, ARN: "arn:aws:iam::" + Account + ":role/awstest"}
}

// allowed evaluates bus's policy for p putting an event of source and
// detail type. The caller holds e.mu.
func (e *Events) allowed(p Principal, bus, source, detailType string) bool {
	keys := map[string]string{
		"aws:principalaccount": p.Account, "aws:principalarn": p.ARN,
		"events:source": source, "events:detail-type": detailType,
	}
	if p.OrgID != "" {
		keys["aws:principalorgid"] = p.OrgID
	}
	allow := p.Account == Account
	for _, st := range e.policies[bus] {
		if !st.applies(p, keys) {
			continue
		}
		switch st.Effect {
		case "Deny":
			return false
		case "Allow":
			allow = true
		}
	}
	return allow
}

func (st PolicyStatement) applies(p Principal, keys map[string]string) bool {
	if !matchesAny(st.Action, func(a string) bool { return a == "events:PutEvents" || a == "events:*" || a == "*" }) {
		return false
	}
	principal := st.Principal
	if m, ok := principal.(map[string]any); ok {
		principal = m["AWS"]
	}
	if !matchesAny(principal, func(v string) bool {
		return v == "*" || v == p.Account || v == p.ARN || v == "arn:aws:iam::"+p.Account+":root"
	}) {
		return false
	}
	for op, conds := range st.Condition {
		base, ifExists := strings.CutSuffix(op, "IfExists")
		for key, raw := range conds {
			var want any
			if json.Unmarshal(raw, &want) != nil {
				return false
			}
			got, present := keys[strings.ToLower(key)]
			if !present {
				if ifExists {
					continue
				}
				return false
			}
			if !condition(base, got, want) {
				return false
			}
		}
	}
	return true
}

// condition applies one of the IAM condition operators the endpoint knows;
// an unknown one never matches.
func condition(op, got string, want any) bool {
	switch op {
	case "StringEquals", "ArnEquals":
		return matchesAny(want, func(w string) bool { return got == w })
	case "StringNotEquals", "ArnNotEquals":
		return !matchesAny(want, func(w string) bool { return got == w })
	case "StringLike", "ArnLike":
		return matchesAny(want, func(w string) bool { return globMatch(w, got) })
	case "StringNotLike", "ArnNotLike":
		return !matchesAny(want, func(w string) bool { return globMatch(w, got) })
	}
	return false
}

// globMatch is IAM's wildcard match: * any run of characters (slashes
// too), ? one.
func globMatch(pattern, s string) bool {
	if pattern == "" {
		return s == ""
	}
	switch pattern[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if globMatch(pattern[1:], s[i:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && globMatch(pattern[1:], s[1:])
	}
	return s != "" && s[0] == pattern[0] && globMatch(pattern[1:], s[1:])
}

// matchesAny reports whether v, a string or a list of them, has one that ok
// accepts.
func matchesAny(v any, ok func(string) bool) bool {
	switch x := v.(type) {
	case string:
		return ok(x)
	case []any:
		for _, e := range x {
			if s, isStr := e.(string); isStr && ok(s) {
				return true
			}
		}
	}
	return false
}
