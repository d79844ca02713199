package dynamodb

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/incidents"
)

var _ incidents.Store = (*Table)(nil)

const recordSK = "state"

func incidentPK(fingerprint string) string { return "inc#" + fingerprint }

// Get implements incidents.Store with a strongly consistent read.
func (t *Table) Get(ctx context.Context, fingerprint string) (*incidents.Record, error) {
	item, err := t.get(ctx, key(incidentPK(fingerprint), recordSK), "get incident "+fingerprint)
	if err != nil || item == nil {
		return nil, err
	}
	var rec incidents.Record
	if err := json.Unmarshal([]byte(stringAttr(item, "record")), &rec); err != nil {
		return nil, fmt.Errorf("get incident %s: decode record: %w", fingerprint, err)
	}
	if rec.Version, err = numberAttr(item, "version"); err != nil {
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
func (t *Table) Put(ctx context.Context, rec *incidents.Record) error {
	next := rec.Version + 1
	stored := rec.Clone()
	stored.Version = next
	data, err := json.Marshal(stored)
	if err != nil {
		return fmt.Errorf("put incident %s: %w", rec.Fingerprint, err)
	}
	token := newToken()
	k := key(incidentPK(rec.Fingerprint), recordSK)
	item := map[string]types.AttributeValue{
		PartitionKey: k[PartitionKey], SortKey: k[SortKey],
		"record": str(string(data)), "version": num(next), "token": str(token),
		"status": str(rec.Status), "rule": str(rec.Rule),
	}
	if rec.OpsItemID != "" {
		item["opsItemId"] = str(rec.OpsItemID)
	}
	if !rec.Expires.IsZero() {
		item[TTLAttribute] = epochSeconds(rec.Expires)
	}
	_, err = t.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(t.name), Item: item,
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #v = :v"),
		ExpressionAttributeNames:  map[string]string{"#pk": PartitionKey, "#v": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(rec.Version)},
	})
	if err == nil {
		return nil
	}
	if !conditionFailed(err) {
		return fmt.Errorf("put incident %s: %w", rec.Fingerprint, err)
	}
	now, err := t.get(ctx, k, "put incident "+rec.Fingerprint)
	if err != nil {
		return err
	}
	if v, _ := numberAttr(now, "version"); now != nil && v == next && stringAttr(now, "token") == token {
		return nil
	}
	return fmt.Errorf("put incident %s over version %d: %w", rec.Fingerprint, rec.Version, incidents.ErrConflict)
}

// AddHistory implements incidents.Store: one item per fingerprint and
// opening time, so adding it again changes nothing.
func (t *Table) AddHistory(ctx context.Context, h incidents.History) error {
	data, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("add history of %s: %w", h.Fingerprint, err)
	}
	item := key(incidentPK(h.Fingerprint), "hist#"+timeKey(h.Opened))
	item["history"] = str(string(data))
	if h.OpsItemID != "" {
		item["opsItemId"] = str(h.OpsItemID)
	}
	if _, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.name), Item: item}); err != nil {
		return fmt.Errorf("add history of %s: %w", h.Fingerprint, err)
	}
	return nil
}

// History returns the fingerprint's past incidents, oldest first.
func (t *Table) History(ctx context.Context, fingerprint string) ([]incidents.History, error) {
	var out []incidents.History
	err := t.query(ctx, "history of "+fingerprint, &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND begins_with(#sk, :hist)"),
		ExpressionAttributeNames: map[string]string{"#pk": PartitionKey, "#sk": SortKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(incidentPK(fingerprint)), ":hist": str("hist#"),
		},
	}, func(item map[string]types.AttributeValue) error {
		var h incidents.History
		if err := json.Unmarshal([]byte(stringAttr(item, "history")), &h); err != nil {
			return fmt.Errorf("decode history %s: %w", stringAttr(item, SortKey), err)
		}
		out = append(out, h)
		return nil
	})
	return out, err
}
