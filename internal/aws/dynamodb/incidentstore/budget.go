package incidentstore

import (
	"context"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
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

// takeAttempts bounds how often Take tries again when its condition failed
// but the tally, read after, had room (counts given back in between).
const takeAttempts = 3

// Take implements incidents.Counters with a read of the tally's item,
// which names the counts of windows past (tally.Stale) and refuses at once
// when a count is at its limit, then one conditional update: every count
// rises while below its limit, and only for an id other than the last one
// counted, so an update the SDK resent after a lost response counts once;
// the stale counts are dropped by the same update. When its condition
// fails the item, read again, tells which of the two it was.
func (t *Store) Take(ctx context.Context, tally incidents.Tally, id string) (int, error) {
	// A digest: ids are fingerprints, some a hundred bytes and more.
	id = hex.EncodeToString(dynamodb.Digest(id))
	k := dynamodb.Key(budgetPK(tally.Key), budgetSK)
	item, err := t.Item(ctx, k, "take budget "+tally.Key)
	if err != nil {
		return 0, err
	}
	for range takeAttempts {
		if item != nil && dynamodb.StringAttr(item, "last") == id {
			return -1, nil
		}
		for i, c := range tally.Counts {
			if n, err := dynamodb.NumberAttr(item, c.Name); err == nil && n >= int64(c.Limit) {
				return i, nil
			}
		}
		err := t.take(ctx, k, tally, id, item)
		if err == nil {
			return -1, nil
		}
		if !dynamodb.ConditionFailed(err) {
			return 0, fmt.Errorf("take budget %s: %w", tally.Key, err)
		}
		if item, err = t.Item(ctx, k, "take budget "+tally.Key); err != nil {
			return 0, err
		}
	}
	return 0, fmt.Errorf("take budget %s: refused %d times with room left", tally.Key, takeAttempts)
}

// take is Take's update, given the item as read.
func (t *Store) take(ctx context.Context, k map[string]types.AttributeValue, tally incidents.Tally, id string, item map[string]types.AttributeValue) error {
	names := map[string]string{"#exp": dynamodb.TTLAttribute, "#last": "last"}
	values := map[string]types.AttributeValue{
		":one": dynamodb.Num(1), ":exp": dynamodb.EpochSeconds(tally.Expires), ":id": dynamodb.Str(id),
	}
	adds, conds := make([]string, len(tally.Counts)), make([]string, len(tally.Counts))
	for i, c := range tally.Counts {
		n, l := fmt.Sprintf("#c%d", i), fmt.Sprintf(":l%d", i)
		names[n], values[l] = c.Name, dynamodb.Num(int64(c.Limit))
		adds[i] = n + " :one"
		conds[i] = fmt.Sprintf("(attribute_not_exists(%s) OR %s < %s)", n, n, l)
	}
	expr := "ADD " + strings.Join(adds, ", ") + " SET #exp = :exp, #last = :id"
	cond := strings.Join(conds, " AND ") + " AND (attribute_not_exists(#last) OR #last <> :id)"
	if due := tally.Due; !due.IsZero() {
		if hint, err := dynamodb.NumberAttr(item, "due"); err != nil || hint > due.Unix() {
			// The earlier due is the hint; a Take that set an earlier
			// one since the read makes this one try again.
			names["#due"], values[":due"] = "due", dynamodb.Num(due.Unix())
			expr += ", #due = :due"
			cond += " AND (attribute_not_exists(#due) OR #due > :due)"
		}
	}
	var forget []string
	for name := range item {
		if stale(tally, name) {
			n := fmt.Sprintf("#f%d", len(forget))
			names[n] = name
			forget = append(forget, n)
		}
	}
	if len(forget) > 0 {
		expr += " REMOVE " + strings.Join(forget, ", ")
	}
	_, err := t.Client().UpdateItem(ctx, &awsdynamodb.UpdateItemInput{
		TableName: aws.String(t.Name()), Key: k, UpdateExpression: aws.String(expr),
		ConditionExpression:      aws.String(cond),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	return err
}

// Hint implements incidents.Counters: the tally's due hint, in epoch
// seconds, and its last id as the mark.
func (t *Store) Hint(ctx context.Context, tally incidents.Tally) (incidents.DueHint, error) {
	item, err := t.Item(ctx, dynamodb.Key(budgetPK(tally.Key), budgetSK), "due hint "+tally.Key)
	if err != nil {
		return incidents.DueHint{}, err
	}
	h := incidents.DueHint{Mark: dynamodb.StringAttr(item, "last")}
	if due, err := dynamodb.NumberAttr(item, "due"); err == nil {
		h.At = time.Unix(due, 0).UTC()
	}
	return h, nil
}

// SetHint implements incidents.Counters with an update conditioned on the
// hint and the mark as read.
func (t *Store) SetHint(ctx context.Context, tally incidents.Tally, h incidents.DueHint, at time.Time) (bool, error) {
	names := map[string]string{"#due": "due", "#last": "last", "#exp": dynamodb.TTLAttribute}
	values := map[string]types.AttributeValue{":exp": dynamodb.EpochSeconds(tally.Expires)}
	expr := "SET #exp = if_not_exists(#exp, :exp)"
	if at.IsZero() {
		expr += " REMOVE #due"
	} else {
		expr += ", #due = :at"
		values[":at"] = dynamodb.Num(at.Unix())
	}
	conds := []string{"attribute_not_exists(#due)", "attribute_not_exists(#last)"}
	if !h.At.IsZero() {
		conds[0], values[":seen"] = "#due = :seen", dynamodb.Num(h.At.Unix())
	}
	if h.Mark != "" {
		conds[1], values[":mark"] = "#last = :mark", dynamodb.Str(h.Mark)
	}
	_, err := t.Client().UpdateItem(ctx, &awsdynamodb.UpdateItemInput{
		TableName: aws.String(t.Name()), Key: dynamodb.Key(budgetPK(tally.Key), budgetSK),
		UpdateExpression: aws.String(expr), ConditionExpression: aws.String(strings.Join(conds, " AND ")),
		ExpressionAttributeNames: names, ExpressionAttributeValues: values,
	})
	if dynamodb.ConditionFailed(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("set due hint %s: %w", tally.Key, err)
	}
	return true, nil
}

// stale reports whether the item's attribute name is a count of a window
// past; the item's own attributes are not counts.
func stale(tally incidents.Tally, name string) bool {
	switch name {
	case dynamodb.PartitionKey, dynamodb.SortKey, dynamodb.TTLAttribute, "last", "due":
		return false
	}
	return tally.Stale != nil && tally.Stale(name)
}

func budgetPK(key string) string { return "bgt#" + key }

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
