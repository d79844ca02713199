package awstest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// OpsCenter's documented limits, which the SSM endpoint enforces.
const (
	MaxTitle            = 1024
	MaxDescription      = 2048
	MaxSource           = 128
	MaxCategory         = 64
	MaxDataKey          = 128
	MaxDataValue        = 20000 // bytes: the stricter reading of "20 KB"
	MaxRelatedOpsItems  = 10
	MaxRelatedResources = 100 // ARNs in /aws/resources
	// MaxParameterValue is the value limit of an advanced-tier parameter.
	MaxParameterValue = 8 * 1024
)

// The OperationalData keys OpsCenter reserves for itself and accepts.
const (
	KeyDedup       = "/aws/dedup"
	KeyResources   = "/aws/resources"
	KeyAutomations = "/aws/automations"
)

var (
	opsItemIDPattern = regexp.MustCompile(`^(oi)-[0-9a-f]{12}$`)
	reservedPrefixes = []string{"amazon", "aws", "amzn", "ssm", "/amazon", "/aws", "/amzn", "/ssm"}
	allowedReserved  = map[string]bool{KeyDedup: true, KeyResources: true, KeyAutomations: true}
	opsItemStatuses  = []string{
		"Open", "InProgress", "Resolved", "Pending", "TimedOut", "Cancelling", "Cancelled", "Failed",
		"CompletedWithSuccess", "CompletedWithFailure", "Scheduled", "RunbookInProgress",
		"PendingChangeCalendarOverride", "ChangeCalendarOverrideApproved", "ChangeCalendarOverrideRejected",
		"PendingApproval", "Approved", "Revoked", "Rejected", "Closed",
	}
)

// OpsItem is an OpsItem as the SSM endpoint keeps it.
type OpsItem struct {
	ID               string
	Title            string
	Description      string
	Source           string
	Status           string
	Severity         string
	Category         string
	Priority         int
	OperationalData  map[string]OpsItemData
	Notifications    []string
	RelatedOpsItems  []string
	CreatedTime      time.Time
	LastModifiedTime time.Time
	// Updates counts the successful UpdateOpsItem calls on it.
	Updates int
	// Account is the account the OpsItem was created in through
	// OpsCenter's cross-account support; empty: the endpoint's own.
	Account string
	dedup   string
}

// OpsItemData is one OperationalData value.
type OpsItemData struct {
	Type  string
	Value string
}

// Parameter is a Parameter Store parameter.
type Parameter struct {
	Name         string
	Type         string // String, StringList or SecureString
	Value        string
	Version      int64
	LastModified time.Time
}

// SSM is a local Systems Manager endpoint: the OpsCenter operations
// CreateOpsItem (with /aws/dedup among open OpsItems), UpdateOpsItem,
// GetOpsItem and DescribeOpsItems, and Parameter Store's
// GetParametersByPath, with the documented validation and injected faults.
type SSM struct {
	// Faults decides which requests fail before they are handled.
	Faults *Faults

	ep *endpoint

	mu     sync.Mutex
	items  map[string]*OpsItem
	order  []string
	nextID int64
	limit  int
	params map[string]*Parameter
	runs   []Execution
	// members are the accounts OpsItems may be created in from this one.
	members map[string]bool
}

// AllowAccounts sets the endpoint up as OpsCenter's delegated
// administrator for accounts: CreateOpsItem may name them as AccountId,
// and their OpsItems are then updated and read by ARN. Without it a
// cross-account CreateOpsItem is refused, as by an account not set up.
func (s *SSM) AllowAccounts(accounts ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members == nil {
		s.members = map[string]bool{}
	}
	for _, a := range accounts {
		s.members[a] = true
	}
}

// lookup finds the OpsItem a request names by id and, for another
// account's, ARN. The caller holds s.mu.
func (s *SSM) lookup(id string, arn *string) (*OpsItem, *apiError) {
	it, ok := s.items[id]
	if ok && arn == nil && it.Account == "" {
		return it, nil
	}
	if ok && arn != nil && *arn == opsItemARNIn(it.Account, it.ID) {
		return it, nil
	}
	return nil, &apiError{status: http.StatusBadRequest, code: "OpsItemNotFoundException", messageKey: "Message", message: "The specified OpsItem ID doesn't exist."}
}

