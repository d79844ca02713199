package sqs

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/opsloop/opsloop/internal/aws/eventbridge"
)

// errorAttributes are the attributes Lambda and EventBridge add to a failed
// event; they describe the failure, not the message, so they are not sent
// on.
var errorAttributes = map[string]bool{
	"RequestID": true, "ErrorCode": true, "ErrorMessage": true,
	"RULE_ARN": true, "TARGET_ARN": true, "ERROR_CODE": true, "ERROR_MESSAGE": true,
	"EXHAUSTED_RETRY_CONDITION": true, "RETRY_ATTEMPTS": true,
}

// Queue sends messages to an SQS queue with their body and their
// producer's attributes, as they first came.
type Queue struct {
	api API
	url string
}

// ToQueue returns the destination of the queue at url.
func ToQueue(api API, url string) *Queue { return &Queue{api: api, url: url} }

// String implements Destination.
func (q *Queue) String() string { return "queue " + q.url }

// Send implements Destination.
func (q *Queue) Send(ctx context.Context, m Message) error {
	attrs := map[string]types.MessageAttributeValue{}
	for k, v := range m.Attributes {
		if !errorAttributes[k] {
			attrs[k] = v
		}
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(q.url), MessageBody: aws.String(m.Body)}
	if len(attrs) > 0 {
		in.MessageAttributes = attrs
	}
	if _, err := q.api.SendMessage(ctx, in); err != nil {
		return fmt.Errorf("send to %s: %w", q.url, err)
	}
	return nil
}

// Publisher publishes events on a bus, as eventbridge.Publisher does.
type Publisher interface {
	Publish(ctx context.Context, events ...eventbridge.Event) error
}

// Bus puts the EventBridge event a message holds on an event bus again,
// with its source, detail type, detail, resources and time. Events of AWS
// sources ("aws.*") cannot be put by anyone but AWS: send those to the
// function instead.
type Bus struct {
	pub  Publisher
	name string
}

// ToBus returns the destination of the bus name, published to through pub.
func ToBus(pub Publisher, name string) *Bus { return &Bus{pub: pub, name: name} }

// String implements Destination.
func (b *Bus) String() string { return "event bus " + b.name }

// Send implements Destination.
func (b *Bus) Send(ctx context.Context, m Message) error {
	var ev struct {
		Source     string          `json:"source"`
		DetailType string          `json:"detail-type"`
		Time       time.Time       `json:"time"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal([]byte(m.Body), &ev); err != nil || ev.Source == "" || ev.DetailType == "" || len(ev.Detail) == 0 {
		return fmt.Errorf("put on %s: the message is not an EventBridge event (source, detail-type and detail)", b.name)
	}
	if strings.HasPrefix(ev.Source, "aws.") {
		return fmt.Errorf("put on %s: events of source %s come from AWS only; send them to the function they failed to reach", b.name, ev.Source)
	}
	err := b.pub.Publish(ctx, eventbridge.Event{Source: ev.Source, DetailType: ev.DetailType, Detail: ev.Detail, Resources: ev.Resources, Time: ev.Time})
	if err != nil {
		return fmt.Errorf("put on %s: %w", b.name, err)
	}
	return nil
}

// Invoker invokes Lambda functions, as the Lambda client does.
type Invoker interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Function invokes a Lambda function asynchronously with each message's
// body, as EventBridge does: what its dead-letter queue keeps is the
// invocation's payload. The function's own retries and dead-letter queue
// apply again.
type Function struct {
	api  Invoker
	name string
}

// ToFunction returns the destination of the function name (or ARN).
func ToFunction(api Invoker, name string) *Function { return &Function{api: api, name: name} }

// String implements Destination.
func (f *Function) String() string { return "function " + f.name }

// Send implements Destination.
func (f *Function) Send(ctx context.Context, m Message) error {
	out, err := f.api.Invoke(ctx, &lambda.InvokeInput{
		FunctionName: aws.String(f.name), InvocationType: lambdatypes.InvocationTypeEvent, Payload: []byte(m.Body),
	})
	if err != nil {
		return fmt.Errorf("invoke %s: %w", f.name, err)
	}
	if out.FunctionError != nil {
		return fmt.Errorf("invoke %s: %s: %s", f.name, aws.ToString(out.FunctionError), out.Payload)
	}
	return nil
}
