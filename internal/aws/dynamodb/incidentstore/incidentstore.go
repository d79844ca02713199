// Package incidentstore keeps the incident lifecycle's items in opsloop's
// DynamoDB table (see package dynamodb for the table and its layout).
package incidentstore

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/incidents"
)

// Store keeps the incident lifecycle's items in opsloop's table: records,
// their history, the OpsItem budget's counts and the waitlist of OpsItems
// OpsCenter refused. It is the table too, so it also gives the lifecycle
// the change log (Changes).
type Store struct{ *dynamodb.Table }

// New returns the incident store in t.
func New(t *dynamodb.Table) *Store { return &Store{t} }

var _ incidents.Store = (*Store)(nil)

const recordSK = "state"

// A record is stored packed with a dictionary of what records hold
// (record.v1.dict: their fields, the default response plans, common
// values), in recordAttr: about 300 bytes, where it packs to 900 alone, so
// that the item, keys and all, stays one write unit. Items written before
// hold it in oldRecordAttr, packed without a dictionary or as plain JSON.
const (
	recordAttr    = "rec1"
	oldRecordAttr = "record"
)

//go:embed record.v1.dict
var recordDict []byte

var records = dynamodb.NewPacker(recordDict)

func unpackRecord(item map[string]types.AttributeValue, rec *incidents.Record) error {
	if _, ok := item[recordAttr]; ok {
		return records.Unpack(item, recordAttr, rec)
	}
	return dynamodb.Unpack(item, oldRecordAttr, rec)
}

func incidentPK(fingerprint string) string { return "inc#" + fingerprint }

// Get implements incidents.Store with a strongly consistent read.
func (t *Store) Get(ctx context.Context, fingerprint string) (*incidents.Record, error) {
	item, err := t.Item(ctx, dynamodb.Key(incidentPK(fingerprint), recordSK), "get incident "+fingerprint)
	if err != nil || item == nil {
		return nil, err
	}
	var rec incidents.Record
	if err := unpackRecord(item, &rec); err != nil {
		return nil, fmt.Errorf("get incident %s: %w", fingerprint, err)
	}
	if rec.Version, err = dynamodb.NumberAttr(item, "version"); err != nil {
		return nil, fmt.Errorf("get incident %s: %w", fingerprint, err)
	}
	return &rec, nil
}

// Put implements incidents.Store with the condition
// attribute_not_exists(pk) OR version = rec.Version, storing version
// rec.Version+1; a failed condition is incidents.ErrConflict. rec itself is
// left unchanged: read the record again to write it again. A put the SDK
// retried after it had in fact succeeded still succeeds: the item carries
// a token unique to this call.
func (t *Store) Put(ctx context.Context, rec *incidents.Record) error {
	next := rec.Version + 1
	stored := rec.Clone()
	stored.Version = next
	packed, err := records.Pack(stored)
	if err != nil {
		return fmt.Errorf("put incident %s: %w", rec.Fingerprint, err)
	}
	token := dynamodb.NewToken()
	k := dynamodb.Key(incidentPK(rec.Fingerprint), recordSK)
	item := map[string]types.AttributeValue{
		dynamodb.PartitionKey: k[dynamodb.PartitionKey], dynamodb.SortKey: k[dynamodb.SortKey],
		recordAttr: packed, "version": dynamodb.Num(next), "token": dynamodb.Str(token),
		"status": dynamodb.Str(rec.Status), "rule": dynamodb.Str(rec.Rule),
	}
	if rec.OpsItemID != "" {
		item["opsItemId"] = dynamodb.Str(rec.OpsItemID)
	}
	if !rec.Expires.IsZero() {
		item[dynamodb.TTLAttribute] = dynamodb.EpochSeconds(rec.Expires)
	}
	_, err = t.Client().PutItem(ctx, &awsdynamodb.PutItemInput{
		TableName: aws.String(t.Name()), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #v = :v"),
		ExpressionAttributeNames:  map[string]string{"#pk": dynamodb.PartitionKey, "#v": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": dynamodb.Num(rec.Version)},
	})
	if err == nil {
		return nil
	}
	if !dynamodb.ConditionFailed(err) {
		return fmt.Errorf("put incident %s: %w", rec.Fingerprint, err)
	}
	now, err := t.Item(ctx, k, "put incident "+rec.Fingerprint)
	if err != nil {
		return err
	}
	if v, _ := dynamodb.NumberAttr(now, "version"); now != nil && v == next && dynamodb.StringAttr(now, "token") == token {
		return nil
	}
	return fmt.Errorf("put incident %s over version %d: %w", rec.Fingerprint, rec.Version, incidents.ErrConflict)
}

// AddHistory implements incidents.Store: one item per fingerprint and
// opening time, so adding it again changes nothing.
func (t *Store) AddHistory(ctx context.Context, h incidents.History) error {
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("add history of %s: %w", h.Fingerprint, err)
	}
	item := dynamodb.Key(incidentPK(h.Fingerprint), "hist#"+dynamodb.TimeKey(h.Opened))
	item["history"] = dynamodb.Str(string(data))
	if h.OpsItemID != "" {
		item["opsItemId"] = dynamodb.Str(h.OpsItemID)
	}
	if _, err := t.Client().PutItem(ctx, &awsdynamodb.PutItemInput{TableName: aws.String(t.Name()), Item: item}); err != nil {
		return fmt.Errorf("add history of %s: %w", h.Fingerprint, err)
	}
	return nil
}

// History returns the fingerprint's past incidents, oldest first.
func (t *Store) History(ctx context.Context, fingerprint string) ([]incidents.History, error) {
	var out []incidents.History
	err := t.Query(ctx, "history of "+fingerprint, &awsdynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :hist)"),
		ExpressionAttributeNames: map[string]string{"#pk": dynamodb.PartitionKey, "#sk": dynamodb.SortKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": dynamodb.Str(incidentPK(fingerprint)), ":hist": dynamodb.Str("hist#"),
		},
	}, func(item map[string]types.AttributeValue) error {
		var h incidents.History
		if err := json.Unmarshal([]byte(dynamodb.StringAttr(item, "history")), &h); err != nil {
			return fmt.Errorf("decode history %s: %w", dynamodb.StringAttr(item, dynamodb.SortKey), err)
		}
		out = append(out, h)
		return nil
	})
	return out, err
}
