package dynamodb

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/opsloop/opsloop/internal/changelog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// bucketsPerWindow is how finely Count divides a window.
const bucketsPerWindow = 12

// maxBucketIDs bounds the event ids a count bucket keeps to know a
// redelivery (8-byte digests): 64 keep the bucket under 1 KB, one write
// unit. Past them, in a storm, the bucket counts without knowing.
const maxBucketIDs = 64

// Count implements classify.State with a sliding window of time buckets:
// an atomic ADD on the bucket holding t, then one Query summing the
// buckets of (t-window, t]. Buckets are window/12 wide (at least 1s) and
// expire once no window can reach them.
//
// The count is approximate at bucket granularity: a bucket counts when it
// starts after t-window, so occurrences in the oldest, partly covered
// bucket are left out (at most one bucket's worth of time), and those later
// than t in t's own bucket are counted. A bucket keeps digests of the ids
// it added (up to maxBucketIDs), and the ADD is conditioned on id's not
// being one of them: a redelivered event (its time, so its bucket, is the
// same) or an ADD the SDK retried after it had in fact succeeded adds
// nothing. The dedup is the count's own write: no item per event.
func (t *Table) Count(ctx context.Context, k string, at time.Time, window time.Duration, id string) (int, bool, error) {
	if window <= 0 {
		return 0, false, fmt.Errorf("count %s: window %s is not positive", k, window)
	}
	width := max(window/bucketsPerWindow, time.Second).Milliseconds()
	ms := at.UnixMilli()
	hi := floorDiv(ms, width)
	lo := floorDiv(ms-window.Milliseconds(), width) + 1
	pk := "cnt#" + k
	bucket := func(i int64) string { return fmt.Sprintf("%012d#%015d", width, i) }

	added, full := false, false
	var digest []byte
	exp := EpochSeconds(Later(time.UnixMilli((hi+1)*width), t.opts.Now()).Add(window + time.Hour))
	if id != "" {
		digest = Digest(id)
		err := t.add(ctx, k, Key(pk, bucket(hi)), digest, exp, true)
		switch {
		case err == nil:
			added = true
		case !ConditionFailed(err):
			return 0, false, err
		default:
			full = true // or a redelivery: the query below tells
		}
	}
	if lo > hi {
		return 0, added, nil
	}
	total, seen := 0, false
	err := t.Query(ctx, "count "+k, &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		ExpressionAttributeNames: map[string]string{"#pk": PartitionKey, "#sk": SortKey, "#n": "n", "#ids": "ids"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": Str(pk), ":lo": Str(bucket(lo)), ":hi": Str(bucket(hi)),
		},
		ProjectionExpression: aws.String("#n, #ids"),
	}, func(item map[string]types.AttributeValue) error {
		if ids, ok := item["ids"].(*types.AttributeValueMemberBS); ok && digest != nil {
			seen = seen || slices.ContainsFunc(ids.Value, func(d []byte) bool { return bytes.Equal(d, digest) })
		}
		n, err := NumberAttr(item, "n")
		total += int(n)
		return err
	})
	if err != nil || !full || seen {
		return total, added, err
	}
	// The bucket is full and id is not in it: counted without its digest.
	if err := t.add(ctx, k, Key(pk, bucket(hi)), digest, exp, false); err != nil {
		return 0, false, err
	}
	return total + 1, true, nil
}

// Digest is 8 bytes of id's SHA-256: what an item keeps of an id to know
// it again, a fraction of an event id's or fingerprint's size (items are
// billed by their size).
func Digest(id string) []byte {
	sum := sha256.Sum256([]byte(id))
	return sum[:8]
}

// add adds one to the count bucket at key; with keep, only when the bucket
// keeps fewer than maxBucketIDs digests and not digest, which it then keeps.
func (t *Table) add(ctx context.Context, k string, key map[string]types.AttributeValue, digest []byte, exp types.AttributeValue, keep bool) error {
	in := &dynamodb.UpdateItemInput{
		TableName: aws.String(t.name), Key: key,
		UpdateExpression:          aws.String("ADD #n :one SET #exp = :exp"),
		ExpressionAttributeNames:  map[string]string{"#n": "n", "#exp": TTLAttribute},
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": Num(1), ":exp": exp},
	}
	if keep {
		in.UpdateExpression = aws.String("ADD #n :one, #ids :ids SET #exp = :exp")
		in.ConditionExpression = aws.String("attribute_not_exists(#ids) OR (size(#ids) < :max AND NOT contains(#ids, :id))")
		in.ExpressionAttributeNames["#ids"] = "ids"
		in.ExpressionAttributeValues[":ids"] = &types.AttributeValueMemberBS{Value: [][]byte{digest}}
		in.ExpressionAttributeValues[":id"] = &types.AttributeValueMemberB{Value: digest}
		in.ExpressionAttributeValues[":max"] = Num(maxBucketIDs)
	}
	if _, err := t.client.UpdateItem(ctx, in); err != nil {
		return fmt.Errorf("count %s: %w", k, err)
	}
	return nil
}

