// Package problems records recurring incidents as problems: when one
// fingerprint opens incidents count times within window, a problem is
// recorded with what a root-cause analysis needs: the linked OpsItems, the
// changes that preceded its incidents (suspected causes), time to resolve
// and time between failures. Later incidents of the same fingerprint are
// linked to it; a resolved problem that recurs reopens.
package problems

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/opsloop/opsloop/internal/analysis"
	"github.com/opsloop/opsloop/internal/changelog"
)

// Status is where a problem stands.
type Status string

// The statuses of a record. Candidate records count a fingerprint's
// incidents until they recur often enough to be a problem; the others are
// problems.
const (
	Candidate  Status = "candidate"
	Open       Status = "open"
	KnownError Status = "known-error"
	Resolved   Status = "resolved"
)

// Statuses lists the statuses of problems, in report order.
var Statuses = []Status{Open, KnownError, Resolved}

// Valid reports whether s is a status of problems (not Candidate).
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Errors of the package.
var (
	// ErrConflict is returned by a Store when a conditional write lost a race.
	ErrConflict = errors.New("conditional write conflict")
	// ErrNotFound is returned for a key that names no problem.
	ErrNotFound = errors.New("no such problem")
	// ErrInvalid marks input that can never be handled: retrying it is useless.
	ErrInvalid = errors.New("invalid input")
)

// Bounds that keep a problem item well inside DynamoDB's 400 KB.
const (
	// MaxHistory is how many incidents a problem keeps, the newest.
	MaxHistory = 100
	// MaxCauses is how many suspected causes a problem keeps, the best ranked.
	MaxCauses = 50
	// MaxResources is how many resources a problem keeps and looks up.
	MaxResources = 20
	// MaxRelated is how many OpsItems one OpsItem may relate to in OpsCenter.
	MaxRelated = 10
)

// Key is the problem key of a fingerprint: stable, short enough to type,
// and the same wherever it is computed. One fingerprint is one problem.
func Key(fingerprint string) string {
	sum := sha256.Sum256([]byte(fingerprint))
	return "P-" + hex.EncodeToString(sum[:6])
}

// Problem is one fingerprint's record: a candidate while its incidents have
// not yet recurred often enough, a problem once they have.
type Problem struct {
	Key         string   `json:"key"`
	Fingerprint string   `json:"fingerprint"`
	Rule        string   `json:"rule"`
	Title       string   `json:"title"`
	Severity    string   `json:"severity,omitempty"`
	Category    string   `json:"category,omitempty"`
	Resources   []string `json:"resources,omitempty"`
	Status      Status   `json:"status"`
	// Note is the operator's note with the last status change.
	Note          string    `json:"note,omitempty"`
	StatusChanged time.Time `json:"statusChanged,omitzero"`
	// Recorded is when the recurrence made the record a problem: the time
	// of the incident that completed it.
	Recorded time.Time `json:"recorded,omitzero"`
	// Recurrence is what made it a problem: Count incidents within Window.
	Recurrence Recurrence `json:"recurrence"`
	FirstSeen  time.Time  `json:"firstSeen"`
	LastSeen   time.Time  `json:"lastSeen"`
	// Incidents counts every incident linked, including those History no
	// longer keeps.
	Incidents int `json:"incidents"`
	// OpsItems are the linked OpsItem ids, oldest first (those History keeps).
	OpsItems []string `json:"opsItems"`
	// Reopened counts how often the problem recurred after it was resolved.
	Reopened int `json:"reopened,omitempty"`
	// History holds the newest MaxHistory incidents, oldest first.
	History []Occurrence `json:"history"`
	// SuspectedCauses are the changes that preceded the incidents, best
	// ranked first (see Rank).
	SuspectedCauses []Cause `json:"suspectedCauses"`
	// ResolvedIncidents counts the incidents in History with a known
	// resolution; MTTRSeconds is their mean time to resolve and
	// MTBFSeconds the mean time from one incident's resolution to the
	// next incident (0 while unknown).
	ResolvedIncidents int   `json:"resolvedIncidents"`
	MTTRSeconds       int64 `json:"mttrSeconds,omitempty"`
	MTBFSeconds       int64 `json:"mtbfSeconds,omitempty"`
	// Spread marks a failure across accounts (its Fingerprint's account
	// and Region are "*"): it is a problem once the rules' recurrence
	// "accounts" have had it within the window (Recurrence.Count is that
	// number), and its suspected causes are shared changes
	// (changelog.Organization).
	Spread bool `json:"spread,omitempty"`
	// Version guards every write: a Put succeeds only over the version it read.
	Version int64 `json:"version"`
}

// Recurrence says when repeated incidents form a problem.
type Recurrence struct {
	Count         int   `json:"count"`
	WindowSeconds int64 `json:"windowSeconds"`
}

// Window is the recurrence window.
func (r Recurrence) Window() time.Duration { return time.Duration(r.WindowSeconds) * time.Second }

// MTTR is the mean time to resolve the problem's incidents.
func (p *Problem) MTTR() time.Duration { return time.Duration(p.MTTRSeconds) * time.Second }

