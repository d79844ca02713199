// Package opscenter is incidents.OpsCenter over Systems Manager OpsCenter:
// CreateOpsItem, UpdateOpsItem, GetOpsItem and DescribeOpsItems through
// the AWS SDK.
//
// Throttling and 5xx responses are retried by a standard SDK retryer
// (exponential backoff with jitter, a shared retry quota) that the Client
// sets on each call, whatever retryer the SSM client was built with.
// OpsItemLimitExceededException is incidents.ErrLimitExceeded and refusals
// of the request itself (invalid parameters, unknown OpsItem) are marked
// incidents.Permanent; neither is retried.
package opscenter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"github.com/aws/smithy-go"

	"github.com/opsloop/opsloop/internal/incidents"
)

// API is the part of the SSM client the Client uses.
type API interface {
	CreateOpsItem(ctx context.Context, in *ssm.CreateOpsItemInput, optFns ...func(*ssm.Options)) (*ssm.CreateOpsItemOutput, error)
	UpdateOpsItem(ctx context.Context, in *ssm.UpdateOpsItemInput, optFns ...func(*ssm.Options)) (*ssm.UpdateOpsItemOutput, error)
	GetOpsItem(ctx context.Context, in *ssm.GetOpsItemInput, optFns ...func(*ssm.Options)) (*ssm.GetOpsItemOutput, error)
	DescribeOpsItems(ctx context.Context, in *ssm.DescribeOpsItemsInput, optFns ...func(*ssm.Options)) (*ssm.DescribeOpsItemsOutput, error)
}

// Options tune the Client's retries; zero values take the defaults.
type Options struct {
	// MaxAttempts bounds the attempts of one call, the first included
	// (default 5).
	MaxAttempts int
	// MaxBackoff caps the delay before a retry (default 20s). Throttling
	// backs off from 1s, other errors from 50ms, doubling with jitter.
	MaxBackoff time.Duration
	// Region is the client's Region: it names the ARN of an OpsItem of
	// another account that OpsCenter's dedup returns by id only.
	Region string
}

// Default retry settings.
const (
	DefaultMaxAttempts = 5
	DefaultMaxBackoff  = 20 * time.Second
)

// Client is OpsCenter for the incidents lifecycle.
type Client struct {
	api     API
	retryer aws.Retryer
	region  string
}

var _ incidents.OpsCenter = (*Client)(nil)

// New returns a Client calling api.
func New(api API, opts Options) *Client {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	// One retryer for every call, so its retry quota spans them: a storm of
	// throttled calls stops retrying instead of multiplying the load.
	r := retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts, o.MaxBackoff = opts.MaxAttempts, opts.MaxBackoff
	})
	return &Client{api: api, retryer: r, region: opts.Region}
}

func (c *Client) retries(o *ssm.Options) { o.Retryer = c.retryer }

// Create implements incidents.OpsCenter. When OpsCenter's dedup finds an
// open OpsItem with the same /aws/dedup string it returns that OpsItem's
// id with existing true.
func (c *Client) Create(ctx context.Context, item incidents.OpsItem) (string, bool, error) {
	in := &ssm.CreateOpsItemInput{
		Title:           aws.String(item.Title),
		Description:     aws.String(item.Description),
		Source:          aws.String(item.Source),
		Severity:        optional(item.Severity),
		Category:        optional(item.Category),
		Priority:        priority(item.Priority),
		OperationalData: operationalData(item.OperationalData),
		Notifications:   notifications(item.Notifications),
		RelatedOpsItems: related(item.RelatedOpsItems),
		AccountId:       optional(item.AccountID),
	}
	out, err := c.api.CreateOpsItem(ctx, in, c.retries)
	if err == nil {
		if out.OpsItemId == nil {
			return "", false, fmt.Errorf("create OpsItem %q: response has no OpsItemId", item.Title)
		}
		if item.AccountID != "" {
			// Another account's OpsItem is named by its ARN in every call.
			return c.arn(item.AccountID, *out.OpsItemId), false, nil
		}
		return *out.OpsItemId, false, nil
	}
	var exists *types.OpsItemAlreadyExistsException
	if errors.As(err, &exists) && exists.OpsItemId != nil {
		if item.AccountID != "" {
			return c.arn(item.AccountID, *exists.OpsItemId), true, nil
		}
		return *exists.OpsItemId, true, nil
	}
	return "", false, mapError(fmt.Sprintf("create OpsItem %q", item.Title), err)
}

