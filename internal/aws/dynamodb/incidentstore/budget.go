package incidentstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/incidents"
)

var (
	_ incidents.Counters = (*Store)(nil)
	_ incidents.Waitlist = (*Store)(nil)
)

const (
	budgetSK   = "budget"
	waitlistPK = "waitlist"
	waitlistSK = "limited"
)

// Take implements incidents.Counters with one conditional ADD: the count
// rises only while below limit, and only for an id other than the last
// one it counted, so an ADD the SDK resent after a lost response counts
// once. When the condition fails the item tells which of the two it was.
func (t *Store) Take(ctx context.Context, k string, limit int, id string, expires time.Time) (bool, error) {
	pk := "bgt#" + k
	_, err := t.Client().UpdateItem(ctx, &awsdynamodb.UpdateItemInput{
		TableName: aws.String(t.Name()), Key: dynamodb.Key(pk, budgetSK),
		UpdateExpression:         aws.String("ADD #n :one SET #exp = :exp, #last = :id"),
		ConditionExpression:      aws.String("(attribute_not_exists(#n) OR #n < :limit) AND (attribute_not_exists(#last) OR #last <> :id)"),
		ExpressionAttributeNames: map[string]string{"#n": "n", "#exp": dynamodb.TTLAttribute, "#last": "last"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": dynamodb.Num(1), ":limit": dynamodb.Num(int64(limit)), ":exp": dynamodb.EpochSeconds(expires), ":id": dynamodb.Str(id),
		},
	})
	if err == nil {
		return true, nil
	}
	if !dynamodb.ConditionFailed(err) {
		return false, fmt.Errorf("take budget %s: %w", k, err)
	}
	item, err := t.Item(ctx, dynamodb.Key(pk, budgetSK), "take budget "+k)
	if err != nil {
		return false, err
	}
	return item != nil && dynamodb.StringAttr(item, "last") == id, nil
}

// Give implements incidents.Counters: the count falls by one and forgets
// its last id, so that id may be counted again.
func (t *Store) Give(ctx context.Context, k string) error {
	_, err := t.Client().UpdateItem(ctx, &awsdynamodb.UpdateItemInput{
		TableName: aws.String(t.Name()), Key: dynamodb.Key("bgt#"+k, budgetSK),
		UpdateExpression:          aws.String("ADD #n :minus REMOVE #last"),
		ConditionExpression:       aws.String("#n > :zero"),
		ExpressionAttributeNames:  map[string]string{"#n": "n", "#last": "last"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":minus": dynamodb.Num(-1), ":zero": dynamodb.Num(0)},
	})
	if err != nil && !dynamodb.ConditionFailed(err) {
		return fmt.Errorf("give back budget %s: %w", k, err)
	}
	return nil
}

// Wait implements incidents.Waitlist: the waitlist is one item holding a
// string set, so adding a fingerprint twice keeps it once.
func (t *Store) Wait(ctx context.Context, fingerprint string) error {
	return t.waitlist(ctx, "ADD", fingerprint)
}

// Done implements incidents.Waitlist.
func (t *Store) Done(ctx context.Context, fingerprint string) error {
	return t.waitlist(ctx, "DELETE", fingerprint)
}

func (t *Store) waitlist(ctx context.Context, op, fingerprint string) error {
	_, err := t.Client().UpdateItem(ctx, &awsdynamodb.UpdateItemInput{
		TableName: aws.String(t.Name()), Key: dynamodb.Key(waitlistPK, waitlistSK),
		UpdateExpression:          aws.String(op + " #fps :fp"),
		ExpressionAttributeNames:  map[string]string{"#fps": "fingerprints"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":fp": &types.AttributeValueMemberSS{Value: []string{fingerprint}}},
	})
	if err != nil {
		return fmt.Errorf("waitlist %s %s: %w", op, fingerprint, err)
	}
	return nil
}

// Waiting implements incidents.Waitlist, in sorted order.
func (t *Store) Waiting(ctx context.Context) ([]string, error) {
	item, err := t.Item(ctx, dynamodb.Key(waitlistPK, waitlistSK), "read waitlist")
	if err != nil || item == nil {
		return nil, err
	}
	set, _ := item["fingerprints"].(*types.AttributeValueMemberSS)
	if set == nil {
		return nil, nil
	}
	out := append([]string(nil), set.Value...)
	sort.Strings(out)
	return out, nil
}

var _ incidents.Dues = (*Store)(nil)

// duePK holds one item per tracked incident, its sort key the fingerprint.
const duePK = "due"

// Due implements incidents.Dues: the incident's item under duePK with the
// time its response is due.
func (t *Store) Due(ctx context.Context, fingerprint string, at time.Time) error {
	item := dynamodb.Key(duePK, fingerprint)
	item["at"] = dynamodb.Num(at.Unix())
	if _, err := t.Client().PutItem(ctx, &awsdynamodb.PutItemInput{TableName: aws.String(t.Name()), Item: item}); err != nil {
		return fmt.Errorf("track response of %s: %w", fingerprint, err)
	}
	return nil
}

// Undue implements incidents.Dues.
func (t *Store) Undue(ctx context.Context, fingerprint string) error {
	if _, err := t.Client().DeleteItem(ctx, &awsdynamodb.DeleteItemInput{TableName: aws.String(t.Name()), Key: dynamodb.Key(duePK, fingerprint)}); err != nil {
		return fmt.Errorf("untrack response of %s: %w", fingerprint, err)
	}
	return nil
}

// DueBy implements incidents.Dues with one Query of duePK, filtered by time.
func (t *Store) DueBy(ctx context.Context, by time.Time) ([]string, error) {
	var out []string
	err := t.Query(ctx, "responses due", &awsdynamodb.QueryInput{
		KeyConditionExpression:    aws.String("#pk = :pk"),
		FilterExpression:          aws.String("#at <= :by"),
		ExpressionAttributeNames:  map[string]string{"#pk": dynamodb.PartitionKey, "#at": "at"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": dynamodb.Str(duePK), ":by": dynamodb.Num(by.Unix())},
	}, func(item map[string]types.AttributeValue) error {
		out = append(out, dynamodb.StringAttr(item, dynamodb.SortKey))
		return nil
	})
	return out, err
}
