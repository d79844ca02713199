// Package signal is the contract between the classifier and the incident
// lifecycle: the detail of the "Incident Detected" and "Incident Recovered"
// events on the opsloop bus. Both functions import it, and nothing else of
// each other.
package signal

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/lazyregexp"
)

// SchemaVersion is the version of the detail of opsloop's own events.
const SchemaVersion = "1"

// Source is the source of opsloop's own events.
const Source = "opsloop"

// Detail types of the signals on the opsloop bus.
const (
	DetailDetected  = "Incident Detected"
	DetailRecovered = "Incident Recovered"
)

// Signal kinds.
const (
	Detected  = "detected"
	Recovered = "recovered"
)

// Signal is the detail of "Incident Detected" and "Incident Recovered":
// what the classifier tells the incidents function about one source event.
// Its JSON form is a published, versioned schema (docs/events.md).
type Signal struct {
	SchemaVersion string    `json:"schemaVersion"`
	Kind          string    `json:"kind"`    // "detected" or "recovered"
	EventID       string    `json:"eventId"` // the source event's id: the idempotency key
	Time          time.Time `json:"time"`    // the source event's time
	Rule          string    `json:"rule"`
	Fingerprint   string    `json:"fingerprint"`
	Title         string    `json:"title"`
	Severity      string    `json:"severity,omitempty"`
	Category      string    `json:"category,omitempty"`
	Plan          Plan      `json:"plan"`
	// Budget caps the new OpsItems of the deployment: resolved by the
	// classifier from the rules, as Plan is; zero fields take the defaults.
	Budget     Budget   `json:"budget,omitzero"`
	Resources  []string `json:"resources,omitempty"`
	Account    string   `json:"account"`
	Region     string   `json:"region"`
	Source     string   `json:"source"`     // the source event's source, e.g. aws.cloudwatch
	DetailType string   `json:"detailType"` // the source event's detail-type
	Actor      string   `json:"actor,omitempty"`
	Summary    string   `json:"summary"` // one line: what happened
	Reason     string   `json:"reason"`  // why the rule decided so
	Count      int      `json:"count,omitempty"`
	Escalated  bool     `json:"escalated,omitempty"`
	Flapping   bool     `json:"flapping,omitempty"`
	// Unverified is set when the source event's source is not an AWS
	// service's: a rule naming a custom source decided it.
	Unverified bool   `json:"unverified,omitempty"`
	Excerpt    string `json:"excerpt,omitempty"` // the source event, truncated
	// OpsItemAccount is the account the OpsItem is created in, through
	// OpsCenter's cross-account support; empty: the deployment's own.
	OpsItemAccount string `json:"opsItemAccount,omitempty"`
	// Portal is the organization's IAM Identity Center access portal, for
	// console links that open a resource in its own account.
	Portal *Portal `json:"portal,omitempty"`
	// Runbooks are the rule's SSM Automation documents, their parameters
	// filled from the source event.
	Runbooks []Runbook `json:"runbooks,omitempty"`
}

// Runbook is an SSM Automation document offered on the OpsItem, with the
// parameters a responder would otherwise look up.
type Runbook struct {
	Document   string            `json:"document"`
	Parameters map[string]string `json:"parameters,omitempty"`
	// AutoRun starts the automation once the OpsItem is created.
	AutoRun bool `json:"autoRun,omitempty"`
}

// Portal is an IAM Identity Center access portal and the role (permission
// set) its console links sign in with.
type Portal struct {
	URL  string `json:"url"`
	Role string `json:"role"`
}

// Plan is the severity's response plan, resolved by the classifier so the
// incidents function needs no rules.
type Plan struct {
	OpsItemSeverity string        `json:"opsItemSeverity,omitempty"` // "1".."4"
	Priority        int           `json:"priority,omitempty"`        // 1..5
	Notify          []string      `json:"notify,omitempty"`          // SNS topic ARNs, or "default"
	Runbooks        []string      `json:"runbooks,omitempty"`
	ResponseTime    time.Duration `json:"responseTime,omitempty"`
	// Steps are the response plan's steps, in order (the operators'
	// Markdown); Owner names the role that owns the response.
	Steps []string `json:"steps,omitempty"`
	Owner string   `json:"owner,omitempty"`
	// EscalateTo are the contacts (SNS topic ARNs, or "default") notified
	// in turn, one each time the response time passes unacknowledged.
	EscalateTo []string `json:"escalateTo,omitempty"`
}

