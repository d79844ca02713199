// Package incidents owns the OpsItem lifecycle: one open OpsItem per
// fingerprint, repeats coalesced into sparse updates, recoveries resolving it.
package incidents

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/opsloop/opsloop/internal/signal"
)

// Detail types of the lifecycle's own events on the opsloop bus.
const (
	DetailOpened   = "Incident Opened"
	DetailResolved = "Incident Resolved"
)

// ErrLimitExceeded is returned by an OpsCenter when the account may create no
// more OpsItems (OpsItemLimitExceededException): kept and counted, not retried.
var ErrLimitExceeded = errors.New("OpsItem limit exceeded")

// ErrConflict is returned by a Store when a conditional write lost a race.
var ErrConflict = errors.New("conditional write conflict")

// OpsCenter is the part of Systems Manager OpsCenter the lifecycle uses.
type OpsCenter interface {
	// Create opens an OpsItem. When OpsCenter's dedup finds an open OpsItem
	// with the same dedup string, Create returns that OpsItem's id and
	// existing true: that is the open incident, not a failure.
	Create(ctx context.Context, item OpsItem) (id string, existing bool, err error)
	// Update changes the fields set in u.
	Update(ctx context.Context, id string, u Update) error
}

// OpsItem is a new OpsItem as OpsCenter takes it.
type OpsItem struct {
	Title           string
	Description     string
	Source          string
	Severity        string // "1".."4"
	Priority        int    // 1..5
	Category        string
	OperationalData map[string]Data
	Notifications   []string // SNS topic ARNs
	RelatedOpsItems []string
	// AccountID, when set, creates the OpsItem in that account (OpsCenter's
	// cross-account support); OpsCenter then names it by its ARN, which is
	// the id Create returns and later calls take.
	AccountID string
}

// Data is one OperationalData value.
type Data struct {
	Value string `json:"value"`
	// Searchable makes the value visible to everyone who can search OpsItems.
	Searchable bool `json:"searchable,omitempty"`
}

// Update is a change to an OpsItem; empty fields are left as they are.
type Update struct {
	Title           string
	Description     string
	Status          string // "Open", "InProgress", "Resolved"
	Severity        string
	Priority        int
	OperationalData map[string]Data
	RelatedOpsItems []string
	// Notifications replaces the OpsItem's topics when set (escalation
	// adds a contact).
	Notifications []string
	// DeleteData are OperationalData keys removed.
	DeleteData []string
}

// Record is the state of one fingerprint's current or last incident.
type Record struct {
	Fingerprint string    `json:"fingerprint"`
	OpsItemID   string    `json:"opsItemId,omitempty"` // empty while the OpsItem is being created
	Status      string    `json:"status"`              // StatusOpen or StatusResolved
	Rule        string    `json:"rule"`
	Title       string    `json:"title"`
	Severity    string    `json:"severity,omitempty"`
	Category    string    `json:"category,omitempty"`
	Resources   []string  `json:"resources,omitempty"`
	Occurrences int       `json:"occurrences"`
	Synced      int       `json:"synced"` // occurrences last written to OpsCenter
	FirstSeen   time.Time `json:"firstSeen"`
	LastSeen    time.Time `json:"lastSeen"`
	SyncedAt    time.Time `json:"syncedAt"`
	ResolvedAt  time.Time `json:"resolvedAt,omitzero"`
	Flapping    bool      `json:"flapping,omitempty"`
	// Recent holds digests of the ids of the last signals applied (see
	// Remembers), so a redelivered signal changes nothing. Digests keep a
	// storm's record small: 64 event ids would be 2.5 KB of every write.
	Recent []string `json:"recent,omitempty"`
	// Version guards every write: a Put succeeds only over the version it read.
	Version int64 `json:"version"`

	// OpsItemSeverity and Priority are the OpsItem's current values: they
	// only ever rise while the incident is open.
	OpsItemSeverity string `json:"opsItemSeverity,omitempty"`
	Priority        int    `json:"priority,omitempty"`
	// Plan is the response plan of the current severity.
	Plan signal.Plan `json:"plan,omitzero"`
	// First is the signal that opened the incident: what the OpsItem
	// describes. Its excerpt is shortened before it is stored.
	First *signal.Signal `json:"first,omitempty"`
	// Changes are the changes to the resources in the lookback before the
	// incident opened, newest first.
	Changes []Change `json:"changes,omitempty"`
	// Previous are the OpsItem ids of the fingerprint's earlier incidents,
	// oldest first: the new OpsItem's related OpsItems.
	Previous []string `json:"previous,omitempty"`
	// Resolution says what resolved the incident, and when.
	Resolution string `json:"resolution,omitempty"`
	// PreviousResolved is when the fingerprint's previous incident
	// recovered: a detection older than that belongs to it, not to this one.
	PreviousResolved time.Time `json:"previousResolved,omitzero"`
	// Retitled is the occurrence milestone at which a title change last
	// caused an Update: one such Update per milestone interval at most.
	Retitled int `json:"retitled,omitempty"`
	// LimitedAt is when OpsCenter last refused to create the OpsItem
	// because of its quotas, and Limited how many times it did.
	LimitedAt time.Time `json:"limitedAt,omitzero"`
	Limited   int       `json:"limited,omitempty"`
	// Budget is the opening signal's OpsItem budget, and Granted says it
	// counted this incident's OpsItem (asked once per incident).
	Budget  signal.Budget `json:"budget,omitzero"`
	Granted bool          `json:"granted,omitempty"`
	// HeldAt is when the budget last held the incident back, HeldWhy which
	// cap did, and RolledUp whether its roll-up OpsItem counted that hold.
	HeldAt   time.Time `json:"heldAt,omitzero"`
	HeldWhy  string    `json:"heldWhy,omitempty"`
	RolledUp bool      `json:"rolledUp,omitempty"`
	// Rollup marks a rule's roll-up record of a day: HeldBack lists the
	// incidents held back into it (at most maxHeldListed), HeldMore counts
	// the holds of incidents beyond those.
	Rollup   bool           `json:"rollup,omitempty"`
	HeldBack []HeldIncident `json:"heldBack,omitempty"`
	HeldMore int            `json:"heldMore,omitempty"`
	// DueAt is when the response is next due: the OpsItem is escalated if
	// still Open then. Escalated counts the escalations made.
	DueAt     time.Time `json:"dueAt,omitzero"`
	Escalated int       `json:"escalated,omitempty"`
	// Owed is the OpsCenter call the record owes: the creation of its
	// OpsItem, or the update (or resolution) for the signal Pending.
	Owed Call `json:"owed,omitempty"`
	// Claimed is when a worker claimed the call the record owes (Owed). While the claim is recent (the claim grace) other
	// workers wait for it instead of making the same call; a worker whose
	// call failed gives the claim up (zero), one that died is taken over
	// once the grace has passed.
	Claimed time.Time `json:"claimed,omitzero"`
	// Pending is the id of the signal whose UpdateOpsItem is owed: written
	// before the call and cleared after it, so that no update is lost and
	// none is made twice.
	Pending string `json:"pending,omitempty"`
	// Recovery is the newest recovery that found no open incident. A
	// detection no newer than it that arrives late (a dead letter redriven
	// after the recovery went through) opens its OpsItem and resolves it at
	// once, as if the two had come in order.
	Recovery *signal.Signal `json:"recovery,omitempty"`
	// Expires is when the store may delete a record that only keeps a
	// Recovery (zero: never).
	Expires time.Time `json:"expires,omitzero"`
}

