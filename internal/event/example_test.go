package event_test

import (
	"fmt"

	"github.com/opsloop/opsloop/internal/event"
)

func ExampleParse() {
	raw := []byte(`{
	  "version": "0",
	  "id": "7bf73129-1428-4cd3-a780-95db273d1602",
	  "detail-type": "EC2 Instance State-change Notification",
	  "source": "aws.ec2",
	  "account": "123456789012",
	  "time": "2026-02-15T18:00:41Z",
	  "region": "us-east-1",
	  "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-0a1b2c3d4e5f60718"],
	  "detail": {"instance-id": "i-0a1b2c3d4e5f60718", "state": "stopped"}
	}`)
	e, err := event.Parse(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Values("detail.state"))
	fmt.Println(e.Summary())
	for _, r := range e.ResourceRefs() {
		fmt.Println(r.Type, r.ID)
	}

	_, err = event.Parse([]byte(`{"id": "x"}`))
	fmt.Println(err)
	// Output:
	// [stopped]
	// EC2 instance i-0a1b2c3d4e5f60718 is stopped in us-east-1
	// AWS::EC2::Instance i-0a1b2c3d4e5f60718
	// event: field "detail-type": missing
}

func ExampleFromCloudTrailRecord() {
	record := []byte(`{"eventVersion":"1.10","eventTime":"2026-02-17T03:27:45Z","eventSource":"cloudtrail.amazonaws.com",
	  "eventName":"StopLogging","awsRegion":"us-east-1","eventType":"AwsApiCall","eventID":"0b5c2f1e-7a0d-4c43-9a55-1d2e3f4a5b6c",
	  "recipientAccountId":"123456789012","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/ci-bot"},
	  "requestParameters":{"name":"management-events"},"responseElements":null}`)
	out, err := event.FromCloudTrailRecord(record)
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := event.Parse(out)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.DetailType, "/", e.Source)
	fmt.Println(e.Actor())
	fmt.Println(e.ResourceRefs()[0].ARN)
	// Output:
	// AWS API Call via CloudTrail / aws.cloudtrail
	// arn:aws:iam::123456789012:user/ci-bot
	// arn:aws:cloudtrail:us-east-1:123456789012:trail/management-events
}
