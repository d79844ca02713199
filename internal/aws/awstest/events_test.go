package awstest_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/opsloop/opsloop/internal/aws/awstest"
)

func entry(source, detailType, detail string) types.PutEventsRequestEntry {
	return types.PutEventsRequestEntry{Source: aws.String(source), DetailType: aws.String(detailType), Detail: aws.String(detail)}
}

func TestPutEventsEntries(t *testing.T) {
	ok := entry("opsloop", "Incident Detected", `{"a":1}`)
	tests := []struct {
		name string
		e    types.PutEventsRequestEntry
		code string
	}{
		{"valid", ok, ""},
		{"no source", types.PutEventsRequestEntry{DetailType: ok.DetailType, Detail: ok.Detail}, "InvalidArgument"},
		{"no detail type", types.PutEventsRequestEntry{Source: ok.Source, Detail: ok.Detail}, "InvalidArgument"},
		{"no detail", types.PutEventsRequestEntry{Source: ok.Source, DetailType: ok.DetailType}, "InvalidArgument"},
		{"detail not JSON", entry("opsloop", "x", `{`), "MalformedDetail"},
		{"detail not an object", entry("opsloop", "x", `[1]`), "MalformedDetail"},
		{"aws source", entry("aws.ec2", "x", `{}`), "NotAuthorizedForSourceException"},
		{"source too long", entry(strings.Repeat("s", awstest.MaxEventSource+1), "x", `{}`), "InvalidArgument"},
		{"detail type too long", entry("opsloop", strings.Repeat("d", awstest.MaxDetailType+1), `{}`), "InvalidArgument"},
	}
	srv := awstest.NewEvents()
	defer srv.Close()
	var in eventbridge.PutEventsInput
	for _, tt := range tests {
		in.Entries = append(in.Entries, tt.e)
	}
	out, err := srv.Client().PutEvents(context.Background(), &in)
	if err != nil {
		t.Fatalf("PutEvents = %v", err)
	}
	failed := 0
	for i, tt := range tests {
		got := aws.ToString(out.Entries[i].ErrorCode)
		if got != tt.code {
			t.Errorf("PutEvents(%s) entry code = %q, want %q", tt.name, got, tt.code)
		}
		if got != "" {
			failed++
		} else if aws.ToString(out.Entries[i].EventId) == "" {
			t.Errorf("PutEvents(%s) accepted without an EventId", tt.name)
		}
	}
	if int(out.FailedEntryCount) != failed || len(srv.Events()) != len(tests)-failed {
		t.Errorf("FailedEntryCount = %d, accepted %d; want %d, %d", out.FailedEntryCount, len(srv.Events()), failed, len(tests)-failed)
	}
}

func TestPutEventsRequestLimits(t *testing.T) {
	big := strings.Repeat("x", awstest.MaxPutEventsSize/2)
	tests := []struct {
		name    string
		entries []types.PutEventsRequestEntry
		wantErr bool
	}{
		{"ten entries", make10(), false},
		{"eleven entries", append(make10(), entry("opsloop", "x", `{}`)), true},
		{"no entries", []types.PutEventsRequestEntry{}, true},
		{"over the size limit", []types.PutEventsRequestEntry{entry("opsloop", "x", `{"a":"`+big+`"}`), entry("opsloop", "x", `{"a":"`+big+`"}`)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := awstest.NewEvents()
			defer srv.Close()
			client := srv.Client(func(o *eventbridge.Options) { o.RetryMaxAttempts = 1 })
			_, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: tt.entries})
			if (err != nil) != tt.wantErr || (err != nil && errorCode(err) != "ValidationException") {
				t.Errorf("PutEvents(%s) = %v, want ValidationException %v", tt.name, err, tt.wantErr)
			}
			if tt.wantErr && len(srv.Events()) != 0 {
				t.Errorf("PutEvents(%s) accepted %d events of a refused request", tt.name, len(srv.Events()))
			}
		})
	}
}

func make10() []types.PutEventsRequestEntry {
	var out []types.PutEventsRequestEntry
	for range 10 {
		out = append(out, entry("opsloop", "x", `{}`))
	}
	return out
}