// Update implements incidents.OpsCenter: fields left empty in u are not
// sent, so OpsCenter keeps them; OperationalData keys are added or
// replaced, others kept.
func (c *Client) Update(ctx context.Context, id string, u incidents.Update) error {
	opsItemID, arn := ref(id)
	in := &ssm.UpdateOpsItemInput{
		OpsItemId:               opsItemID,
		OpsItemArn:              arn,
		Title:                   optional(u.Title),
		Description:             optional(u.Description),
		Severity:                optional(u.Severity),
		Priority:                priority(u.Priority),
		OperationalData:         operationalData(u.OperationalData),
		RelatedOpsItems:         related(u.RelatedOpsItems),
		OperationalDataToDelete: u.DeleteData,
	}
	if u.Status != "" {
		in.Status = types.OpsItemStatus(u.Status)
	}
	if u.Notifications != nil {
		in.Notifications = notifications(u.Notifications)
	}
	if _, err := c.api.UpdateOpsItem(ctx, in, c.retries); err != nil {
		return mapError("update OpsItem "+id, err)
	}
	return nil
}

// Status implements incidents.Statuses with GetOpsItem.
func (c *Client) Status(ctx context.Context, id string) (string, error) {
	it, err := c.Get(ctx, id)
	if err != nil {
		return "", err
	}
	return it.Status, nil
}

