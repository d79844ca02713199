package dynamodb_test

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

// One dynalite serves the package's tests; each test gets its own table.
var shared struct {
	once sync.Once
	d    *awstest.Dynalite
	err  error
}

var tables atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.d != nil {
		_ = shared.d.Stop()
	}
	os.Exit(code)
}

func dynalite(t *testing.T) *awstest.Dynalite {
	t.Helper()
	shared.once.Do(func() { shared.d, shared.err = awstest.StartDynalite(context.Background()) })
	awstest.RequireDynalite(t, shared.err)
	return shared.d
}

// newTable creates a fresh table on the shared dynalite and returns the
// adapter on it with the raw client, for looking at items.
func newTable(t *testing.T, opts dynamodb.Options) (*dynamodb.Table, *awsdynamodb.Client) {
	t.Helper()
	client := dynalite(t).Client()
	name := fmt.Sprintf("opsloop-test-%d", tables.Add(1))
	createTable(t, client, name)
	return dynamodb.New(client, name, opts), client
}

func createTable(t *testing.T, client *awsdynamodb.Client, name string) {
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

// rawItem reads an item as stored.
func rawItem(t *testing.T, client *awsdynamodb.Client, table, pk, sk string) map[string]types.AttributeValue {
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

// countItems counts the items under a partition key.
func countItems(t *testing.T, client *awsdynamodb.Client, table, pk string) int {
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
