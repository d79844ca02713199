package dynamodb

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/incidents"
)

var (
	_ incidents.Counters = (*Table)(nil)
	_ incidents.Waitlist = (*Table)(nil)
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
func (t *Table) Take(ctx context.Context, k string, limit int, id string, expires time.Time) (bool, error) {
	pk := "bgt#" + k
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(t.name), Key: key(pk, budgetSK),
		UpdateExpression:         aws.String("ADD #n :one SET #exp = :exp, #last = :id"),
		ConditionExpression:      aws.String("(attribute_not_exists(#n) OR #n < :limit) AND (attribute_not_exists(#last) OR #last <> :id)"),
		ExpressionAttributeNames: map[string]string{"#n": "n", "#exp": TTLAttribute, "#last": "last"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": num(1), ":limit": num(int64(limit)), ":exp": epochSeconds(expires), ":id": str(id),
		},
	})
	if err == nil {
		return true, nil
	}
	if !conditionFailed(err) {
		return false, fmt.Errorf("take budget %s: %w", k, err)
	}
	item, err := t.get(ctx, key(pk, budgetSK), "take budget "+k)
	if err != nil {
		return false, err
	}
	return item != nil && stringAttr(item, "last") == id, nil
}

// Give implements incidents.Counters: the count falls by one and forgets
// its last id, so that id may be counted again.
func (t *Table) Give(ctx context.Context, k string) error {
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(t.name), Key: key("bgt#"+k, budgetSK),
		UpdateExpression:          aws.String("ADD #n :minus REMOVE #last"),
		ConditionExpression:       aws.String("#n > :zero"),
		ExpressionAttributeNames:  map[string]string{"#n": "n", "#last": "last"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":minus": num(-1), ":zero": num(0)},
	})
	if err != nil && !conditionFailed(err) {
		return fmt.Errorf("give back budget %s: %w", k, err)
	}
	return nil
}

// Wait implements incidents.Waitlist: the waitlist is one item holding a
// string set, so adding a fingerprint twice keeps it once.
func (t *Table) Wait(ctx context.Context, fingerprint string) error {
	return t.waitlist(ctx, "ADD", fingerprint)
}

// Done implements incidents.Waitlist.
func (t *Table) Done(ctx context.Context, fingerprint string) error {
	return t.waitlist(ctx, "DELETE", fingerprint)
}

func (t *Table) waitlist(ctx context.Context, op, fingerprint string) error {
	_, err := t.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(t.name), Key: key(waitlistPK, waitlistSK),
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
func (t *Table) Waiting(ctx context.Context) ([]string, error) {
	item, err := t.get(ctx, key(waitlistPK, waitlistSK), "read waitlist")
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