// RecordChange implements classify.State: one item per resource, keyed by
// the change's time and event id, so writing it again changes nothing.
func (t *Table) RecordChange(ctx context.Context, c changelog.Change) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("record change %s: %w", c.EventID, err)
	}
	expires := EpochSeconds(Later(c.Time, t.opts.Now()).Add(t.opts.ChangeTTL))
	for _, r := range c.Resources {
		k := Key("chg#"+r, TimeKey(c.Time)+"#"+c.EventID)
		k["change"] = Str(string(data))
		k[TTLAttribute] = expires
		if _, err := t.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(t.name), Item: k}); err != nil {
			return fmt.Errorf("record change %s to %s: %w", c.EventID, r, err)
		}
	}
	return nil
}

// Changes returns the changes recorded for resource within
// (at-lookback, at], oldest first.
func (t *Table) Changes(ctx context.Context, resource string, at time.Time, lookback time.Duration) ([]changelog.Change, error) {
	from := at.Add(-lookback)
	var out []changelog.Change
	err := t.Query(ctx, "changes of "+resource, &dynamodb.QueryInput{
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :lo AND :hi"),
		ExpressionAttributeNames: map[string]string{"#pk": PartitionKey, "#sk": SortKey},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			// "$" sorts after the "#" that follows the time.
			":pk": Str("chg#" + resource), ":lo": Str(TimeKey(from)), ":hi": Str(TimeKey(at) + "$"),
		},
	}, func(item map[string]types.AttributeValue) error {
		var c changelog.Change
		if err := json.Unmarshal([]byte(StringAttr(item, "change")), &c); err != nil {
			return fmt.Errorf("decode change %s: %w", StringAttr(item, SortKey), err)
		}
		if c.Time.After(from) && !c.Time.After(at) {
			out = append(out, c)
		}
		return nil
	})
	return out, err
}

// Query runs a strongly consistent Query on the table over every page.
func (t *Table) Query(ctx context.Context, op string, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) error) error {
	in.ConsistentRead = aws.Bool(true)
	return t.query(ctx, op, in, each)
}

// QueryIndex runs a Query on one of the table's indexes, in.IndexName,
// over every page: eventually consistent, the only read an index allows.
func (t *Table) QueryIndex(ctx context.Context, op string, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) error) error {
	in.ConsistentRead = nil
	return t.query(ctx, op, in, each)
}

func (t *Table) query(ctx context.Context, op string, in *dynamodb.QueryInput, each func(map[string]types.AttributeValue) error) error {
	in.TableName = aws.String(t.name)
	return eachItem(ctx, op, dynamodb.NewQueryPaginator(t.client, in), func(p *dynamodb.QueryOutput) []map[string]types.AttributeValue { return p.Items }, each)
}

// Scan reads the whole table, strongly consistent, over every page: for
// tools listing what no index holds, never on a function's path.
func (t *Table) Scan(ctx context.Context, op string, in *dynamodb.ScanInput, each func(map[string]types.AttributeValue) error) error {
	in.TableName, in.ConsistentRead = aws.String(t.name), aws.Bool(true)
	return eachItem(ctx, op, dynamodb.NewScanPaginator(t.client, in), func(p *dynamodb.ScanOutput) []map[string]types.AttributeValue { return p.Items }, each)
}

// pages is a Query or Scan paginator.
type pages[Page any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*dynamodb.Options)) (Page, error)
}

// eachItem calls each with every item of every page.
func eachItem[Page any](ctx context.Context, op string, ps pages[Page], items func(Page) []map[string]types.AttributeValue, each func(map[string]types.AttributeValue) error) error {
	for ps.HasMorePages() {
		page, err := ps.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		for _, item := range items(page) {
			if err := each(item); err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
		}
	}
	return nil
}

// get reads one item with a strongly consistent read; nil when absent.
func (t *Table) Item(ctx context.Context, k map[string]types.AttributeValue, op string) (map[string]types.AttributeValue, error) {
	out, err := t.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(t.name), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(out.Item) == 0 {
		return nil, nil
	}
	return out.Item, nil
}

func ConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func StringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func NumberAttr(item map[string]types.AttributeValue, name string) (int64, error) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is not a number", name)
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("attribute %s: %w", name, err)
	}
	return n, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func Later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// newToken returns a value unique to one write, to recognise it later.
func NewToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