// Open implements incidents.Responses: the deployment's Open OpsItems
// that have a response due (DescribeOpsItems by status, source and the
// KeyDue key; only the account's own are listed), with their searchable
// KeyFingerprint and KeyDue. An OpsItem whose escalation ended has no
// KeyDue, so an account's backlog of unacknowledged OpsItems is not paged
// through at every due.
func (c *Client) Open(ctx context.Context) ([]incidents.OpenResponse, error) {
	open, err := c.Find(ctx, Query{Statuses: []string{incidents.StatusOpsItemOpen}, Source: incidents.Source, Keys: []string{incidents.KeyDue}})
	if err != nil {
		return nil, err
	}
	var out []incidents.OpenResponse
	for _, s := range open {
		if r, ok := incidents.ResponseOf(s.ID, s.OperationalData); ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Incident implements problems.OpsItems with GetOpsItem: the fingerprint
// and opening the incidents function wrote on an OpsItem of its source; ""
// for another source's OpsItem, or one that is gone.
func (c *Client) Incident(ctx context.Context, id string) (string, time.Time, error) {
	it, err := c.Get(ctx, id)
	var notFound *types.OpsItemNotFoundException
	if errors.As(err, &notFound) {
		return "", time.Time{}, nil
	}
	if err != nil {
		return "", time.Time{}, err
	}
	opened, err := time.Parse(time.RFC3339Nano, it.OperationalData[incidents.KeyFirstSeen].Value)
	fp := it.OperationalData[incidents.KeyFingerprint].Value
	if it.Source != incidents.Source || fp == "" || err != nil {
		return "", time.Time{}, nil
	}
	return fp, opened, nil
}

// OpsItem is an OpsItem as GetOpsItem returns it.
type OpsItem struct {
	incidents.OpsItem
	ID               string
	Status           string
	Version          string
	CreatedTime      time.Time
	LastModifiedTime time.Time
}

// Get returns the OpsItem id.
func (c *Client) Get(ctx context.Context, id string) (*OpsItem, error) {
	opsItemID, arn := ref(id)
	out, err := c.api.GetOpsItem(ctx, &ssm.GetOpsItemInput{OpsItemId: opsItemID, OpsItemArn: arn}, c.retries)
	if err != nil {
		return nil, mapError("get OpsItem "+id, err)
	}
	it := out.OpsItem
	if it == nil {
		return nil, fmt.Errorf("get OpsItem %s: response has no OpsItem", id)
	}
	got := &OpsItem{
		ID: aws.ToString(it.OpsItemId), Status: string(it.Status), Version: aws.ToString(it.Version),
		CreatedTime: aws.ToTime(it.CreatedTime), LastModifiedTime: aws.ToTime(it.LastModifiedTime),
		OpsItem: incidents.OpsItem{
			Title: aws.ToString(it.Title), Description: aws.ToString(it.Description), Source: aws.ToString(it.Source),
			Severity: aws.ToString(it.Severity), Category: aws.ToString(it.Category), Priority: int(aws.ToInt32(it.Priority)),
			OperationalData: domainData(it.OperationalData),
		},
	}
	for _, n := range it.Notifications {
		got.Notifications = append(got.Notifications, aws.ToString(n.Arn))
	}
	for _, r := range it.RelatedOpsItems {
		got.RelatedOpsItems = append(got.RelatedOpsItems, aws.ToString(r.OpsItemId))
	}
	return got, nil
}

// Query selects OpsItems for Find; empty fields select everything.
type Query struct {
	// Statuses are the statuses to list, e.g. "Open", "InProgress".
	Statuses []string
	// Source is the OpsItems' source.
	Source string
	// Data selects OpsItems whose searchable OperationalData key equals
	// the value.
	Data map[string]string
	// Keys selects OpsItems that have these searchable OperationalData
	// keys.
	Keys []string
	// Limit bounds how many summaries are returned (0: all).
	Limit int
}

// Summary is one OpsItem that Find returns.
type Summary struct {
	ID               string
	Title            string
	Source           string
	Status           string
	Severity         string
	Category         string
	Priority         int
	CreatedTime      time.Time
	LastModifiedTime time.Time
	// OperationalData holds the searchable data only.
	OperationalData map[string]incidents.Data
}

// Find lists the OpsItems q selects, following every page of
// DescribeOpsItems until Limit.
func (c *Client) Find(ctx context.Context, q Query) ([]Summary, error) {
	in := &ssm.DescribeOpsItemsInput{}
	if len(q.Statuses) > 0 {
		in.OpsItemFilters = append(in.OpsItemFilters, types.OpsItemFilter{
			Key: types.OpsItemFilterKeyStatus, Operator: types.OpsItemFilterOperatorEqual, Values: q.Statuses,
		})
	}
	if q.Source != "" {
		in.OpsItemFilters = append(in.OpsItemFilters, types.OpsItemFilter{
			Key: types.OpsItemFilterKeySource, Operator: types.OpsItemFilterOperatorEqual, Values: []string{q.Source},
		})
	}
	for k, v := range q.Data {
		kv, err := jsonKeyValue(k, v)
		if err != nil {
			return nil, fmt.Errorf("find OpsItems: %w", err)
		}
		in.OpsItemFilters = append(in.OpsItemFilters, types.OpsItemFilter{
			Key: types.OpsItemFilterKeyOperationalData, Operator: types.OpsItemFilterOperatorEqual, Values: []string{kv},
		})
	}
	for _, k := range q.Keys {
		in.OpsItemFilters = append(in.OpsItemFilters, types.OpsItemFilter{
			Key: types.OpsItemFilterKeyOperationalDataKey, Operator: types.OpsItemFilterOperatorEqual, Values: []string{k},
		})
	}
	var out []Summary
	pages := ssm.NewDescribeOpsItemsPaginator(c.api, in)
	for pages.HasMorePages() && (q.Limit <= 0 || len(out) < q.Limit) {
		page, err := pages.NextPage(ctx, c.retries)
		if err != nil {
			return nil, mapError("find OpsItems", err)
		}
		for _, s := range page.OpsItemSummaries {
			out = append(out, Summary{
				ID: aws.ToString(s.OpsItemId), Title: aws.ToString(s.Title), Source: aws.ToString(s.Source),
				Status: string(s.Status), Severity: aws.ToString(s.Severity), Category: aws.ToString(s.Category),
				Priority: int(aws.ToInt32(s.Priority)), CreatedTime: aws.ToTime(s.CreatedTime),
				LastModifiedTime: aws.ToTime(s.LastModifiedTime), OperationalData: domainData(s.OperationalData),
			})
		}
	}
	if q.Limit > 0 && len(out) > q.Limit {
		out = out[:q.Limit]
	}
	return out, nil
}

// permanentCodes are refusals of the request itself: sending it again
// cannot succeed.
var permanentCodes = map[string]bool{
	"OpsItemInvalidParameterException": true,
	"ValidationException":              true,
	"OpsItemNotFoundException":         true,
	"InvalidParameterValue":            true,
}

// mapError wraps err for op, mapping the OpsItem limit to
// incidents.ErrLimitExceeded and refusals to incidents.Permanent.
func mapError(op string, err error) error {
	var limit *types.OpsItemLimitExceededException
	if errors.As(err, &limit) {
		return incidents.Permanent(fmt.Errorf("%s: %s (limit %d %s): %w",
			op, limit.ErrorMessage(), limit.Limit, aws.ToString(limit.LimitType), incidents.ErrLimitExceeded))
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && permanentCodes[apiErr.ErrorCode()] {
		return incidents.Permanent(fmt.Errorf("%s: %w", op, err))
	}
	return fmt.Errorf("%s: %w", op, err)
}

// jsonKeyValue is the value of an OperationalData filter: {"key":..,"value":..}.
func jsonKeyValue(k, v string) (string, error) {
	data, err := json.Marshal(struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}{k, v})
	return string(data), err
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

func priority(p int) *int32 {
	if p == 0 {
		return nil
	}
	return aws.Int32(int32(p))
}

func operationalData(m map[string]incidents.Data) map[string]types.OpsItemDataValue {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]types.OpsItemDataValue, len(m))
	for k, v := range m {
		typ := types.OpsItemDataTypeString
		if v.Searchable {
			typ = types.OpsItemDataTypeSearchableString
		}
		out[k] = types.OpsItemDataValue{Type: typ, Value: aws.String(v.Value)}
	}
	return out
}

func domainData(m map[string]types.OpsItemDataValue) map[string]incidents.Data {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]incidents.Data, len(m))
	for k, v := range m {
		out[k] = incidents.Data{Value: aws.ToString(v.Value), Searchable: v.Type == types.OpsItemDataTypeSearchableString}
	}
	return out
}

