package memory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/opsloop/opsloop/internal/event"

	"github.com/opsloop/opsloop/internal/incidents"
)

// Errors of OpsCenter, named after the service's exceptions.
var (
	// ErrInvalidParameter is OpsItemInvalidParameterException: the request
	// breaks one of OpsCenter's limits. It is permanent.
	ErrInvalidParameter = errors.New("OpsItemInvalidParameterException")
	// ErrNotFound is OpsItemNotFoundException.
	ErrNotFound = errors.New("OpsItemNotFoundException")
)

// OpsCenter is an in-memory Systems Manager OpsCenter for replay and tests.
// It checks every request against the limits the real service enforces and
// refuses what breaks them, deduplicates creations on /aws/dedup among open
// OpsItems, and counts the calls made. Its zero value is ready to use and
// it is safe for concurrent use.
type OpsCenter struct {
	// MonthlyLimit, when positive, is the number of OpsItems that may be
	// created per calendar month before Create returns
	// incidents.ErrLimitExceeded, as OpsCenter's quota of 10,000 per account
	// per month does.
	MonthlyLimit int
	// Now is the clock (time.Now when nil).
	Now func() time.Time

	mu      sync.Mutex
	items   []*Item
	byID    map[string]*Item
	monthly map[string]int
	stats   OpsCenterStats
}

var _ incidents.OpsCenter = (*OpsCenter)(nil)

// NewOpsCenter returns an empty OpsCenter.
func NewOpsCenter() *OpsCenter { return &OpsCenter{} }

// OpsCenterStats counts the calls an OpsCenter received.
type OpsCenterStats struct {
	// Creates counts CreateOpsItem calls, Created those that made an OpsItem,
	// Deduplicated those answered with an open OpsItem's id, Refused those
	// refused for the monthly limit, Invalid those refused as invalid.
	Creates, Created, Deduplicated, Refused, Invalid int
	// Updates counts UpdateOpsItem calls, Listed the listings of Open
	// OpsItems (DescribeOpsItems).
	Updates, Listed int
}

// Item is an OpsItem as OpsCenter keeps it, with the opsloop facts read
// from its OperationalData for reports.
type Item struct {
	ID              string                    `json:"id"`
	Title           string                    `json:"title"`
	Description     string                    `json:"description"`
	Source          string                    `json:"source"`
	Status          string                    `json:"status"`
	Severity        string                    `json:"severity,omitempty"`
	Priority        int                       `json:"priority,omitempty"`
	Category        string                    `json:"category,omitempty"`
	Notifications   []string                  `json:"notifications,omitempty"`
	RelatedOpsItems []string                  `json:"relatedOpsItems,omitempty"`
	OperationalData map[string]incidents.Data `json:"operationalData"`
	Created         time.Time                 `json:"created"`
	Modified        time.Time                 `json:"modified"`
	// Updates counts the UpdateOpsItem calls this OpsItem received.
	Updates int `json:"updates"`

	Fingerprint string   `json:"fingerprint,omitempty"`
	Rule        string   `json:"rule,omitempty"`
	Occurrences int      `json:"occurrences,omitempty"`
	Resources   []string `json:"resources,omitempty"`
	dedup       string
	account     string // created in another account
}

func (o *OpsCenter) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Create implements incidents.OpsCenter.
func (o *OpsCenter) Create(_ context.Context, in incidents.OpsItem) (string, bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stats.Creates++
	if err := checkCreate(in); err != nil {
		o.stats.Invalid++
		return "", false, err
	}
	dedup := dedupString(in.OperationalData)
	if dedup != "" {
		for _, it := range o.items {
			// "If the existing OpsItem is resolved, Systems Manager creates
			// a new OpsItem"; dedup strings aren't case sensitive.
			if it.Status != incidents.StatusOpsItemResolved && strings.EqualFold(it.dedup, dedup) {
				o.stats.Deduplicated++
				return it.ID, true, nil
			}
		}
	}
	now := o.now()
	month := now.UTC().Format("2006-01")
	if o.MonthlyLimit > 0 && o.monthly[month] >= o.MonthlyLimit {
		o.stats.Refused++
		return "", false, fmt.Errorf("create OpsItem: %d OpsItems created in %s: %w", o.monthly[month], month, incidents.ErrLimitExceeded)
	}
	if o.byID == nil {
		o.byID, o.monthly = map[string]*Item{}, map[string]int{}
	}
	o.monthly[month]++
	o.stats.Created++
	it := &Item{
		ID:              fmt.Sprintf("oi-%012x", len(o.items)+1),
		Title:           in.Title,
		Description:     in.Description,
		Source:          in.Source,
		Status:          incidents.StatusOpsItemOpen,
		Severity:        in.Severity,
		Priority:        in.Priority,
		Category:        in.Category,
		Notifications:   slices.Clone(in.Notifications),
		RelatedOpsItems: slices.Clone(in.RelatedOpsItems),
		OperationalData: maps.Clone(in.OperationalData),
		Created:         now,
		Modified:        now,
		dedup:           dedup,
		account:         in.AccountID,
	}
	if it.OperationalData == nil {
		it.OperationalData = map[string]incidents.Data{}
	}
	o.items = append(o.items, it)
	o.byID[it.ID] = it
	return it.ID, false, nil
}

