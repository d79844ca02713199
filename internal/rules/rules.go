// Package rules loads and validates the operators' JSON rule files: which
// events matter, when an event becomes an incident, with which severity and
// response plan, and which events are silenced.
package rules

import (
	"sort"
	"strings"
	"time"

	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/signal"
)

// Action is what a rule decides for the events it matches.
type Action string

// The actions a rule may take.
const (
	Ignore   Action = "ignore"
	Record   Action = "record"
	Incident Action = "incident"
)

// Categories are OpsCenter's OpsItem categories.
var Categories = []string{"Availability", "Cost", "Performance", "Recovery", "Security"}

// Set is a validated, ready-to-use collection of rules with the deployment's
// severities, problem recurrence and silences. Build it with Load, LoadFS or Build.
type Set struct {
	Rules      []*Rule
	Severities map[string]*Severity
	// Plans are the response plans of categories ("Security") and of a
	// category's severity ("Security/critical"); see PlanFor.
	Plans map[string]*Plan
	// Units are the organizational units rules may scope themselves to,
	// by id, with their member accounts ("organization").
	Units map[string][]string
	// OpsItemAccount is where OpsItems are created unless a rule says
	// otherwise ("organization": {"opsItemAccount": ...}): OpsItemsCentral
	// (the default) or OpsItemsMember.
	OpsItemAccount string
	// AccessPortal is the organization's IAM Identity Center access
	// portal, whose console links open a resource in its own account.
	AccessPortal *AccessPortal
	// Order lists severity names from the most to the least severe.
	Order    []string
	Problems Recurrence
	Silences []*Silence
	Defaults Defaults
	// Files lists the files the set was built from, in load order.
	Files []string
	// Redact lists event paths whose values are masked wherever opsloop
	// copies event text, besides those redact masks by their names.
	Redact []string
	// Budget caps the new OpsItems of the deployment ("budget"; zero
	// fields take signal.DefaultBudget's).
	Budget signal.Budget
	// Warnings are what is valid but likely wrong, located as errors are.
	Warnings Errors
}

// Rule is one operator rule. Each field that a rules file sets carries its
// name in the file as its `rule` tag: the validator's list of fields and
// the review's digest of a rule are derived from the tags (fields.go), so
// a new field is one edit here plus its docs and schema.
type Rule struct {
	Name        string `rule:"name"`
	Description string `rule:"description"`
	// Priority decides between several matching rules: higher wins.
	Priority int              `rule:"priority"`
	Pattern  *pattern.Pattern `rule:"pattern"`
	Action   Action           `rule:"action"`
	Severity string           `rule:"severity"`
	Category string           `rule:"category"`
	// Threshold is nil for rules that act on every matching event.
	Threshold *Threshold `rule:"threshold"`
	// GroupBy lists event paths whose values form the group key; empty means
	// the event's resources.
	GroupBy []string  `rule:"groupBy"`
	Title   *Template `rule:"title"`
	// Recover is the rule's pattern merged with its recoverWhen pattern; nil
	// when the rule has no recoverWhen.
	Recover    *pattern.Pattern `rule:"recoverWhen"`
	Escalation Escalation       `rule:"escalation"`
	Flapping   Flapping         `rule:"flapping"`
	Problems   Recurrence       `rule:"problems"`
	// Runbooks are SSM Automation documents the incident's OpsItem offers,
	// with parameters filled from the event; none is run automatically.
	Runbooks []Runbook `rule:"runbooks"`
	// Scope limits the rule to accounts, organizational units and Regions:
	// Pattern (and Recover) match only their events.
	Scope Scope `rule:"scope"`
	// OpsItemAccount is where its incidents' OpsItems are created:
	// OpsItemsCentral, OpsItemsMember, or "" for the deployment's
	// (Set.OpsItemAccount).
	OpsItemAccount string `rule:"opsItemAccount"`
	// File and Line locate the rule for messages.
	File string
	Line int
}

// Where OpsItems are created in an organization: in the deployment's own
// account, or in the account of the event (OpsCenter's cross-account
// OpsItems, from the Systems Manager delegated administrator).
const (
	OpsItemsCentral = "central"
	OpsItemsMember  = "member"
)

// AccessPortal is an IAM Identity Center access portal's URL and the
// permission set its console links sign responders in with.
type AccessPortal struct {
	URL  string
	Role string
}

// OpsItemAccountOf is where the OpsItems of the rule named name are
// created.
func (s *Set) OpsItemAccountOf(name string) string {
	if r := s.Rule(name); r != nil && r.OpsItemAccount != "" {
		return r.OpsItemAccount
	}
	if s.OpsItemAccount != "" {
		return s.OpsItemAccount
	}
	return OpsItemsCentral
}

// Scope is where a rule applies in an organization: events of these
// accounts (listed, or members of these organizational units as the
// rules' "organization" names them) and Regions. Empty lists mean any.
type Scope struct {
	Accounts []string
	OUs      []string
	Regions  []string
}

// IsZero says the scope limits nothing.
func (s Scope) IsZero() bool { return len(s.Accounts)+len(s.OUs)+len(s.Regions) == 0 }