func notifications(arns []string) []types.OpsItemNotification {
	var out []types.OpsItemNotification
	for _, a := range arns {
		out = append(out, types.OpsItemNotification{Arn: aws.String(a)})
	}
	return out
}

// related are the OpsItems to relate; those of other accounts (named by
// ARN) are left out, as OpsCenter relates OpsItems by id within one
// account.
func related(ids []string) []types.RelatedOpsItem {
	var out []types.RelatedOpsItem
	for _, id := range ids {
		if !strings.HasPrefix(id, "arn:") {
			out = append(out, types.RelatedOpsItem{OpsItemId: aws.String(id)})
		}
	}
	return out
}

// ref is how calls name the OpsItem id: by its id, and its ARN as well
// when id is the ARN of another account's OpsItem.
func ref(id string) (opsItemID, arn *string) {
	if !strings.HasPrefix(id, "arn:") {
		return aws.String(id), nil
	}
	return aws.String(id[strings.LastIndex(id, "/")+1:]), aws.String(id)
}

// arn is the ARN of OpsItem id in account, in the client's Region.
func (c *Client) arn(account, id string) string {
	partition := "aws"
	switch {
	case strings.HasPrefix(c.region, "cn-"):
		partition = "aws-cn"
	case strings.HasPrefix(c.region, "us-gov-"):
		partition = "aws-us-gov"
	}
	return fmt.Sprintf("arn:%s:ssm:%s:%s:opsitem/%s", partition, c.region, account, id)
}