// MTBF is the mean time between the problem's failures: from one
// incident's resolution to the next incident.
func (p *Problem) MTBF() time.Duration { return time.Duration(p.MTBFSeconds) * time.Second }

// Occurrence is one incident of a problem.
type Occurrence struct {
	OpsItemID string    `json:"opsItemId,omitempty"`
	Account   string    `json:"account,omitempty"`
	EventID   string    `json:"eventId,omitempty"`
	Opened    time.Time `json:"opened"`
	Resolved  time.Time `json:"resolved,omitzero"`
	// Occurrences counts the events the incident coalesced, when resolved.
	Occurrences int  `json:"occurrences,omitempty"`
	Flapping    bool `json:"flapping,omitempty"`
	// Analysis says the incident has a post-incident analysis (its
	// severity asks for one), under its OpsItem id.
	Analysis bool `json:"analysis,omitempty"`
}

// TimeToResolve is how long the incident was open, or 0 while it is.
func (o Occurrence) TimeToResolve() time.Duration {
	if o.Resolved.IsZero() || o.Resolved.Before(o.Opened) {
		return 0
	}
	return o.Resolved.Sub(o.Opened)
}

// Cause is a change suspected of causing a problem: it preceded Incidents
// of the problem's incidents within the lookback. It names the change so a
// responder can verify it in CloudTrail or AWS Config.
type Cause struct {
	EventID string `json:"eventId"`
	// EventName is the API call (CloudTrail), or for changes without one
	// (AWS Config items) the change's title.
	EventName string    `json:"eventName"`
	Principal string    `json:"principal,omitempty"`
	Time      time.Time `json:"time"`
	// Resource is the changed resource: one of the incidents' resources,
	// or one related to Via.
	Resource string `json:"resource"`
	// Via is the incident's resource that Resource is related to; empty
	// when the change was to an incident's resource itself.
	Via   string `json:"via,omitempty"`
	Rule  string `json:"rule,omitempty"`
	Title string `json:"title,omitempty"`
	// Incidents counts the problem's incidents the change preceded.
	Incidents int `json:"incidents"`
}

// Rank orders causes best first: by how many of the problem's incidents
// they preceded, then the more recent change, then by event id.
func Rank(cs []Cause) {
	slices.SortStableFunc(cs, func(a, b Cause) int {
		if a.Incidents != b.Incidents {
			return b.Incidents - a.Incidents
		}
		if c := b.Time.Compare(a.Time); c != 0 {
			return c
		}
		switch {
		case a.EventID < b.EventID:
			return -1
		case a.EventID > b.EventID:
			return 1
		}
		return 0
	})
}

// IsProblem reports whether the record is a problem rather than a candidate.
func (p *Problem) IsProblem() bool { return p.Status.Valid() }

// Clone returns a deep copy of p.
func (p *Problem) Clone() *Problem {
	if p == nil {
		return nil
	}
	c := *p
	c.Resources = slices.Clone(p.Resources)
	c.OpsItems = slices.Clone(p.OpsItems)
	c.History = slices.Clone(p.History)
	c.SuspectedCauses = slices.Clone(p.SuspectedCauses)
	return &c
}

// Incident is an opened incident, as the detail of "Incident Opened" on the
// opsloop bus carries it (its JSON form decodes from that detail).
type Incident struct {
	OpsItemID   string    `json:"opsItemId"`
	Fingerprint string    `json:"fingerprint"`
	Rule        string    `json:"rule"`
	Title       string    `json:"title"`
	Severity    string    `json:"severity,omitempty"`
	Category    string    `json:"category,omitempty"`
	Resources   []string  `json:"resources,omitempty"`
	Opened      time.Time `json:"opened"`
	EventID     string    `json:"eventId"`
	// What the post-incident analysis keeps besides.
	Account string            `json:"account,omitempty"`
	Region  string            `json:"region,omitempty"`
	Created time.Time         `json:"created,omitzero"`
	Changes []analysis.Change `json:"changes,omitempty"`
}