func TestEventDelivery(t *testing.T) {
	srv := awstest.NewEvents()
	defer srv.Close()
	var mu sync.Mutex
	var seen []awstest.Event
	srv.Subscribe(func(e awstest.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e)
	})
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := entry("opsloop", "Incident Detected", `{"fingerprint":"r:x"}`)
	e.EventBusName = aws.String("arn:aws:events:us-east-1:123456789012:event-bus/opsloop")
	e.Time = aws.Time(at)
	e.Resources = []string{"arn:aws:s3:::b"}
	if _, err := srv.Client().PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{e}}); err != nil {
		t.Fatalf("PutEvents = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Fatalf("subscriber saw %d events, want 1", len(seen))
	}
	var env struct {
		Version    string          `json:"version"`
		ID         string          `json:"id"`
		DetailType string          `json:"detail-type"`
		Source     string          `json:"source"`
		Account    string          `json:"account"`
		Time       time.Time       `json:"time"`
		Region     string          `json:"region"`
		Resources  []string        `json:"resources"`
		Detail     json.RawMessage `json:"detail"`
	}
	if err := json.Unmarshal(seen[0].JSON(), &env); err != nil {
		t.Fatalf("event JSON: %v", err)
	}
	if seen[0].Bus != "opsloop" || env.Version != "0" || env.ID == "" || env.DetailType != "Incident Detected" || env.Source != "opsloop" ||
		!env.Time.Equal(at) || env.Account != awstest.Account || env.Region != awstest.Region || len(env.Resources) != 1 ||
		string(env.Detail) != `{"fingerprint":"r:x"}` {
		t.Errorf("delivered %s on bus %s, want the entry in EventBridge's envelope on bus opsloop", seen[0].JSON(), seen[0].Bus)
	}
}

func TestBusPolicy(t *testing.T) {
	const org, bus = "o-abcdefghij1", "opsloop-ingest"
	srv := awstest.NewEvents()
	defer srv.Close()
	// GIVEN an ingest bus whose policy admits the organization's
	// principals for AWS sources, as the central stack's
	srv.SetBusPolicy(bus, awstest.PolicyStatement{
		Effect: "Allow", Principal: map[string]any{"AWS": "*"}, Action: "events:PutEvents",
		Condition: map[string]map[string]json.RawMessage{
			"StringEquals": {"aws:PrincipalOrgID": json.RawMessage(`"` + org + `"`)},
			"StringLike":   {"events:source": json.RawMessage(`"aws.*"`)},
		},
	})
	member := awstest.Principal{Account: "111111111111", OrgID: org, ARN: "arn:aws:iam::111111111111:role/forward"}
	outsider := awstest.Principal{Account: "999999999999", ARN: "arn:aws:iam::999999999999:role/x"}
	srv.AddPrincipal("AKIDMEMBER", member)
	srv.AddPrincipal("AKIDOUTSIDER", outsider)
	put := func(key, source string) string {
		t.Helper()
		client := eventbridge.New(eventbridge.Options{Region: awstest.Region, BaseEndpoint: aws.String(srv.URL()),
			Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{AccessKeyID: key, SecretAccessKey: "s"}, nil
			})})
		e := entry(source, "x", `{}`)
		e.EventBusName = aws.String("arn:aws:events:us-east-1:123456789012:event-bus/" + bus)
		out, err := client.PutEvents(context.Background(), &eventbridge.PutEventsInput{Entries: []types.PutEventsRequestEntry{e}})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.Entries[0].ErrorCode)
	}
	// WHEN principals put events of their own THEN only the owner's are taken
	for _, c := range []struct{ key, source, code string }{
		{"AKIDAWSTEST", "acme.app", ""},
		{"AKIDMEMBER", "acme.app", "AccessDeniedException"},
		{"AKIDMEMBER", "aws.ec2", "NotAuthorizedForSourceException"},
		{"AKIDOUTSIDER", "acme.app", "AccessDeniedException"},
	} {
		if got := put(c.key, c.source); got != c.code {
			t.Errorf("PutEvents by %s of %s = %q, want %q", c.key, c.source, got, c.code)
		}
	}
	// AND when rules of other accounts forward their AWS events THEN the
	// organization's are taken as they are, the others refused
	raw := func(source string) []byte {
		return []byte(`{"version":"0","id":"e1","detail-type":"AWS API Call via CloudTrail","source":"` + source +
			`","account":"111111111111","time":"2026-03-01T10:00:00Z","region":"eu-west-1","resources":[],"detail":{"a":1}}`)
	}
	ev, err := srv.Forward(member, bus, raw("aws.ec2"))
	if err != nil || ev.Bus != bus || ev.Account != "111111111111" || ev.Region != "eu-west-1" ||
		!strings.Contains(string(ev.JSON()), `"account":"111111111111"`) {
		t.Errorf("Forward(member) = %+v, %v", ev, err)
	}
	if _, err := srv.Forward(outsider, bus, raw("aws.ec2")); err == nil || !strings.Contains(err.Error(), "AccessDeniedException") {
		t.Errorf("Forward(outsider) error = %v, want AccessDeniedException", err)
	}
	if _, err := srv.Forward(member, bus, raw("acme.app")); err == nil {
		t.Error("Forward(member, a custom source) was taken")
	}
	if _, err := srv.Forward(member, "opsloop", raw("aws.ec2")); err == nil {
		t.Error("Forward(member) onto a bus without a policy was taken")
	}
	if n := len(srv.Events()); n != 2 {
		t.Errorf("events = %d, want the owner's and the member's forwarded one", n)
	}
}
