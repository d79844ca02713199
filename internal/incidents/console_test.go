package incidents_test

import (
	"testing"

	"github.com/opsloop/opsloop/internal/incidents"
	"github.com/opsloop/opsloop/internal/signal"
)

func TestConsoleLinks(t *testing.T) {
	tests := []struct{ resource, want string }{
		{"arn:aws:ec2:eu-west-1:111122223333:instance/i-0abc", "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#InstanceDetails:instanceId=i-0abc"},
		{"arn:aws:ec2:eu-west-1:111122223333:security-group/sg-1", "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#SecurityGroup:groupId=sg-1"},
		{"arn:aws:cloudwatch:eu-west-1:111122223333:alarm:db-cpu", "https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarmsV2:alarm/db-cpu"},
		{"arn:aws:lambda:eu-west-1:111122223333:function:orders", "https://eu-west-1.console.aws.amazon.com/lambda/home?region=eu-west-1#/functions/orders"},
		{"arn:aws:iam::111122223333:role/path/deployer", "https://console.aws.amazon.com/iam/home#/roles/details/deployer"},
		{"arn:aws:s3:::orders-archive", "https://s3.console.aws.amazon.com/s3/buckets/orders-archive?region=us-east-1"},
		{"arn:aws:dynamodb:eu-west-1:111122223333:table/orders", "https://eu-west-1.console.aws.amazon.com/cloudtrail/home?region=eu-west-1#/events?ResourceName=orders"},
	}
	for _, tt := range tests {
		got := incidents.ConsoleLinks(nil, []string{tt.resource, "not an arn"})
		if len(got) != 1 || got[0].URL != tt.want || got[0].Resource != tt.resource {
			t.Errorf("ConsoleLinks(%s) = %+v, want %s", tt.resource, got, tt.want)
		}
	}
	// Through the access portal, into the resource's own account.
	p := &signal.Portal{URL: "https://d-1234567890.awsapps.com/start/", Role: "ReadOnly"}
	got := incidents.ConsoleLinks(p, []string{tests[0].resource})
	want := "https://d-1234567890.awsapps.com/start/#/console?account_id=111122223333&role_name=ReadOnly&destination=" +
		"https%3A%2F%2Feu-west-1.console.aws.amazon.com%2Fec2%2Fhome%3Fregion%3Deu-west-1%23InstanceDetails%3AinstanceId%3Di-0abc"
	if len(got) != 1 || got[0].URL != want {
		t.Errorf("ConsoleLinks(portal) = %+v, want %s", got, want)
	}
	many := make([]string, 9)
	for i := range many {
		many[i] = tests[0].resource + string(rune('a'+i))
	}
	if n := len(incidents.ConsoleLinks(p, many)); n != 5 {
		t.Errorf("links for 9 resources = %d, want 5", n)
	}
}
