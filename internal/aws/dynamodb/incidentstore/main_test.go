package incidentstore_test

import (
	"testing"
	"time"

	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/incidentstore"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestMain(m *testing.M) { dynamotest.Main(m) }

// newStore creates a fresh table on the shared dynalite and returns the
// store on it with the raw client, for looking at items.
func newStore(t *testing.T) (*incidentstore.Store, *awsdynamodb.Client) {
	t.Helper()
	client, name := dynamotest.Table(t)
	return incidentstore.New(dynamodb.New(client, name, dynamodb.Options{})), client
}