// String is the scope as the review's digest shows it.
func (s Scope) String() string {
	var parts []string
	for _, f := range []struct {
		name string
		list []string
	}{{"accounts", s.Accounts}, {"ous", s.OUs}, {"regions", s.Regions}} {
		if len(f.list) > 0 {
			parts = append(parts, f.name+" "+strings.Join(f.list, ","))
		}
	}
	return strings.Join(parts, "; ")
}

// Runbook is an SSM Automation document offered on an OpsItem, with the
// parameters a responder would otherwise look up: templates over the event
// (its instance id, group id, ...).
type Runbook struct {
	Document   string
	Parameters map[string]*Template
	// AutoRun starts the automation when the incident's OpsItem is
	// created, as the role its AutomationAssumeRole parameter names.
	AutoRun bool
}

// String is r as the review's digest shows it: the document, then its
// parameters in name order.
func (r Runbook) String() string {
	names := make([]string, 0, len(r.Parameters))
	for n := range r.Parameters {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(r.Document)
	for i, n := range names {
		sep := " "
		if i > 0 {
			sep = ", "
		}
		b.WriteString(sep + n + "=" + r.Parameters[n].String())
	}
	if r.AutoRun {
		b.WriteString(" (runs by itself)")
	}
	return b.String()
}

// Threshold turns matching events into an incident only once Count of them
// fall within Window for one group key.
type Threshold struct {
	Count  int
	Window time.Duration
}

// Severity is one severity level with its response plan.
type Severity struct {
	Name string
	// OpsItemSeverity is OpsCenter's "1" (most severe) to "4".
	OpsItemSeverity string
	// Priority is OpsCenter's priority, 1 (highest) to 5.
	Priority int
	// Notify lists SNS topic ARNs OpsCenter notifies on changes.
	Notify []string
	// Runbooks lists SSM Automation documents offered on the OpsItem.
	Runbooks []string
	// ResponseTime is how soon a responder is expected to act.
	ResponseTime time.Duration
	// Plan is the severity's own response plan; a category's plan
	// (Set.Plans) overrides what it sets.
	Plan
	// Analysis asks for a post-incident analysis of each incident once it
	// resolves.
	Analysis bool
}

// Plan is a response plan: its fields are empty where it leaves them to a
// less specific plan.
type Plan struct {
	// Steps are what to do, in order (Markdown, shown in the OpsItem).
	Steps []string
	// Owner is the role that owns the response.
	Owner Owner
	// EscalateTo are the contacts notified in turn, one each time the
	// response time passes with the OpsItem still Open.
	EscalateTo []string
}

// Owner is the role that owns a severity's response: a name responders
// know it by and the SNS topic (or DefaultTopic) that reaches it, which
// OpsCenter notifies besides Notify.
type Owner struct {
	Name   string
	Notify string
}

// PlanFor is the response plan of an incident of category and severity:
// each of its steps, owner and escalation contacts from the most specific
// plan that sets it, of the plans "category/severity", "category", and
// the severity's own.
func (s *Set) PlanFor(category, severity string) Plan {
	var p Plan
	var from []*Plan
	if category != "" {
		from = append(from, s.Plans[category+"/"+severity], s.Plans[category])
	}
	if sev := s.Severities[severity]; sev != nil {
		from = append(from, &sev.Plan)
	}
	for _, q := range from {
		if q == nil {
			continue
		}
		if p.Steps == nil {
			p.Steps = q.Steps
		}
		if p.Owner.Name == "" {
			p.Owner = q.Owner
		}
		if p.EscalateTo == nil {
			p.EscalateTo = q.EscalateTo
		}
	}
	return p
}

// Recurrence says when repeated incidents of one fingerprint form a problem.
type Recurrence struct {
	Count  int
	Window time.Duration
	// Accounts, when set, makes the same failure in this many accounts
	// within Window one problem across accounts; 0 does not count it.
	Accounts int
}

// Escalation raises an open incident's severity one step once it has repeated
// Factor times its threshold (or Factor times, for rules without one).
// Factor 0 disables escalation.
type Escalation struct {
	Factor int
}

// Flapping holds an incident open, marked flapping, once it has recovered more
// than Transitions times within Window. Transitions 0 disables detection.
type Flapping struct {
	Transitions int
	Window      time.Duration
}

// Defaults apply to every incident rule that does not set its own.
type Defaults struct {
	Escalation Escalation
	Flapping   Flapping
}

// builtinDefaults are used when no file sets "defaults".
var builtinDefaults = Defaults{
	Escalation: Escalation{Factor: 10},
	Flapping:   Flapping{Transitions: 3, Window: time.Hour},
}

// builtinRecurrence is used when no file sets "problems".
var builtinRecurrence = Recurrence{Count: 3, Window: 7 * 24 * time.Hour}

// Rule returns the rule named name, or nil.
func (s *Set) Rule(name string) *Rule {
	for _, r := range s.Rules {
		if r.Name == name {
			return r
		}
	}
	return nil
}

// Rank is a severity's position in Order: 0 is the most severe; unknown
// severities rank last.
func (s *Set) Rank(severity string) int {
	for i, name := range s.Order {
		if name == severity {
			return i
		}
	}
	return len(s.Order)
}

// Escalate returns the severity one step more severe than severity, or
// severity itself when it is already the most severe.
func (s *Set) Escalate(severity string) string {
	if i := s.Rank(severity); i > 0 && i < len(s.Order) {
		return s.Order[i-1]
	}
	return severity
}