// Update implements incidents.OpsCenter.
func (o *OpsCenter) Update(_ context.Context, id string, u incidents.Update) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stats.Updates++
	it := o.byID[id]
	if it == nil {
		return incidents.Permanent(fmt.Errorf("update OpsItem %s: %w", id, ErrNotFound))
	}
	if err := checkUpdate(u); err != nil {
		o.stats.Invalid++
		return err
	}
	if _, ok := u.OperationalData[incidents.KeyDedup]; ok {
		// "After you create an OpsItem, you can't edit or change the
		// deduplication strings in that OpsItem."
		return invalid("OperationalData %s can't be changed after creation", incidents.KeyDedup)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&it.Title, u.Title)
	set(&it.Description, u.Description)
	set(&it.Status, u.Status)
	set(&it.Severity, u.Severity)
	if u.Priority != 0 {
		it.Priority = u.Priority
	}
	if u.RelatedOpsItems != nil {
		it.RelatedOpsItems = slices.Clone(u.RelatedOpsItems)
	}
	if u.Notifications != nil {
		it.Notifications = slices.Clone(u.Notifications)
	}
	// UpdateOpsItem adds new keys and edits existing ones, and removes
	// those it is told to.
	maps.Copy(it.OperationalData, u.OperationalData)
	for _, k := range u.DeleteData {
		delete(it.OperationalData, k)
	}
	it.Modified = o.now()
	it.Updates++
	return nil
}

// Status implements incidents.Responses.
func (o *OpsCenter) Status(_ context.Context, id string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	it := o.byID[id]
	if it == nil {
		return "", incidents.Permanent(fmt.Errorf("status of OpsItem %s: %w", id, ErrNotFound))
	}
	return it.Status, nil
}

// Open implements incidents.Responses.
func (o *OpsCenter) Open(_ context.Context) ([]incidents.OpenResponse, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []incidents.OpenResponse
	for _, it := range o.items {
		if it.Status != incidents.StatusOpsItemOpen || it.Source != incidents.Source || it.account != "" {
			// DescribeOpsItems lists the account's own OpsItems only.
			continue
		}
		if _, due := it.OperationalData[incidents.KeyDue]; !due {
			continue // as DescribeOpsItems filtered by the key
		}
		if r, ok := incidents.ResponseOf(it.ID, it.OperationalData); ok {
			out = append(out, r)
		}
	}
	o.stats.Listed++
	return out, nil
}

// SetStatus sets an OpsItem's status, as a responder does in the console.
func (o *OpsCenter) SetStatus(id, status string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if it := o.byID[id]; it != nil {
		it.Status = status
	}
}

// Items returns a copy of every OpsItem, in creation order.
func (o *OpsCenter) Items() []Item {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]Item, 0, len(o.items))
	for _, it := range o.items {
		c := *it
		c.Notifications = slices.Clone(it.Notifications)
		c.RelatedOpsItems = slices.Clone(it.RelatedOpsItems)
		c.OperationalData = maps.Clone(it.OperationalData)
		c.Fingerprint = it.OperationalData[incidents.KeyFingerprint].Value
		if c.Fingerprint == "" {
			c.Fingerprint = it.dedup
		}
		c.Rule = it.OperationalData[incidents.KeyRule].Value
		c.Occurrences, _ = strconv.Atoi(it.OperationalData[incidents.KeyOccurrences].Value)
		var rs []struct {
			ARN string `json:"arn"`
		}
		if json.Unmarshal([]byte(it.OperationalData[incidents.KeyResources].Value), &rs) == nil {
			for _, r := range rs {
				c.Resources = append(c.Resources, r.ARN)
			}
		}
		out = append(out, c)
	}
	return out
}

// Stats returns the calls counted so far.
func (o *OpsCenter) Stats() OpsCenterStats {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stats
}

func invalid(format string, args ...any) error {
	return incidents.Permanent(fmt.Errorf("%w: %s", ErrInvalidParameter, fmt.Sprintf(format, args...)))
}

// singleLine matches OpsCenter's "^(?!\s*$).+$": not blank, no line break.
func singleLine(s string) bool {
	return strings.TrimSpace(s) != "" && !strings.ContainsAny(s, "\r\n\u0085\u2028\u2029")
}

func checkString(field, v string, max int, required bool) error {
	switch {
	case v == "" && !required:
		return nil
	case !utf8.ValidString(v):
		return invalid("%s is not valid UTF-8", field)
	case !singleLine(v):
		return invalid("%s must be one line of visible text, got %q", field, v)
	case utf8.RuneCountInString(v) > max:
		return invalid("%s has %d characters, more than %d", field, utf8.RuneCountInString(v), max)
	}
	return nil
}

func checkDescription(v string, required bool) error {
	switch {
	case v == "" && !required:
		return nil
	case strings.TrimSpace(v) == "":
		return invalid("Description is blank")
	case !utf8.ValidString(v):
		return invalid("Description is not valid UTF-8")
	case utf8.RuneCountInString(v) > incidents.MaxDescription:
		return invalid("Description has %d characters, more than %d", utf8.RuneCountInString(v), incidents.MaxDescription)
	}
	return nil
}