// Resolution is the end of an incident: the detail of "Incident Resolved"
// (its JSON form decodes from that detail), or an OpsItem resolved in
// OpsCenter, which names only the OpsItem.
type Resolution struct {
	OpsItemID   string    `json:"opsItemId"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Resolved    time.Time `json:"resolved"`
	Occurrences int       `json:"occurrences,omitempty"`
	Flapping    bool      `json:"flapping,omitempty"`
	// Opened is when the incident opened: its incident log entry's time.
	// OpsCenter's events lack it (see Complete).
	Opened time.Time `json:"opened,omitzero"`
	// ResolvedBy is who resolved the OpsItem, as OpsCenter's event says
	// (an IAM ARN); opsloop's own events leave it empty.
	ResolvedBy string `json:"-"`
	// Severity and Resolution (what resolved it) come with opsloop's own
	// "Incident Resolved" only.
	Severity   string `json:"severity,omitempty"`
	Resolution string `json:"resolution,omitempty"`
}

// Acknowledgement is a responder setting an incident's OpsItem In progress
// in OpsCenter.
type Acknowledgement struct {
	OpsItemID string
	At        time.Time
}

// Escalation is the detail of "Incident Escalated": the incident's OpsItem
// was left Open past its response time.
type Escalation struct {
	OpsItemID string    `json:"opsItemId"`
	Severity  string    `json:"severity,omitempty"`
	Step      int       `json:"step"`
	Priority  int       `json:"priority,omitempty"`
	Contact   string    `json:"contact,omitempty"`
	At        time.Time `json:"-"` // the event's time
}

// Store keeps problem records, one item per key, with single-item
// conditional writes only.
//
// The DynamoDB layout expected, in the table shared with the other
// functions:
//
//	pk             sk        attributes
//	prb#<key>      problem   problem (JSON), version (N), status, rule, fingerprint,
//	                         gsi1pk = status, gsi1sk = lastSeen (UTC, fixed width) + "#" + key,
//	                         expiresAt = lastSeen + recurrence window, for candidates only
//	prbopsitem#<OpsItem id>  link      key
//	rel#<resource>  <related resource>  at (last seen together), expiresAt
//
// Put is a PutItem with the condition "attribute_not_exists(pk)" for
// version 0 and "version = :read" otherwise. List queries the byStatus
// index (gsi1pk = status), newest lastSeen first. Problems never expire;
// candidates expire once their incidents fall out of the window.
type Store interface {
	// Get returns the record of key, or nil when there is none.
	Get(ctx context.Context, key string) (*Problem, error)
	// Put writes p if the stored record's version is p.Version (0: no
	// record may exist yet) and stores it as version p.Version+1;
	// otherwise it returns an error wrapping ErrConflict and writes
	// nothing. It neither keeps nor changes p.
	Put(ctx context.Context, p *Problem) error
	// List returns the records of status, the most recently seen first.
	List(ctx context.Context, status Status) ([]Problem, error)
	// Link returns the key an OpsItem belongs to, as links written before
	// OpsItems were described by OpsItems say, or "" when unknown.
	Link(ctx context.Context, opsItemID string) (string, error)
}

// OpsItems describes opsloop's OpsItems: the incident an OpsItem is of, as
// the incidents function wrote it on the OpsItem (its fingerprint and
// opening). OpsCenter's events name only the OpsItem; this finds its
// problem and log entry with no item of opsloop's per incident.
type OpsItems interface {
	// Incident returns the fingerprint and opening of the OpsItem's
	// incident; "" when the OpsItem is not opsloop's, or is gone.
	Incident(ctx context.Context, opsItemID string) (fingerprint string, opened time.Time, err error)
}

// Complete fills in the fingerprint and opening of a resolution that names
// only its OpsItem, from the OpsItem. Anyone allowed to edit the OpsItem
// could have changed what it says: that only chooses where the resolution
// is looked for, since a problem's history and the incident log are matched
// by OpsItem id too.
func Complete(ctx context.Context, r Resolution, o OpsItems) (Resolution, error) {
	if r.Fingerprint != "" || o == nil {
		return r, nil
	}
	fp, opened, err := o.Incident(ctx, r.OpsItemID)
	if err != nil {
		return r, fmt.Errorf("describe OpsItem %s: %w", r.OpsItemID, err)
	}
	if fp != "" {
		r.Fingerprint, r.Opened = fp, opened
	}
	return r, nil
}

// Changes looks up the change log: the changes recorded for a resource
// within (before-lookback, before], oldest first. The state stores of
// classification (memory.Store, the DynamoDB table) implement it.
type Changes interface {
	Changes(ctx context.Context, resource string, before time.Time, lookback time.Duration) ([]changelog.Change, error)
}

// ChangesFunc adapts a function to Changes.
type ChangesFunc func(ctx context.Context, resource string, before time.Time, lookback time.Duration) ([]changelog.Change, error)

// Changes implements Changes.
func (f ChangesFunc) Changes(ctx context.Context, resource string, before time.Time, lookback time.Duration) ([]changelog.Change, error) {
	return f(ctx, resource, before, lookback)
}

// Relations is the relation index: resources named together by one change
// (an instance and its security group in RunInstances or CreateTags) are
// related, and a change to one may explain an incident of the other.
type Relations interface {
	// Relate records that resource is related to each of related, at t.
	Relate(ctx context.Context, resource string, related []string, t time.Time) error
	// Related returns the resources related to resource, the most recently
	// related first.
	Related(ctx context.Context, resource string) ([]string, error)
}

// Relater relates OpsItems to one another in OpsCenter, so a responder
// sees a problem's other incidents from any of them. The incidents adapter
// implements it with UpdateOpsItem's RelatedOpsItems.
type Relater interface {
	// Relate sets related (at most MaxRelated ids) as opsItemID's related OpsItems.
	Relate(ctx context.Context, opsItemID string, related []string) error
}

// RelaterFunc adapts a function to Relater.
type RelaterFunc func(ctx context.Context, opsItemID string, related []string) error

// Relate implements Relater.
func (f RelaterFunc) Relate(ctx context.Context, opsItemID string, related []string) error {
	return f(ctx, opsItemID, related)
}
