package opscenter_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/ssm/opscenter"
	"github.com/opsloop/opsloop/internal/incidents"
)

// fast keeps retries quick in tests; the policy is the production one.
var fast = opscenter.Options{MaxAttempts: 4, MaxBackoff: 5 * time.Millisecond}

func setup(t *testing.T, opts opscenter.Options) (*opscenter.Client, *awstest.SSM) {
	t.Helper()
	srv := awstest.NewSSM()
	t.Cleanup(srv.Close)
	return opscenter.New(srv.Client(), opts), srv
}

func dedup(fp string) incidents.Data {
	return incidents.Data{Value: fmt.Sprintf(`{"dedupString":%q}`, fp), Searchable: true}
}

func item(fp string) incidents.OpsItem {
	return incidents.OpsItem{
		Title: "Alarm cpu-high is in ALARM", Description: "What happened: the alarm fired.", Source: "opsloop",
		Severity: "2", Priority: 2, Category: "Availability",
		OperationalData: map[string]incidents.Data{
			"/aws/dedup":       dedup(fp),
			"/aws/resources":   {Value: `[{"arn":"arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu-high"}]`, Searchable: true},
			"/aws/automations": {Value: `[{"automationId":"AWS-RestartEC2Instance","automationType":"AWS::SSM::Automation"}]`},
			"opsloop:rule":     {Value: "alarm-in-alarm", Searchable: true},
			"opsloop:count":    {Value: "1"},
		},
		Notifications:   []string{"arn:aws:sns:us-east-1:123456789012:ops"},
		RelatedOpsItems: nil,
	}
}

func TestCreateMapsFields(t *testing.T) {
	ctx := context.Background()
	c, srv := setup(t, fast)
	first, existing, err := c.Create(ctx, item("fp-0"))
	if err != nil || existing {
		t.Fatalf("Create(fp-0) = %q, %v, %v", first, existing, err)
	}
	in := item("fp-1")
	in.RelatedOpsItems = []string{first}
	id, existing, err := c.Create(ctx, in)
	if err != nil || existing || id == "" {
		t.Fatalf("Create(fp-1) = %q, %v, %v, want a new id", id, existing, err)
	}
	stored, ok := srv.OpsItem(id)
	if !ok {
		t.Fatalf("OpsItem %s not stored", id)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"Title", stored.Title, in.Title},
		{"Description", stored.Description, in.Description},
		{"Source", stored.Source, in.Source},
		{"Severity", stored.Severity, in.Severity},
		{"Priority", stored.Priority, in.Priority},
		{"Category", stored.Category, in.Category},
		{"Status", stored.Status, "Open"},
		{"Notifications", stored.Notifications, in.Notifications},
		{"RelatedOpsItems", stored.RelatedOpsItems, []string{first}},
		{"data keys", len(stored.OperationalData), len(in.OperationalData)},
	}
	for k, v := range in.OperationalData {
		typ := "String"
		if v.Searchable {
			typ = "SearchableString"
		}
		checks = append(checks, struct {
			field     string
			got, want any
		}{"OperationalData " + k, stored.OperationalData[k], awstest.OpsItemData{Type: typ, Value: v.Value}})
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("stored %s = %v, want %v", c.field, c.got, c.want)
		}
	}

	got, err := c.Get(ctx, id)
	if err != nil {
		t.Fatalf("Get(%s) = %v", id, err)
	}
	if !reflect.DeepEqual(got.OpsItem, in) || got.ID != id || got.Status != "Open" || got.CreatedTime.IsZero() {
		t.Errorf("Get(%s) = %+v, want %+v, Open", id, got, in)
	}
}

func TestCreateDedup(t *testing.T) {
	ctx := context.Background()
	c, srv := setup(t, fast)
	id, existing, err := c.Create(ctx, item("fp"))
	if err != nil || existing {
		t.Fatalf("Create(fp) = %q, %v, %v", id, existing, err)
	}
	// OpsCenter's dedup strings are case-insensitive.
	for _, fp := range []string{"fp", "FP"} {
		again, existing, err := c.Create(ctx, item(fp))
		if err != nil || !existing || again != id {
			t.Errorf("Create(%s) of an open duplicate = %q, %v, %v, want %q, true, nil", fp, again, existing, err, id)
		}
	}
	if err := c.Update(ctx, id, incidents.Update{Status: "Resolved"}); err != nil {
		t.Fatalf("Update(Resolved) = %v", err)
	}
	next, existing, err := c.Create(ctx, item("fp"))
	if err != nil || existing || next == id {
		t.Errorf("Create(fp) after resolve = %q, %v, %v, want a new OpsItem", next, existing, err)
	}
	if n := len(srv.OpsItems()); n != 2 {
		t.Errorf("OpsItems = %d, want 2", n)
	}
}