func checkCreate(in incidents.OpsItem) error {
	if err := checkString("Title", in.Title, incidents.MaxTitle, true); err != nil {
		return err
	}
	if err := checkDescription(in.Description, true); err != nil {
		return err
	}
	if err := checkString("Source", in.Source, incidents.MaxSource, true); err != nil {
		return err
	}
	lower := strings.ToLower(in.Source)
	for _, bad := range []string{"aws", "amazon", "amzn"} {
		if strings.Contains(lower, bad) {
			return invalid("Source %q contains %q", in.Source, bad)
		}
	}
	for _, n := range in.Notifications {
		if !event.IsARN(n) {
			return invalid("notification %q is not an ARN", n)
		}
	}
	return checkCommon(in.Severity, in.Category, in.Priority, in.OperationalData, in.RelatedOpsItems)
}

func checkUpdate(u incidents.Update) error {
	if err := checkString("Title", u.Title, incidents.MaxTitle, false); err != nil {
		return err
	}
	if err := checkDescription(u.Description, false); err != nil {
		return err
	}
	switch u.Status {
	case "", incidents.StatusOpsItemOpen, "InProgress", incidents.StatusOpsItemResolved:
	default:
		return invalid("Status %q is not Open, InProgress or Resolved", u.Status)
	}
	return checkCommon(u.Severity, "", u.Priority, u.OperationalData, u.RelatedOpsItems)
}

func checkCommon(severity, category string, priority int, data map[string]incidents.Data, related []string) error {
	if err := checkString("Severity", severity, incidents.MaxSeverity, false); err != nil {
		return err
	}
	if err := checkString("Category", category, incidents.MaxCategory, false); err != nil {
		return err
	}
	if priority != 0 && (priority < incidents.MinPriority || priority > incidents.MaxPriority) {
		return invalid("Priority %d is outside %d..%d", priority, incidents.MinPriority, incidents.MaxPriority)
	}
	if len(related) > incidents.MaxRelated {
		return invalid("%d related OpsItems, more than %d", len(related), incidents.MaxRelated)
	}
	for k, v := range data {
		if err := checkString("OperationalData key", k, incidents.MaxDataKey, true); err != nil {
			return err
		}
		if incidents.ReservedKey(k) {
			return invalid("OperationalData key %q begins with a reserved prefix", k)
		}
		if strings.TrimSpace(v.Value) == "" {
			return invalid("OperationalData %s is blank", k)
		}
		if len(v.Value) > incidents.MaxDataValue {
			return invalid("OperationalData %s has %d bytes, more than %d", k, len(v.Value), incidents.MaxDataValue)
		}
		if !utf8.ValidString(v.Value) {
			return invalid("OperationalData %s is not valid UTF-8", k)
		}
	}
	if err := checkSystemData(data); err != nil {
		return err
	}
	return nil
}

// checkSystemData checks the values OpsCenter itself reads.
func checkSystemData(data map[string]incidents.Data) error {
	if d, ok := data[incidents.KeyResources]; ok {
		var rs []struct {
			ARN string `json:"arn"`
		}
		if err := json.Unmarshal([]byte(d.Value), &rs); err != nil {
			return invalid("%s is not a JSON array of {\"arn\": ...}: %v", incidents.KeyResources, err)
		}
		if len(rs) > incidents.MaxResources {
			return invalid("%s lists %d resources, more than %d", incidents.KeyResources, len(rs), incidents.MaxResources)
		}
		for _, r := range rs {
			if !event.IsARN(r.ARN) {
				return invalid("%s: %q is not an ARN", incidents.KeyResources, r.ARN)
			}
		}
	}
	if d, ok := data[incidents.KeyDedup]; ok {
		var v struct {
			DedupString string `json:"dedupString"`
		}
		if err := json.Unmarshal([]byte(d.Value), &v); err != nil || strings.TrimSpace(v.DedupString) == "" {
			return invalid("%s is not {\"dedupString\": ...}: %q", incidents.KeyDedup, d.Value)
		}
	}
	if d, ok := data[incidents.KeyAutomations]; ok {
		var as []struct {
			AutomationType string `json:"automationType"`
			AutomationID   string `json:"automationId"`
		}
		if err := json.Unmarshal([]byte(d.Value), &as); err != nil {
			return invalid("%s is not a JSON array of automations: %v", incidents.KeyAutomations, err)
		}
		for _, a := range as {
			if a.AutomationType != "AWS::SSM::Automation" || strings.TrimSpace(a.AutomationID) == "" {
				return invalid("%s: bad automation %+v", incidents.KeyAutomations, a)
			}
		}
	}
	return nil
}

func dedupString(data map[string]incidents.Data) string {
	var v struct {
		DedupString string `json:"dedupString"`
	}
	if json.Unmarshal([]byte(data[incidents.KeyDedup].Value), &v) != nil {
		return ""
	}
	return v.DedupString
}