// Clone returns a deep copy of r, so stores can keep records no caller
// can change.
func (r *Record) Clone() *Record {
	if r == nil {
		return nil
	}
	c := *r
	c.Resources = slices.Clone(r.Resources)
	c.Recent = slices.Clone(r.Recent)
	c.Changes = slices.Clone(r.Changes)
	c.Previous = slices.Clone(r.Previous)
	c.Plan = r.Plan.Clone()
	c.First = r.First.Clone()
	c.Recovery = r.Recovery.Clone()
	c.HeldBack = slices.Clone(r.HeldBack)
	return &c
}

// Call is an OpsCenter call a record owes.
type Call string

// The calls a record owes.
const (
	// CallNone: the OpsItem is as the record says, or there is none to have.
	CallNone Call = ""
	// CallCreate: the incident is open and its OpsItem is still to be
	// created (creation interrupted, refused for OpsCenter's quota, or held
	// back by the budget).
	CallCreate Call = "create"
	// CallUpdate: an UpdateOpsItem for the signal Pending.
	CallUpdate Call = "update"
	// CallResolve: the UpdateOpsItem resolving the OpsItem, for the
	// recovery Pending, then its history and "Incident Resolved".
	CallResolve Call = "resolve"
)

// upgrade sets Owed on a record written before it was kept, from the
// fields that told it then.
func (r *Record) upgrade() {
	if r == nil || r.Owed != CallNone {
		return
	}
	switch {
	case r.Status == StatusOpen && r.OpsItemID == "" && r.Fingerprint != "":
		r.Owed = CallCreate
	case r.Pending != "" && r.Status == StatusResolved:
		r.Owed = CallResolve
	case r.Pending != "":
		r.Owed = CallUpdate
	}
}

// Record statuses.
const (
	StatusOpen     = "open"
	StatusResolved = "resolved"
)

// Store keeps incident records, one item per fingerprint, with single-item
// conditional writes only.
type Store interface {
	// Get returns the record of fingerprint, or nil when there is none.
	Get(ctx context.Context, fingerprint string) (*Record, error)
	// Put writes rec if the stored record's version is rec.Version (0: no
	// record may exist yet) and stores it as version rec.Version+1;
	// otherwise it returns ErrConflict and writes nothing. It neither keeps
	// nor changes rec.
	Put(ctx context.Context, rec *Record) error
	// AddHistory keeps a resolved incident in the fingerprint's history.
	AddHistory(ctx context.Context, h History) error
}

// History is one past incident of a fingerprint.
type History struct {
	Fingerprint string    `json:"fingerprint"`
	OpsItemID   string    `json:"opsItemId"`
	Rule        string    `json:"rule"`
	Opened      time.Time `json:"opened"`
	Resolved    time.Time `json:"resolved"`
	Occurrences int       `json:"occurrences"`
}