func TestCreateConcurrentDedup(t *testing.T) {
	ctx := context.Background()
	c, srv := setup(t, fast)
	const workers = 16
	ids := make(chan string, workers)
	created := make(chan bool, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, existing, err := c.Create(ctx, item("storm"))
			if err != nil {
				t.Errorf("Create(storm) = %v", err)
				return
			}
			ids <- id
			created <- !existing
		}()
	}
	wg.Wait()
	close(ids)
	close(created)
	distinct := map[string]bool{}
	for id := range ids {
		distinct[id] = true
	}
	news := 0
	for c := range created {
		if c {
			news++
		}
	}
	if len(distinct) != 1 || news != 1 || len(srv.OpsItems()) != 1 {
		t.Errorf("%d concurrent Create(storm): %d ids, %d created, %d stored; want 1, 1, 1", workers, len(distinct), news, len(srv.OpsItems()))
	}
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		faults    []awstest.Fault
		wantErr   bool
		wantCalls int
	}{
		{"throttling", []awstest.Fault{awstest.Throttling}, false, 2},
		{"HTTP 500", []awstest.Fault{awstest.HTTP500}, false, 2},
		{"HTTP 503", []awstest.Fault{awstest.HTTP503}, false, 2},
		{"InternalServerError", []awstest.Fault{awstest.InternalServerError}, false, 2},
		{"mixed, within attempts", []awstest.Fault{awstest.Throttling, awstest.HTTP503, awstest.InternalServerError}, false, 4},
		{"more faults than attempts", []awstest.Fault{awstest.Throttling, awstest.Throttling, awstest.HTTP500, awstest.HTTP503}, true, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c, srv := setup(t, fast)
			srv.Faults.Script("CreateOpsItem", tt.faults...)
			_, _, err := c.Create(ctx, item("fp"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Create with faults %v = %v, want error %v", tt.faults, err, tt.wantErr)
			}
			if err != nil && !incidents.Retryable(err) {
				t.Errorf("Create error %v is not retryable", err)
			}
			if got := srv.Calls("CreateOpsItem"); got != tt.wantCalls {
				t.Errorf("CreateOpsItem calls = %d, want %d", got, tt.wantCalls)
			}

			srv.Faults.Script("UpdateOpsItem", tt.faults...)
			id := "oi-000000000001"
			err = c.Update(ctx, id, incidents.Update{Title: "new title"})
			if (err != nil) != tt.wantErr {
				t.Fatalf("Update with faults %v = %v, want error %v", tt.faults, err, tt.wantErr)
			}
			if got := srv.Calls("UpdateOpsItem"); got != tt.wantCalls {
				t.Errorf("UpdateOpsItem calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestRandomFaults(t *testing.T) {
	ctx := context.Background()
	c, srv := setup(t, opscenter.Options{MaxAttempts: 10, MaxBackoff: 2 * time.Millisecond})
	srv.Faults.SetRate(0.3, 42, []awstest.Fault{awstest.Throttling, awstest.HTTP500, awstest.HTTP503, awstest.InternalServerError})
	const n = 40
	for i := range n {
		id, _, err := c.Create(ctx, item(fmt.Sprintf("fp-%d", i)))
		if err != nil {
			t.Fatalf("Create(fp-%d) under 30%% faults = %v", i, err)
		}
		if err := c.Update(ctx, id, incidents.Update{Description: "updated"}); err != nil {
			t.Fatalf("Update(%s) under 30%% faults = %v", id, err)
		}
	}
	calls := srv.Calls("CreateOpsItem") + srv.Calls("UpdateOpsItem")
	if len(srv.OpsItems()) != n || calls <= 2*n {
		t.Errorf("%d creates under faults: %d OpsItems after %d calls, want %d OpsItems after more than %d calls", n, len(srv.OpsItems()), calls, n, 2*n)
	}
	t.Logf("%d operations took %d calls", 2*n, calls)
}

func TestLimitExceeded(t *testing.T) {
	ctx := context.Background()
	c, srv := setup(t, fast)
	srv.SetOpsItemLimit(1)
	if _, _, err := c.Create(ctx, item("a")); err != nil {
		t.Fatalf("Create(a) = %v", err)
	}
	_, _, err := c.Create(ctx, item("b"))
	if !errors.Is(err, incidents.ErrLimitExceeded) || incidents.Retryable(err) {
		t.Fatalf("Create(b) over the limit = %v, want permanent ErrLimitExceeded", err)
	}
	if got := srv.Calls("CreateOpsItem"); got != 2 {
		t.Errorf("CreateOpsItem calls = %d, want 2 (the limit is not retried)", got)
	}
	// The duplicate of an open OpsItem is found even at the limit.
	if _, existing, err := c.Create(ctx, item("a")); err != nil || !existing {
		t.Errorf("Create(a) at the limit = %v, %v, want existing", existing, err)
	}
}

// TestRefusals sends what OpsCenter refuses: each is a permanent error,
// sent once.
func TestRefusals(t *testing.T) {
	bads := []struct {
		name   string
		change func(*incidents.OpsItem)
	}{
		{"title too long", func(it *incidents.OpsItem) { it.Title = strings.Repeat("t", awstest.MaxTitle+1) }},
		{"blank title", func(it *incidents.OpsItem) { it.Title = "   " }},
		{"empty description", func(it *incidents.OpsItem) { it.Description = "" }},
		{"description too long", func(it *incidents.OpsItem) { it.Description = strings.Repeat("é", awstest.MaxDescription+1) }},
		{"source too long", func(it *incidents.OpsItem) { it.Source = strings.Repeat("s", awstest.MaxSource+1) }},
		{"source naming aws", func(it *incidents.OpsItem) { it.Source = "my-aws-thing" }},
		{"severity 5", func(it *incidents.OpsItem) { it.Severity = "5" }},
		{"priority 6", func(it *incidents.OpsItem) { it.Priority = 6 }},
		{"reserved data key", func(it *incidents.OpsItem) { it.OperationalData["aws:mine"] = incidents.Data{Value: "x"} }},
		{"reserved data key in upper case", func(it *incidents.OpsItem) { it.OperationalData["/AWS/mine"] = incidents.Data{Value: "x"} }},
		{"data key too long", func(it *incidents.OpsItem) {
			it.OperationalData[strings.Repeat("k", awstest.MaxDataKey+1)] = incidents.Data{Value: "x"}
		}},
		{"data value too large", func(it *incidents.OpsItem) {
			it.OperationalData["opsloop:big"] = incidents.Data{Value: strings.Repeat("v", awstest.MaxDataValue+1)}
		}},
		{"dedup not JSON", func(it *incidents.OpsItem) { it.OperationalData["/aws/dedup"] = incidents.Data{Value: "fp"} }},
		{"resources not ARNs", func(it *incidents.OpsItem) {
			it.OperationalData["/aws/resources"] = incidents.Data{Value: `[{"arn":"i-123"}]`}
		}},
		{"too many related OpsItems", func(it *incidents.OpsItem) {
			for i := range awstest.MaxRelatedOpsItems + 1 {
				it.RelatedOpsItems = append(it.RelatedOpsItems, fmt.Sprintf("oi-%012x", i+1))
			}
		}},
		{"related OpsItem id malformed", func(it *incidents.OpsItem) { it.RelatedOpsItems = []string{"oi-XYZ"} }},
		{"notification not an ARN", func(it *incidents.OpsItem) { it.Notifications = []string{"ops-topic"} }},
	}
	for _, b := range bads {
		t.Run(b.name, func(t *testing.T) {
			c, srv := setup(t, fast)
			it := item("fp")
			b.change(&it)
			id, _, err := c.Create(context.Background(), it)
			if err == nil {
				t.Fatalf("Create(%s) = %q, nil, want an error", b.name, id)
			}
			if incidents.Retryable(err) {
				t.Errorf("Create(%s) = %v, want a permanent error", b.name, err)
			}
			if got := srv.Calls("CreateOpsItem"); got != 1 {
				t.Errorf("CreateOpsItem calls = %d, want 1", got)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	c, srv := setup(t, fast)
	prev, _, err := c.Create(ctx, item("prev"))
	if err != nil {
		t.Fatalf("Create(prev) = %v", err)
	}
	id, _, err := c.Create(ctx, item("fp"))
	if err != nil {
		t.Fatalf("Create(fp) = %v", err)
	}
	before, _ := srv.OpsItem(id)
	u := incidents.Update{
		Severity: "1", Priority: 1,
		OperationalData: map[string]incidents.Data{"opsloop:count": {Value: "20"}, "opsloop:last": {Value: "now", Searchable: true}},
		RelatedOpsItems: []string{prev},
	}
	if err := c.Update(ctx, id, u); err != nil {
		t.Fatalf("Update(%s) = %v", id, err)
	}
	after, _ := srv.OpsItem(id)
	want := before
	want.Severity, want.Priority, want.RelatedOpsItems = "1", 1, []string{prev}
	want.OperationalData["opsloop:count"] = awstest.OpsItemData{Type: "String", Value: "20"}
	want.OperationalData["opsloop:last"] = awstest.OpsItemData{Type: "SearchableString", Value: "now"}
	want.LastModifiedTime, want.Updates = after.LastModifiedTime, 1
	if !reflect.DeepEqual(after, want) {
		t.Errorf("after Update: %+v, want %+v", after, want)
	}

	err = c.Update(ctx, "oi-0000000000ff", incidents.Update{Status: "Resolved"})
	if err == nil || incidents.Retryable(err) {
		t.Errorf("Update(unknown OpsItem) = %v, want a permanent error", err)
	}
	err = c.Update(ctx, id, incidents.Update{Status: "Finished"})
	if err == nil || incidents.Retryable(err) {
		t.Errorf("Update(Status Finished) = %v, want a permanent error", err)
	}
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	c, _ := setup(t, fast)
	var ids []string
	for i := range 7 {
		it := item(fmt.Sprintf("fp-%d", i))
		it.OperationalData["opsloop:fingerprint"] = incidents.Data{Value: fmt.Sprintf("fp-%d", i%2), Searchable: true}
		it.OperationalData["opsloop:hidden"] = incidents.Data{Value: "x"}
		id, _, err := c.Create(ctx, it)
		if err != nil {
			t.Fatalf("Create = %v", err)
		}
		ids = append(ids, id)
	}
	if err := c.Update(ctx, ids[0], incidents.Update{Status: "Resolved"}); err != nil {
		t.Fatalf("Update = %v", err)
	}
	tests := []struct {
		name string
		q    opscenter.Query
		want []string
	}{
		{"all", opscenter.Query{}, ids},
		{"open", opscenter.Query{Statuses: []string{"Open", "InProgress"}}, ids[1:]},
		{"by data", opscenter.Query{Data: map[string]string{"opsloop:fingerprint": "fp-0"}}, []string{ids[0], ids[2], ids[4], ids[6]}},
		{"by data and status", opscenter.Query{Statuses: []string{"Open"}, Data: map[string]string{"opsloop:fingerprint": "fp-0"}}, []string{ids[2], ids[4], ids[6]}},
		{"not searchable", opscenter.Query{Data: map[string]string{"opsloop:hidden": "x"}}, nil},
		{"limit", opscenter.Query{Limit: 3}, ids[:3]},
		{"source", opscenter.Query{Source: "other"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Find(ctx, tt.q)
			if err != nil {
				t.Fatalf("Find(%+v) = %v", tt.q, err)
			}
			var gotIDs []string
			for _, s := range got {
				gotIDs = append(gotIDs, s.ID)
				if _, ok := s.OperationalData["opsloop:hidden"]; ok {
					t.Errorf("Find summary %s shows data that is not searchable", s.ID)
				}
			}
			if !slices.Equal(gotIDs, tt.want) {
				t.Errorf("Find(%+v) = %v, want %v", tt.q, gotIDs, tt.want)
			}
		})
	}
}

// TestOpen lists, through DescribeOpsItems, the Open opsloop OpsItems
// that have a response due, with what their searchable data says of it:
// not those whose escalation ended (the key removed), acknowledged,
// another source's, or another account's.
func TestOpen(t *testing.T) {
	ctx := context.Background()
	c, srv := setup(t, opscenter.Options{MaxAttempts: 4, MaxBackoff: 5 * time.Millisecond, Region: awstest.Region})
	srv.AllowAccounts("111122223333")
	due := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	create := func(fp, due, source, account string) string {
		t.Helper()
		it := item(fp)
		it.Source, it.AccountID = source, account
		it.OperationalData[incidents.KeyFingerprint] = incidents.Data{Value: fp, Searchable: true}
		it.OperationalData[incidents.KeyDue] = incidents.Data{Value: due, Searchable: true}
		id, _, err := c.Create(ctx, it)
		if err != nil {
			t.Fatalf("Create(%s) = %v", fp, err)
		}
		return id
	}
	withDue := create("fp-due", due.Format(time.RFC3339), incidents.Source, "")
	ended := create("fp-ended", due.Format(time.RFC3339), incidents.Source, "")
	if err := c.Update(ctx, ended, incidents.Update{DeleteData: []string{incidents.KeyDue}}); err != nil {
		t.Fatal(err)
	}
	create("fp-other-source", due.Format(time.RFC3339), "other", "")
	create("fp-other-account", due.Format(time.RFC3339), incidents.Source, "111122223333")
	acked := create("fp-acked", due.Format(time.RFC3339), incidents.Source, "")
	if err := c.Update(ctx, acked, incidents.Update{Status: "InProgress"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.Open(ctx)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	want := []incidents.OpenResponse{{OpsItemID: withDue, Fingerprint: "fp-due", Due: due}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Open = %+v, want %+v", got, want)
	}
}

func TestCrossAccount(t *testing.T) {
	ctx := context.Background()
	const member = "111122223333"
	c, srv := setup(t, opscenter.Options{MaxAttempts: 2, MaxBackoff: time.Millisecond, Region: awstest.Region})
	it := item("fp-member")
	it.AccountID = member
	it.RelatedOpsItems = []string{"arn:aws:ssm:us-east-1:444455556666:opsitem/oi-000000000009"}
	// GIVEN an account not set up as the delegated administrator WHEN it
	// creates an OpsItem in a member account THEN OpsCenter refuses
	// (not a permanent refusal: once set up, a redrive succeeds)
	if _, _, err := c.Create(ctx, it); err == nil || !strings.Contains(err.Error(), "OpsItemAccessDeniedException") || !incidents.Retryable(err) {
		t.Fatalf("Create in a member account before set-up = %v, want a retryable OpsItemAccessDeniedException", err)
	}
	// GIVEN the set-up WHEN it creates one THEN the OpsItem lives in the
	// member account and is named by its ARN
	srv.AllowAccounts(member)
	id, existing, err := c.Create(ctx, it)
	want := "arn:aws:ssm:" + awstest.Region + ":" + member + ":opsitem/"
	if err != nil || existing || !strings.HasPrefix(id, want) {
		t.Fatalf("Create in %s = %q, %v, %v; want an ARN %s...", member, id, existing, err, want)
	}
	items := srv.OpsItems()
	if len(items) != 1 || items[0].Account != member || len(items[0].RelatedOpsItems) != 0 {
		t.Fatalf("OpsItems = %+v, want one in %s, relating nothing of other accounts", items, member)
	}
	// AND the same dedup string in the deployment's own account is another OpsItem
	own, existing, err := c.Create(ctx, item("fp-member"))
	if err != nil || existing || strings.HasPrefix(own, "arn:") {
		t.Errorf("Create in the own account = %q, %v, %v; want a new OpsItem by id", own, existing, err)
	}
	// AND a repeat in the member account finds it, by ARN
	if again, existing, err := c.Create(ctx, it); err != nil || !existing || again != id {
		t.Errorf("Create again = %q, %v, %v; want %q, existing", again, existing, err, id)
	}
	// AND updates and reads take the ARN
	if err := c.Update(ctx, id, incidents.Update{Status: "Resolved"}); err != nil {
		t.Fatalf("Update(%s) = %v", id, err)
	}
	if st, err := c.Status(ctx, id); err != nil || st != "Resolved" {
		t.Errorf("Status(%s) = %q, %v; want Resolved", id, st, err)
	}
	// AND the member's OpsItem is not one of the own account's by id
	bare := id[strings.LastIndex(id, "/")+1:]
	if err := c.Update(ctx, bare, incidents.Update{Status: "Open"}); err == nil {
		t.Errorf("Update(%s) by id alone found the member account's OpsItem", bare)
	}
	if found, err := c.Find(ctx, opscenter.Query{}); err != nil || len(found) != 1 || found[0].ID != own {
		t.Errorf("Find = %+v, %v; want the own account's OpsItem only", found, err)
	}
}
