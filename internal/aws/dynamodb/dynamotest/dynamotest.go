// Package dynamotest is test support for the DynamoDB adapters: one
// dynalite per test binary, a fresh table per test, and raw reads to look
// at items as stored.
package dynamotest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb"
)

var shared struct {
	once sync.Once
	d    *awstest.Dynalite
	err  error
}

var tables atomic.Int64

// Main runs the tests and stops the dynalite they started: call it from
// TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if shared.d != nil {
		_ = shared.d.Stop()
	}
	os.Exit(code)
}

// Dynalite is the test binary's dynalite, started on first use.
func Dynalite(t *testing.T) *awstest.Dynalite {
	t.Helper()
	shared.once.Do(func() { shared.d, shared.err = awstest.StartDynalite(context.Background()) })
	awstest.RequireDynalite(t, shared.err)
	return shared.d
}

// Table creates a fresh table of opsloop's definition and returns a client
// of it and its name.
func Table(t *testing.T) (*awsdynamodb.Client, string) {
	t.Helper()
	client := Dynalite(t).Client()
	name := fmt.Sprintf("opsloop-test-%d", tables.Add(1))
	Create(t, client, name)
	return client, name
}

// Create creates the table name and waits for it.
func Create(t *testing.T, client *awsdynamodb.Client, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := client.CreateTable(ctx, dynamodb.TableDefinition(name)); err != nil {
		t.Fatalf("CreateTable(%s) = %v", name, err)
	}
	waiter := awsdynamodb.NewTableExistsWaiter(client, func(o *awsdynamodb.TableExistsWaiterOptions) { o.MinDelay = 10 * time.Millisecond })
	if err := waiter.Wait(ctx, &awsdynamodb.DescribeTableInput{TableName: aws.String(name)}, 10*time.Second); err != nil {
		t.Fatalf("wait for table %s: %v", name, err)
	}
}

// RawItem reads an item as stored.
func RawItem(t *testing.T, client *awsdynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(context.Background(), &awsdynamodb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			dynamodb.PartitionKey: &types.AttributeValueMemberS{Value: pk},
			dynamodb.SortKey:      &types.AttributeValueMemberS{Value: sk},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem(%s, %s) = %v", pk, sk, err)
	}
	return out.Item
}

// CountItems counts the items under a partition key.
func CountItems(t *testing.T, client *awsdynamodb.Client, table, pk string) int {
	t.Helper()
	out, err := client.Query(context.Background(), &awsdynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("Query(%s) = %v", pk, err)
	}
	return len(out.Items)
}

// LostResponse replays each PutItem once more after it succeeded, as the
// SDK does when a response is lost and it retries the request.
type LostResponse struct {
	dynamodb.API
}

// PutItem puts in, then puts it again.
func (l LostResponse) PutItem(ctx context.Context, in *awsdynamodb.PutItemInput, optFns ...func(*awsdynamodb.Options)) (*awsdynamodb.PutItemOutput, error) {
	if out, err := l.API.PutItem(ctx, in, optFns...); err != nil {
		return out, err
	}
	return l.API.PutItem(ctx, in, optFns...)
}