// Budget caps how many new OpsItems the lifecycle opens: per rule and per
// deployment, per hour and per day (UTC calendar hours and days), and per
// calendar month, where the last Reserve OpsItems under Month are kept for
// OpsItem severities 1 and 2. Incidents past a cap are held back into one
// roll-up OpsItem per rule and day.
type Budget struct {
	RuleHour int `json:"ruleHour,omitempty"`
	RuleDay  int `json:"ruleDay,omitempty"`
	Hour     int `json:"hour,omitempty"`
	Day      int `json:"day,omitempty"`
	Month    int `json:"month,omitempty"`
	Reserve  int `json:"reserve,omitempty"`
}

// DefaultBudget is the budget of a deployment that sets none: OpsCenter
// allows 10,000 new OpsItems per account and Region a month; the month's
// cap leaves 1,000 of them to people and other tools, and keeps the last
// 1,000 under it for the two most severe severities.
var DefaultBudget = Budget{RuleHour: 10, RuleDay: 50, Hour: 50, Day: 200, Month: 9000, Reserve: 1000}

// OrDefault returns b with each zero field set from DefaultBudget.
func (b Budget) OrDefault() Budget {
	d := DefaultBudget
	for _, f := range []struct{ v, def *int }{{&b.RuleHour, &d.RuleHour}, {&b.RuleDay, &d.RuleDay}, {&b.Hour, &d.Hour}, {&b.Day, &d.Day}, {&b.Month, &d.Month}, {&b.Reserve, &d.Reserve}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return b
}

// BusDetailType is the detail type of the opsloop event carrying s.
func (s *Signal) BusDetailType() string {
	if s.Kind == Recovered {
		return DetailRecovered
	}
	return DetailDetected
}

// Clone returns a deep copy of s; nil stays nil.
func (s *Signal) Clone() *Signal {
	if s == nil {
		return nil
	}
	c := *s
	c.Resources = slices.Clone(s.Resources)
	c.Plan = s.Plan.Clone()
	c.Runbooks = slices.Clone(s.Runbooks)
	for i := range c.Runbooks {
		c.Runbooks[i].Parameters = maps.Clone(c.Runbooks[i].Parameters)
	}
	return &c
}

// Clone returns a deep copy of p.
func (p Plan) Clone() Plan {
	p.Notify = slices.Clone(p.Notify)
	p.Runbooks = slices.Clone(p.Runbooks)
	p.Steps = slices.Clone(p.Steps)
	p.EscalateTo = slices.Clone(p.EscalateTo)
	return p
}

// Validate reports what makes s unusable, if anything.
func (s *Signal) Validate() error {
	var problems []string
	if s.SchemaVersion != "" && s.SchemaVersion != SchemaVersion {
		problems = append(problems, fmt.Sprintf("unsupported schemaVersion %q", s.SchemaVersion))
	}
	if s.Kind != Detected && s.Kind != Recovered {
		problems = append(problems, fmt.Sprintf("kind %q is neither %q nor %q", s.Kind, Detected, Recovered))
	}
	if blank(s.EventID) {
		problems = append(problems, "eventId is empty")
	}
	if blank(s.Fingerprint) {
		problems = append(problems, "fingerprint is empty")
	}
	if blank(s.Rule) {
		problems = append(problems, "rule is empty")
	}
	if s.OpsItemAccount != "" && !accountID.MatchString(s.OpsItemAccount) {
		problems = append(problems, fmt.Sprintf("opsItemAccount %q is not an AWS account id", s.OpsItemAccount))
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid signal: %s", strings.Join(problems, "; "))
	}
	return nil
}

// accountID is an AWS account id.
var accountID = lazyregexp.New(`^[0-9]{12}$`)

func blank(s string) bool { return strings.TrimSpace(s) == "" }

// Decode reads the signal out of an SQS message body: the EventBridge
// event the opsloop bus delivered, whose detail is a Signal.
// Unknown detail fields are ignored, so that newer classifiers can add them;
// the signal itself is validated by the lifecycle.
func Decode(body []byte) (Signal, error) {
	var s Signal
	ev, err := event.Parse(body)
	if err != nil {
		return s, fmt.Errorf("decode signal: %w", err)
	}
	if ev.Source != Source {
		return s, fmt.Errorf("decode signal %s: source %q is not %q", ev.ID, ev.Source, Source)
	}
	var kind string
	switch ev.DetailType {
	case DetailDetected:
		kind = Detected
	case DetailRecovered:
		kind = Recovered
	default:
		return s, fmt.Errorf("decode signal %s: detail-type %q is neither %q nor %q", ev.ID, ev.DetailType, DetailDetected, DetailRecovered)
	}
	if err := json.Unmarshal(ev.Detail, &s); err != nil {
		return s, fmt.Errorf("decode signal %s: detail: %w", ev.ID, err)
	}
	if s.Kind != kind {
		return s, fmt.Errorf("decode signal %s: kind %q does not match detail-type %q", ev.ID, s.Kind, ev.DetailType)
	}
	return s, nil
}
