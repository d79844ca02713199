package dynamodb_test

import (
	"testing"

	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
	"github.com/opsloop/opsloop/internal/classify"
)

// The table is the classifier's state. Asserted here, not in the package,
// so that the incidents and problems functions, which use the table for the
// change log only, do not link the classifier.
var _ classify.State = (*dynamodb.Table)(nil)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// newTable creates a fresh table on the shared dynalite and returns the
// adapter on it with the raw client, for looking at items.
func newTable(t *testing.T, opts dynamodb.Options) (*dynamodb.Table, *awsdynamodb.Client) {
	t.Helper()
	client, name := dynamotest.Table(t)
	return dynamodb.New(client, name, opts), client
}
