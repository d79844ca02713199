// Package dynamodb keeps opsloop's state in one DynamoDB table, with
// single-item conditional writes and atomic counters only (no
// transactions), so the same code runs against a local DynamoDB in tests.
//
// This package defines the table and its layout and keeps the classifier's
// items (window counts, which know redeliveries, and the change log); the incident
// lifecycle's items are kept by incidentstore and the problems function's
// by problemstore, so that each function links only its own step.
//
// Item layout. Every item has the string keys pk and sk; short-lived items
// carry expiresAt (number, epoch seconds) for DynamoDB's TTL:
//
//	pk                   sk                                 attributes
//	cnt#<key>            <width ms:12>#<bucket index:15>    n, ids (binary set), expiresAt  window counter bucket
//	chg#<resource>       <time UTC, ns>#<event id>          change (JSON), expiresAt        change log
//	inc#<fingerprint>    state                              rec1 (packed JSON), version, status, opsItemId, rule, token
//	inc#<fingerprint>    hist#<opened time UTC, ns>         history (JSON)                  incident history
//	bgt#all#m#<YYYYMM>   budget                             counts (n, d<DD>, h<DDHH>, r<rule>d<DD>…), last, due, expiresAt   OpsItem budget tally
//	waitlist             limited                            fingerprints (string set)       refused OpsItems to retry
//	due                  <fingerprint>                      at                              response due of another account's OpsItem
//
// Packed JSON is a binary attribute (see Packed) that Unpack reads, as it
// reads the plain JSON strings of items written before packing.
//
// Times in sort keys are fixed-width UTC (2006-01-02T15:04:05.000000000Z),
// so they sort as they happened. The global secondary index byStatus
// (gsi1pk, gsi1sk) is reserved for problems, listed by status; nothing in
// this package writes those attributes yet.
package dynamodb

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The table's definition, shared by the CDK app and the tests.
const (
	// PartitionKey and SortKey are the table's key attributes (strings).
	PartitionKey = "pk"
	SortKey      = "sk"
	// TTLAttribute holds an item's expiry in epoch seconds.
	TTLAttribute = "expiresAt"
	// StatusIndex lists problems by status.
	StatusIndex = "byStatus"
	// StatusIndexPartitionKey and StatusIndexSortKey are StatusIndex's key
	// attributes (strings).
	StatusIndexPartitionKey = "gsi1pk"
	StatusIndexSortKey      = "gsi1sk"
)

// Default lifetimes of short-lived items.
const (
	// DefaultChangeTTL keeps changes for "what changed before?" lookbacks.
	DefaultChangeTTL = 30 * 24 * time.Hour
)

// TableDefinition is the CreateTable input for a table named name:
// on-demand, the key schema and the StatusIndex. TTL on TTLAttribute and
// encryption are set by the deployment (the local DynamoDB has neither).
func TableDefinition(name string) *dynamodb.CreateTableInput {
	str := func(n string) types.AttributeDefinition {
		return types.AttributeDefinition{AttributeName: aws.String(n), AttributeType: types.ScalarAttributeTypeS}
	}
	key := func(hash, rng string) []types.KeySchemaElement {
		return []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		}
	}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			str(PartitionKey), str(SortKey), str(StatusIndexPartitionKey), str(StatusIndexSortKey),
		},
		KeySchema: key(PartitionKey, SortKey),
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName:  aws.String(StatusIndex),
			KeySchema:  key(StatusIndexPartitionKey, StatusIndexSortKey),
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}

// API is the part of the DynamoDB client the table uses.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Options tune a Table; zero values take the defaults.
type Options struct {
	ChangeTTL time.Duration // default DefaultChangeTTL
	// Now is the clock for expiry times; default time.Now.
	Now func() time.Time
}

// Table is opsloop's state in one DynamoDB table. Retries of throttling
// and 5xx are the client's (the SDK's standard retryer by default); every
// error it returns is worth retrying except incidents.ErrConflict.
type Table struct {
	client API
	name   string
	opts   Options
}

// New returns the table named name, reached through client.
func New(client API, name string, opts Options) *Table {
	if opts.ChangeTTL <= 0 {
		opts.ChangeTTL = DefaultChangeTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Table{client: client, name: name, opts: opts}
}

// Name is the table's name.
func (t *Table) Name() string { return t.name }

// Client is the DynamoDB client the table is reached through, for the
// stores built on it (incidentstore, problemstore).
func (t *Table) Client() API { return t.client }

// SortTime is the fixed-width form of times in sort keys.
const SortTime = "2006-01-02T15:04:05.000000000Z"

func TimeKey(t time.Time) string { return t.UTC().Format(SortTime) }

func Str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func Num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: itoa(n)}
}

func Key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{PartitionKey: Str(pk), SortKey: Str(sk)}
}

func EpochSeconds(t time.Time) types.AttributeValue { return Num(t.Unix()) }