// Execution is an automation StartAutomationExecution started.
type Execution struct {
	ID          string
	Document    string
	Parameters  map[string][]string
	ClientToken string
}

// NewSSM starts an SSM endpoint; Close stops it.
func NewSSM() *SSM {
	s := &SSM{Faults: &Faults{}, items: map[string]*OpsItem{}, params: map[string]*Parameter{}}
	s.ep = newEndpoint("AmazonSSM.", "ssm", s.Faults)
	s.ep.ops["CreateOpsItem"] = s.createOpsItem
	s.ep.ops["UpdateOpsItem"] = s.updateOpsItem
	s.ep.ops["GetOpsItem"] = s.getOpsItem
	s.ep.ops["DescribeOpsItems"] = s.describeOpsItems
	s.ep.ops["GetParametersByPath"] = s.getParametersByPath
	s.ep.ops["StartAutomationExecution"] = s.startAutomation
	return s
}

// Executions returns the automations started, in order.
func (s *SSM) Executions() []Execution {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.runs)
}

var (
	clientTokenRE  = regexp.MustCompile(`^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$`)
	documentNameRE = regexp.MustCompile(`^[a-zA-Z0-9_\-.:/]{3,128}$`)
)

// startAutomation starts nothing but records the run; a ClientToken seen
// before returns that run's id, as the idempotency token does.
func (s *SSM) startAutomation(body []byte) (any, *apiError) {
	var req struct {
		DocumentName string              `json:"DocumentName"`
		Parameters   map[string][]string `json:"Parameters"`
		ClientToken  string              `json:"ClientToken"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, validation("%v", err)
	}
	if !documentNameRE.MatchString(req.DocumentName) {
		return nil, validation("DocumentName %q", req.DocumentName)
	}
	if req.ClientToken != "" && !clientTokenRE.MatchString(req.ClientToken) {
		return nil, validation("ClientToken %q is not a UUID", req.ClientToken)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.runs {
		if req.ClientToken != "" && r.ClientToken == req.ClientToken {
			if r.Document != req.DocumentName {
				return nil, &apiError{status: http.StatusBadRequest, code: "IdempotentParameterMismatch", message: "ClientToken reused with another document"}
			}
			return map[string]any{"AutomationExecutionId": r.ID}, nil
		}
	}
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", len(s.runs)+1, len(s.runs)+1)
	s.runs = append(s.runs, Execution{ID: id, Document: req.DocumentName, Parameters: req.Parameters, ClientToken: req.ClientToken})
	return map[string]any{"AutomationExecutionId": id}, nil
}

// URL is the endpoint's base URL, for BaseEndpoint.
func (s *SSM) URL() string { return s.ep.server.URL }

// Close stops the endpoint.
func (s *SSM) Close() { s.ep.server.Close() }

// Calls reports how many requests for op (e.g. "CreateOpsItem") reached the
// endpoint, failed ones included.
func (s *SSM) Calls(op string) int { return s.ep.callCount(op) }

// CallCounts reports the requests per operation.
func (s *SSM) CallCounts() map[string]int { return s.ep.callCounts() }

// Client returns an SSM client of the SDK pointed at the endpoint.
func (s *SSM) Client(optFns ...func(*ssm.Options)) *ssm.Client {
	return ssm.New(ssm.Options{Region: Region, BaseEndpoint: aws.String(s.URL()), Credentials: Credentials()}, optFns...)
}

// SetOpsItemLimit makes CreateOpsItem fail with
// OpsItemLimitExceededException once n OpsItems exist; 0 removes the limit.
func (s *SSM) SetOpsItemLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

// OpsItems returns copies of every OpsItem, oldest first.
func (s *SSM) OpsItems() []OpsItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]OpsItem, 0, len(s.order))
	for _, id := range s.order {
		out = append(out, s.items[id].clone())
	}
	return out
}

// OpsItem returns a copy of the OpsItem with id.
func (s *SSM) OpsItem(id string) (OpsItem, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[id]
	if !ok {
		return OpsItem{}, false
	}
	return it.clone(), true
}

// SetParameter creates or overwrites a parameter, as PutParameter with
// Overwrite would.
func (s *SSM) SetParameter(name, typ, value string) error {
	switch typ {
	case "String", "StringList", "SecureString":
	default:
		return fmt.Errorf("set parameter %s: type %q is not String, StringList or SecureString", name, typ)
	}
	if !strings.HasPrefix(name, "/") || len(name) > 2048 {
		return fmt.Errorf("set parameter %s: a hierarchical name starts with / and has at most 2048 characters", name)
	}
	if len(value) > MaxParameterValue {
		return fmt.Errorf("set parameter %s: value of %d bytes exceeds %d", name, len(value), MaxParameterValue)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[name]
	if p == nil {
		p = &Parameter{Name: name}
		s.params[name] = p
	}
	p.Type, p.Value = typ, value
	p.Version++
	p.LastModified = time.Now().UTC()
	return nil
}

// DeleteParameter removes a parameter.
func (s *SSM) DeleteParameter(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.params, name)
}

func (it *OpsItem) clone() OpsItem {
	c := *it
	c.OperationalData = make(map[string]OpsItemData, len(it.OperationalData))
	for k, v := range it.OperationalData {
		c.OperationalData[k] = v
	}
	c.Notifications = slices.Clone(it.Notifications)
	c.RelatedOpsItems = slices.Clone(it.RelatedOpsItems)
	return c
}

// The wire shapes (awsJson1_1).
type (
	dataValue struct {
		Type  string  `json:"Type,omitempty"`
		Value *string `json:"Value,omitempty"`
	}
	notification struct {
		Arn *string `json:"Arn,omitempty"`
	}
	relatedOpsItem struct {
		OpsItemId *string `json:"OpsItemId,omitempty"`
	}
	createOpsItemRequest struct {
		Title           *string              `json:"Title"`
		Description     *string              `json:"Description"`
		Source          *string              `json:"Source"`
		Severity        *string              `json:"Severity"`
		Category        *string              `json:"Category"`
		Priority        *int                 `json:"Priority"`
		OpsItemType     *string              `json:"OpsItemType"`
		OperationalData map[string]dataValue `json:"OperationalData"`
		Notifications   []notification       `json:"Notifications"`
		RelatedOpsItems []relatedOpsItem     `json:"RelatedOpsItems"`
		AccountId       *string              `json:"AccountId"`
	}
	updateOpsItemRequest struct {
		OpsItemId               *string              `json:"OpsItemId"`
		OpsItemArn              *string              `json:"OpsItemArn"`
		Title                   *string              `json:"Title"`
		Description             *string              `json:"Description"`
		Status                  *string              `json:"Status"`
		Severity                *string              `json:"Severity"`
		Category                *string              `json:"Category"`
		Priority                *int                 `json:"Priority"`
		OperationalData         map[string]dataValue `json:"OperationalData"`
		OperationalDataToDelete []string             `json:"OperationalDataToDelete"`
		Notifications           []notification       `json:"Notifications"`
		RelatedOpsItems         []relatedOpsItem     `json:"RelatedOpsItems"`
	}
	opsItemFilter struct {
		Key      string   `json:"Key"`
		Values   []string `json:"Values"`
		Operator string   `json:"Operator"`
	}
	describeOpsItemsRequest struct {
		OpsItemFilters []opsItemFilter `json:"OpsItemFilters"`
		MaxResults     *int            `json:"MaxResults"`
		NextToken      *string         `json:"NextToken"`
	}
	getParametersByPathRequest struct {
		Path           *string `json:"Path"`
		Recursive      bool    `json:"Recursive"`
		WithDecryption bool    `json:"WithDecryption"`
		MaxResults     *int    `json:"MaxResults"`
		NextToken      *string `json:"NextToken"`
	}
)

// epoch encodes a timestamp as awsJson does: seconds since the epoch.
type epoch time.Time

func (t epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(time.Time(t).UnixMilli())/1000, 'f', 3, 64)), nil
}

func (s *SSM) createOpsItem(body []byte) (any, *apiError) {
	var req createOpsItemRequest
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	if e := checkText("title", req.Title, true, MaxTitle); e != nil {
		return nil, e
	}
	if e := checkText("description", req.Description, true, MaxDescription); e != nil {
		return nil, e
	}
	if e := checkText("source", req.Source, true, MaxSource); e != nil {
		return nil, e
	}
	low := strings.ToLower(*req.Source)
	for _, bad := range []string{"aws", "amazon", "amzn"} {
		if strings.Contains(low, bad) {
			return nil, invalidParameter("Source", "the source name can't contain %q", bad)
		}
	}
	if e := checkCommon(req.Severity, req.Category, req.Priority, req.Notifications, req.RelatedOpsItems); e != nil {
		return nil, e
	}
	if req.OpsItemType != nil && *req.OpsItemType != "/aws/issue" {
		return nil, invalidParameter("OpsItemType", "awstest supports only /aws/issue, not %q", *req.OpsItemType)
	}
	data, dedup, e := checkData(req.OperationalData)
	if e != nil {
		return nil, e
	}

	account := deref(req.AccountId)
	s.mu.Lock()
	defer s.mu.Unlock()
	if account != "" && account != Account && !s.members[account] {
		return nil, &apiError{status: http.StatusBadRequest, code: "OpsItemAccessDeniedException", messageKey: "Message",
			message: "You don't have permission to view OpsItems in the specified account. Verify that your account is configured either as a Systems Manager delegated administrator or that you are logged into the Organizations management account."}
	}
	if account == Account {
		account = ""
	}
	if dedup != "" {
		for _, id := range s.order {
			it := s.items[id]
			if it.dedup == dedup && it.Account == account && (it.Status == "Open" || it.Status == "InProgress") {
				return nil, &apiError{
					status: http.StatusBadRequest, code: "OpsItemAlreadyExistsException", messageKey: "Message",
					message: "The OpsItem already exists.", fields: map[string]any{"OpsItemId": it.ID},
				}
			}
		}
	}
	if s.limit > 0 && len(s.items) >= s.limit {
		return nil, &apiError{
			status: http.StatusBadRequest, code: "OpsItemLimitExceededException", messageKey: "Message",
			message: "The request caused OpsItems to exceed one or more quotas.",
			fields:  map[string]any{"Limit": s.limit, "LimitType": "OpsItem", "ResourceTypes": []string{"OpsItem"}},
		}
	}
	s.nextID++
	now := time.Now().UTC()
	it := &OpsItem{
		ID: fmt.Sprintf("oi-%012x", s.nextID), Title: *req.Title, Description: *req.Description, Source: *req.Source,
		Status: "Open", Severity: deref(req.Severity), Category: deref(req.Category), OperationalData: data,
		CreatedTime: now, LastModifiedTime: now, dedup: dedup, Account: account,
	}
	if req.Priority != nil {
		it.Priority = *req.Priority
	}
	for _, n := range req.Notifications {
		it.Notifications = append(it.Notifications, *n.Arn)
	}
	for _, r := range req.RelatedOpsItems {
		it.RelatedOpsItems = append(it.RelatedOpsItems, *r.OpsItemId)
	}
	s.items[it.ID] = it
	s.order = append(s.order, it.ID)
	return map[string]any{"OpsItemId": it.ID, "OpsItemArn": opsItemARNIn(it.Account, it.ID)}, nil
}

func (s *SSM) updateOpsItem(body []byte) (any, *apiError) {
	var req updateOpsItemRequest
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	if req.OpsItemId == nil || !opsItemIDPattern.MatchString(*req.OpsItemId) {
		return nil, validation("Value %q at 'opsItemId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(oi)-[0-9a-f]{12}$", deref(req.OpsItemId))
	}
	if req.Title != nil {
		if e := checkText("title", req.Title, true, MaxTitle); e != nil {
			return nil, e
		}
	}
	if req.Description != nil {
		if e := checkText("description", req.Description, true, MaxDescription); e != nil {
			return nil, e
		}
	}
	if req.Status != nil && !slices.Contains(opsItemStatuses, *req.Status) {
		return nil, validation("Value %q at 'status' failed to satisfy constraint: Member must satisfy enum value set", *req.Status)
	}
	if e := checkCommon(req.Severity, req.Category, req.Priority, req.Notifications, req.RelatedOpsItems); e != nil {
		return nil, e
	}
	data, dedup, e := checkData(req.OperationalData)
	if e != nil {
		return nil, e
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.lookup(*req.OpsItemId, req.OpsItemArn)
	if e != nil {
		return nil, e
	}
	if dedup != "" && dedup != it.dedup {
		return nil, invalidParameter("OperationalData", "the deduplication string of an OpsItem can't be changed")
	}
	for _, k := range req.OperationalDataToDelete {
		delete(it.OperationalData, k)
	}
	for k, v := range data {
		it.OperationalData[k] = v
	}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&it.Title, req.Title)
	set(&it.Description, req.Description)
	set(&it.Status, req.Status)
	set(&it.Severity, req.Severity)
	set(&it.Category, req.Category)
	if req.Priority != nil {
		it.Priority = *req.Priority
	}
	if req.Notifications != nil {
		it.Notifications = nil
		for _, n := range req.Notifications {
			it.Notifications = append(it.Notifications, *n.Arn)
		}
	}
	if req.RelatedOpsItems != nil {
		it.RelatedOpsItems = nil
		for _, r := range req.RelatedOpsItems {
			it.RelatedOpsItems = append(it.RelatedOpsItems, *r.OpsItemId)
		}
	}
	it.LastModifiedTime = time.Now().UTC()
	it.Updates++
	return map[string]any{}, nil
}

func (s *SSM) getOpsItem(body []byte) (any, *apiError) {
	var req struct {
		OpsItemId  *string `json:"OpsItemId"`
		OpsItemArn *string `json:"OpsItemArn"`
	}
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	if req.OpsItemId == nil || !opsItemIDPattern.MatchString(*req.OpsItemId) {
		return nil, validation("Value %q at 'opsItemId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^(oi)-[0-9a-f]{12}$", deref(req.OpsItemId))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	it, e := s.lookup(*req.OpsItemId, req.OpsItemArn)
	if e != nil {
		return nil, e
	}
	out := wireOpsItem(it, false)
	out["Description"] = it.Description
	out["Version"] = strconv.Itoa(it.Updates + 1)
	var notes []map[string]string
	for _, n := range it.Notifications {
		notes = append(notes, map[string]string{"Arn": n})
	}
	if notes != nil {
		out["Notifications"] = notes
	}
	var related []map[string]string
	for _, r := range it.RelatedOpsItems {
		related = append(related, map[string]string{"OpsItemId": r})
	}
	if related != nil {
		out["RelatedOpsItems"] = related
	}
	return map[string]any{"OpsItem": out}, nil
}

func (s *SSM) describeOpsItems(body []byte) (any, *apiError) {
	var req describeOpsItemsRequest
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	max := 50
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > 50 {
			return nil, validation("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 50", *req.MaxResults)
		}
		max = *req.MaxResults
	}
	for _, f := range req.OpsItemFilters {
		if !slices.Contains(supportedFilters, f.Key) {
			return nil, invalidParameter("OpsItemFilters", "awstest does not implement filter key %q", f.Key)
		}
		if !slices.Contains([]string{"Equal", "Contains"}, f.Operator) {
			return nil, invalidParameter("OpsItemFilters", "awstest does not implement operator %q", f.Operator)
		}
		if len(f.Values) == 0 {
			return nil, validation("Value at 'opsItemFilters.values' failed to satisfy constraint: Member must not be null")
		}
	}
	start, e := pageStart(req.NextToken)
	if e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var matched []*OpsItem
	for _, id := range s.order {
		it := s.items[id]
		ok := it.Account == "" // other accounts' OpsItems are listed there
		for _, f := range req.OpsItemFilters {
			ok = ok && matchFilter(it, f)
		}
		if ok {
			matched = append(matched, it)
		}
	}
	if start > len(matched) {
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidNextToken", message: "The specified token isn't valid."}
	}
	end := min(start+max, len(matched))
	summaries := []map[string]any{}
	for _, it := range matched[start:end] {
		summaries = append(summaries, wireOpsItem(it, true))
	}
	out := map[string]any{"OpsItemSummaries": summaries}
	if end < len(matched) {
		out["NextToken"] = pageToken(end)
	}
	return out, nil
}

var supportedFilters = []string{"Status", "Source", "Title", "OpsItemId", "Severity", "Priority", "Category", "OperationalData", "OperationalDataKey", "OperationalDataValue"}

func matchFilter(it *OpsItem, f opsItemFilter) bool {
	match := func(have string) bool {
		for _, want := range f.Values {
			if f.Operator == "Contains" && strings.Contains(have, want) || have == want {
				return true
			}
		}
		return false
	}
	switch f.Key {
	case "Status":
		return match(it.Status)
	case "Source":
		return match(it.Source)
	case "Title":
		return match(it.Title)
	case "OpsItemId":
		return match(it.ID)
	case "Severity":
		return match(it.Severity)
	case "Priority":
		return match(strconv.Itoa(it.Priority))
	case "Category":
		return match(it.Category)
	}
	// Searches see only searchable data.
	for k, v := range it.OperationalData {
		if v.Type != "SearchableString" {
			continue
		}
		switch f.Key {
		case "OperationalDataKey":
			if match(k) {
				return true
			}
		case "OperationalDataValue":
			if match(v.Value) {
				return true
			}
		case "OperationalData":
			for _, raw := range f.Values {
				var kv struct{ Key, Value string }
				if json.Unmarshal([]byte(raw), &kv) != nil || kv.Key != k {
					continue
				}
				if f.Operator == "Contains" && strings.Contains(v.Value, kv.Value) || v.Value == kv.Value {
					return true
				}
			}
		}
	}
	return false
}

// wireOpsItem is the JSON of an OpsItem or, for summaries, an
// OpsItemSummary, whose OperationalData holds only searchable data.
func wireOpsItem(it *OpsItem, summary bool) map[string]any {
	out := map[string]any{
		"OpsItemId": it.ID, "Title": it.Title, "Source": it.Source, "Status": it.Status,
		"OpsItemType": "/aws/issue", "CreatedBy": "arn:aws:iam::" + Account + ":role/awstest",
		"LastModifiedBy": "arn:aws:iam::" + Account + ":role/awstest",
		"CreatedTime":    epoch(it.CreatedTime), "LastModifiedTime": epoch(it.LastModifiedTime),
	}
	if !summary {
		out["OpsItemArn"] = opsItemARNIn(it.Account, it.ID)
	}
	if it.Severity != "" {
		out["Severity"] = it.Severity
	}
	if it.Category != "" {
		out["Category"] = it.Category
	}
	if it.Priority != 0 {
		out["Priority"] = it.Priority
	}
	data := map[string]map[string]string{}
	for k, v := range it.OperationalData {
		if summary && v.Type != "SearchableString" {
			continue
		}
		data[k] = map[string]string{"Type": v.Type, "Value": v.Value}
	}
	if len(data) > 0 {
		out["OperationalData"] = data
	}
	return out
}

func (s *SSM) getParametersByPath(body []byte) (any, *apiError) {
	var req getParametersByPathRequest
	if e := decode(body, &req); e != nil {
		return nil, e
	}
	if req.Path == nil || *req.Path == "" || len(*req.Path) > 2048 {
		return nil, validation("Value at 'path' failed to satisfy constraint: Member must have length between 1 and 2048")
	}
	path := *req.Path
	if !strings.HasPrefix(path, "/") {
		return nil, &apiError{status: http.StatusBadRequest, code: "ValidationException", message: "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\"."}
	}
	if strings.Count(strings.TrimSuffix(path, "/"), "/") > 15 {
		return nil, validation("The hierarchy of path %q has more than 15 levels", path)
	}
	max := 10
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > 10 {
			return nil, validation("Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 10", *req.MaxResults)
		}
		max = *req.MaxResults
	}
	start, e := pageStart(req.NextToken)
	if e != nil {
		return nil, e
	}
	prefix := strings.TrimSuffix(path, "/") + "/"
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, name := range sortedKeys(s.params) {
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || rest == "" || (!req.Recursive && strings.Contains(rest, "/")) {
			continue
		}
		names = append(names, name)
	}
	if start > len(names) {
		return nil, &apiError{status: http.StatusBadRequest, code: "InvalidNextToken", message: "The specified token isn't valid."}
	}
	end := min(start+max, len(names))
	params := []map[string]any{}
	for _, name := range names[start:end] {
		p := s.params[name]
		value := p.Value
		if p.Type == "SecureString" && !req.WithDecryption {
			value = base64.StdEncoding.EncodeToString([]byte("awstest-kms-ciphertext:" + p.Value))
		}
		params = append(params, map[string]any{
			"Name": p.Name, "Type": p.Type, "Value": value, "Version": p.Version, "DataType": "text",
			"LastModifiedDate": epoch(p.LastModified),
			"ARN":              fmt.Sprintf("arn:aws:ssm:%s:%s:parameter%s", Region, Account, p.Name),
		})
	}
	out := map[string]any{"Parameters": params}
	if end < len(names) {
		out["NextToken"] = pageToken(end)
	}
	return out, nil
}

func pageToken(offset int) string {
	return base64.StdEncoding.EncodeToString([]byte("awstest:" + strconv.Itoa(offset)))
}

func pageStart(token *string) (int, *apiError) {
	if token == nil {
		return 0, nil
	}
	bad := &apiError{status: http.StatusBadRequest, code: "InvalidNextToken", message: "The specified token isn't valid."}
	raw, err := base64.StdEncoding.DecodeString(*token)
	if err != nil {
		return 0, bad
	}
	n, ok := strings.CutPrefix(string(raw), "awstest:")
	if !ok {
		return 0, bad
	}
	i, err := strconv.Atoi(n)
	if err != nil || i < 0 {
		return 0, bad
	}
	return i, nil
}

// checkText applies a string member's length constraint (in characters)
// and OpsCenter's "not only whitespace" pattern.
func checkText(member string, v *string, required bool, max int) *apiError {
	if v == nil {
		if required {
			return validation("Value null at '%s' failed to satisfy constraint: Member must not be null", member)
		}
		return nil
	}
	n := utf8.RuneCountInString(*v)
	if n < 1 || n > max {
		return validation("Value at '%s' failed to satisfy constraint: Member must have length between 1 and %d (has %d)", member, max, n)
	}
	if strings.TrimSpace(*v) == "" {
		return validation("Value at '%s' failed to satisfy constraint: Member must not be blank", member)
	}
	return nil
}

func checkCommon(severity, category *string, priority *int, notes []notification, related []relatedOpsItem) *apiError {
	if severity != nil && !slices.Contains([]string{"1", "2", "3", "4"}, *severity) {
		return invalidParameter("Severity", "severity %q is not one of 1, 2, 3, 4", *severity)
	}
	if e := checkText("category", category, false, MaxCategory); e != nil {
		return e
	}
	if priority != nil && (*priority < 1 || *priority > 5) {
		return validation("Value '%d' at 'priority' failed to satisfy constraint: Member must have value between 1 and 5", *priority)
	}
	for _, n := range notes {
		if n.Arn == nil || !strings.HasPrefix(*n.Arn, "arn:") {
			return invalidParameter("Notifications", "notification ARN %q is not an ARN", deref(n.Arn))
		}
	}
	if len(related) > MaxRelatedOpsItems {
		return invalidParameter("RelatedOpsItems", "%d related OpsItems exceed the limit of %d", len(related), MaxRelatedOpsItems)
	}
	for _, r := range related {
		if r.OpsItemId == nil || !opsItemIDPattern.MatchString(*r.OpsItemId) {
			return invalidParameter("RelatedOpsItems", "related OpsItem id %q is not valid", deref(r.OpsItemId))
		}
	}
	return nil
}

// checkData validates OperationalData and returns it with the (case-folded)
// dedup string.
func checkData(in map[string]dataValue) (map[string]OpsItemData, string, *apiError) {
	out := map[string]OpsItemData{}
	dedup := ""
	for k, v := range in {
		if n := utf8.RuneCountInString(k); n < 1 || n > MaxDataKey {
			return nil, "", validation("OperationalData key %q must have length between 1 and %d", k, MaxDataKey)
		}
		if !allowedReserved[k] {
			low := strings.ToLower(k)
			for _, p := range reservedPrefixes {
				if strings.HasPrefix(low, p) {
					return nil, "", invalidParameter("OperationalData", "operational data key %q can't begin with %q", k, p)
				}
			}
		}
		typ := v.Type
		if typ == "" {
			typ = "String"
		}
		if typ != "String" && typ != "SearchableString" {
			return nil, "", validation("OperationalData %q type %q is not String or SearchableString", k, v.Type)
		}
		value := deref(v.Value)
		if len(value) > MaxDataValue {
			return nil, "", invalidParameter("OperationalData", "operational data %q value of %d bytes exceeds %d", k, len(value), MaxDataValue)
		}
		switch k {
		case KeyDedup:
			var d struct {
				DedupString string `json:"dedupString"`
			}
			if err := json.Unmarshal([]byte(value), &d); err != nil || d.DedupString == "" {
				return nil, "", invalidParameter("OperationalData", `%s must be {"dedupString": "..."}`, KeyDedup)
			}
			dedup = strings.ToLower(d.DedupString)
		case KeyResources:
			var rs []struct {
				ARN string `json:"arn"`
			}
			if err := json.Unmarshal([]byte(value), &rs); err != nil {
				return nil, "", invalidParameter("OperationalData", `%s must be [{"arn": "..."}]`, KeyResources)
			}
			if len(rs) > MaxRelatedResources {
				return nil, "", invalidParameter("OperationalData", "%d related resources exceed the limit of %d", len(rs), MaxRelatedResources)
			}
			for _, r := range rs {
				if !strings.HasPrefix(r.ARN, "arn:") {
					return nil, "", invalidParameter("OperationalData", "related resource %q is not an ARN", r.ARN)
				}
			}
		case KeyAutomations:
			var as []struct {
				AutomationID   string `json:"automationId"`
				AutomationType string `json:"automationType"`
			}
			if err := json.Unmarshal([]byte(value), &as); err != nil {
				return nil, "", invalidParameter("OperationalData", `%s must be [{"automationId": "...", "automationType": "AWS::SSM::Automation"}]`, KeyAutomations)
			}
			for _, a := range as {
				if a.AutomationID == "" || a.AutomationType != "AWS::SSM::Automation" {
					return nil, "", invalidParameter("OperationalData", "automation %+v needs an automationId and automationType AWS::SSM::Automation", a)
				}
			}
		}
		out[k] = OpsItemData{Type: typ, Value: value}
	}
	return out, dedup, nil
}

func invalidParameter(name, format string, args ...any) *apiError {
	return &apiError{
		status: http.StatusBadRequest, code: "OpsItemInvalidParameterException", messageKey: "Message",
		message: fmt.Sprintf(format, args...), fields: map[string]any{"ParameterNames": []string{name}},
	}
}

// opsItemARNIn is the ARN of OpsItem id of account ("": the endpoint's).
func opsItemARNIn(account, id string) string {
	if account == "" {
		account = Account
	}
	return fmt.Sprintf("arn:aws:ssm:%s:%s:opsitem/%s", Region, account, id)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
