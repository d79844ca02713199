package incidentstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/signal"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/dynamotest"
	"github.com/opsloop/opsloop/internal/aws/dynamodb/incidentstore"
	"github.com/opsloop/opsloop/internal/incidents"
)

func sampleRecord(fp string) *incidents.Record {
	return &incidents.Record{
		Fingerprint: fp, OpsItemID: "oi-0123456789ab", Status: incidents.StatusOpen, Rule: "alarm-in-alarm",
		Title: "Alarm cpu-high is in ALARM", Severity: "high", Category: "Availability",
		Resources: []string{"arn:aws:cloudwatch:us-east-1:123456789012:alarm:cpu-high"}, Occurrences: 3, Synced: 1,
		FirstSeen: base, LastSeen: base.Add(time.Minute), SyncedAt: base.Add(30 * time.Second),
		Recent:          []string{"e-1", "e-2", "e-3"},
		OpsItemSeverity: "2", Priority: 2,
		Plan:     signal.Plan{OpsItemSeverity: "2", Priority: 2, Notify: []string{"arn:aws:sns:us-east-1:123456789012:ops"}, Runbooks: []string{"AWS-RestartEC2Instance"}, ResponseTime: 15 * time.Minute},
		First:    &signal.Signal{SchemaVersion: "1", Kind: signal.Detected, EventID: "e-1", Time: base, Rule: "alarm-in-alarm", Fingerprint: fp, Title: "t", Summary: "s", Reason: "r"},
		Changes:  []incidents.Change{{Time: base.Add(-time.Minute), EventName: "PutMetricAlarm", Actor: "alice", Title: "alarm changed"}},
		Previous: []string{"oi-00000000000a"},
		Pending:  "e-3",
		Claimed:  base.Add(-time.Second),
		Recovery: &signal.Signal{SchemaVersion: "1", Kind: signal.Recovered, EventID: "e-0", Time: base.Add(-time.Hour), Rule: "alarm-in-alarm", Fingerprint: fp, Summary: "OK"},
	}
}

// TestKeptRecoveryExpires: a record that only keeps a recovery carries the
// table's TTL attribute, so DynamoDB deletes it; others do not.
func TestKeptRecoveryExpires(t *testing.T) {
	ctx := context.Background()
	table, client := newStore(t)
	expires := base.Add(14 * 24 * time.Hour)
	kept := &incidents.Record{Fingerprint: "kept:1", Status: incidents.StatusResolved, Rule: "r", Expires: expires,
		Recovery: &signal.Signal{Kind: signal.Recovered, EventID: "e-9", Time: base, Rule: "r", Fingerprint: "kept:1"}}
	for _, rec := range []*incidents.Record{kept, sampleRecord("open:1")} {
		if err := table.Put(ctx, rec); err != nil {
			t.Fatalf("Put(%s) = %v", rec.Fingerprint, err)
		}
		out, err := client.GetItem(ctx, &awsdynamodb.GetItemInput{TableName: aws.String(table.Name()), Key: map[string]types.AttributeValue{
			dynamodb.PartitionKey: &types.AttributeValueMemberS{Value: "inc#" + rec.Fingerprint},
			dynamodb.SortKey:      &types.AttributeValueMemberS{Value: "state"},
		}})
		if err != nil {
			t.Fatalf("GetItem(%s) = %v", rec.Fingerprint, err)
		}
		ttl, has := out.Item[dynamodb.TTLAttribute].(*types.AttributeValueMemberN)
		switch {
		case rec.Expires.IsZero() && has:
			t.Errorf("%s: TTL %s on a record without expiry", rec.Fingerprint, ttl.Value)
		case !rec.Expires.IsZero() && (!has || ttl.Value != fmt.Sprint(expires.Unix())):
			t.Errorf("%s: TTL attribute = %v, want %d", rec.Fingerprint, out.Item[dynamodb.TTLAttribute], expires.Unix())
		}
	}
	got, err := table.Get(ctx, "kept:1")
	if err != nil || got == nil || !got.Expires.Equal(expires) || got.Recovery == nil || got.Recovery.EventID != "e-9" {
		t.Errorf("Get(kept:1) = %+v, %v; want the expiry and the recovery back", got, err)
	}
}

func TestIncidentStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	table, _ := newStore(t)
	const fp = "alarm-in-alarm:cpu-high"
	got, err := table.Get(ctx, fp)
	if err != nil || got != nil {
		t.Fatalf("Get(%s) before any Put = %v, %v, want nil, nil", fp, got, err)
	}
	rec := sampleRecord(fp)
	if err := table.Put(ctx, rec); err != nil {
		t.Fatalf("Put(version 0) = %v", err)
	}
	if rec.Version != 0 {
		t.Errorf("Put changed the caller's record version to %d", rec.Version)
	}
	got, err = table.Get(ctx, fp)
	if err != nil {
		t.Fatalf("Get(%s) = %v", fp, err)
	}
	want := rec.Clone()
	want.Version = 1
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Get(%s) = %+v, want %+v", fp, got, want)
	}

	steps := []struct {
		name    string
		version int64
		wantErr error
		stored  int64
	}{
		{"create again", 0, incidents.ErrConflict, 1},
		{"update over the stored version", 1, nil, 2},
		{"stale update", 1, incidents.ErrConflict, 2},
		{"update from the future", 7, incidents.ErrConflict, 2},
		{"next update", 2, nil, 3},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := sampleRecord(fp)
			r.Version = s.version
			r.Occurrences = int(s.version) + 100
			err := table.Put(ctx, r)
			if !errors.Is(err, s.wantErr) || (s.wantErr == nil) != (err == nil) {
				t.Fatalf("Put(version %d) = %v, want %v", s.version, err, s.wantErr)
			}
			got, err := table.Get(ctx, fp)
			if err != nil || got.Version != s.stored {
				t.Fatalf("Get after Put(version %d) = version %d, %v, want %d", s.version, got.Version, err, s.stored)
			}
		})
	}
}

func TestPutRetriedAfterSuccess(t *testing.T) {
	ctx := context.Background()
	table, client := newStore(t)
	retrying := incidentstore.New(dynamodb.New(dynamotest.LostResponse{API: client}, table.Name(), dynamodb.Options{}))
	rec := sampleRecord("lost:1")
	if err := retrying.Put(ctx, rec); err != nil {
		t.Fatalf("Put(version 0) with a lost response = %v, want nil", err)
	}
	if err := table.Put(ctx, rec); !errors.Is(err, incidents.ErrConflict) {
		t.Fatalf("Put(version 0) again = %v, want ErrConflict", err)
	}
}

func TestPutConcurrent(t *testing.T) {
	ctx := context.Background()
	table, _ := newStore(t)
	const workers = 12
	const fp = "storm:1"

	// Exactly one version-0 Put wins.
	var wg sync.WaitGroup
	results := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := sampleRecord(fp)
			r.OpsItemID = fmt.Sprintf("oi-%012x", w+1)
			results <- table.Put(ctx, r)
		}()
	}
	wg.Wait()
	close(results)
	wins := 0
	for err := range results {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, incidents.ErrConflict):
			t.Fatalf("Put(version 0) = %v, want nil or ErrConflict", err)
		}
	}
	if wins != 1 {
		t.Fatalf("concurrent Put(version 0): %d succeeded, want 1", wins)
	}

	// Read-modify-write loops lose no update.
	start, err := table.Get(ctx, fp)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				rec, err := table.Get(ctx, fp)
				if err != nil {
					errs <- err
					return
				}
				rec.Occurrences++
				err = table.Put(ctx, rec)
				if err == nil {
					return
				}
				if !errors.Is(err, incidents.ErrConflict) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	end, err := table.Get(ctx, fp)
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if end.Occurrences != start.Occurrences+workers || end.Version != start.Version+workers {
		t.Fatalf("after %d concurrent increments: occurrences %d version %d, want %d and %d",
			workers, end.Occurrences, end.Version, start.Occurrences+workers, start.Version+workers)
	}
}

func TestAddHistory(t *testing.T) {
	ctx := context.Background()
	table, client := newStore(t)
	const fp = "alarm-in-alarm:cpu-high"
	hs := []incidents.History{
		{Fingerprint: fp, OpsItemID: "oi-000000000002", Rule: "alarm-in-alarm", Opened: base.Add(time.Hour), Resolved: base.Add(2 * time.Hour), Occurrences: 4},
		{Fingerprint: fp, OpsItemID: "oi-000000000001", Rule: "alarm-in-alarm", Opened: base, Resolved: base.Add(10 * time.Minute), Occurrences: 1},
	}
	for round := range 2 { // adding again changes nothing
		for _, h := range hs {
			if err := table.AddHistory(ctx, h); err != nil {
				t.Fatalf("round %d: AddHistory(%s) = %v", round, h.OpsItemID, err)
			}
		}
	}
	if err := table.Put(ctx, sampleRecord(fp)); err != nil {
		t.Fatalf("Put = %v", err)
	}
	got, err := table.History(ctx, fp)
	if err != nil {
		t.Fatalf("History(%s) = %v", fp, err)
	}
	want := []incidents.History{hs[1], hs[0]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("History(%s) = %+v, want %+v", fp, got, want)
	}
	if n := dynamotest.CountItems(t, client, table.Name(), "inc#"+fp); n != 3 {
		t.Errorf("items under inc#%s = %d, want 3 (record and two history items)", fp, n)
	}
}

// TestRecordPacked: a record is stored packed with the records'
// dictionary, its first signal's excerpt and all, in well under half its
// JSON and in less than packing it alone (DynamoDB bills a write per
// started KB of the item); records stored before, packed without the
// dictionary or as plain JSON, are still read, and written again packed
// with it.
func TestRecordPacked(t *testing.T) {
	ctx := context.Background()
	table, client := newStore(t)
	rec := sampleRecord("packed:1")
	rec.First.Excerpt = strings.Repeat(`{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/alice"}},`, 15)
	if err := table.Put(ctx, rec); err != nil {
		t.Fatalf("Put = %v", err)
	}
	item := dynamotest.RawItem(t, client, table.Name(), "inc#packed:1", "state")
	packed, ok := item["rec1"].(*types.AttributeValueMemberB)
	if !ok {
		t.Fatalf("rec1 attribute = %T, want binary (packed)", item["rec1"])
	}
	plain, _ := json.Marshal(rec)
	if len(packed.Value)*2 > len(plain) {
		t.Errorf("record packed into %d bytes of %d bytes of JSON, want less than half", len(packed.Value), len(plain))
	}
	got, err := table.Get(ctx, "packed:1")
	if err != nil {
		t.Fatalf("Get = %v", err)
	}
	if got.First.Excerpt != rec.First.Excerpt || got.Title != rec.Title || got.Version != 1 {
		t.Errorf("Get = %+v, want the record put, at version 1", got)
	}

	// A record as the incidents function keeps it once its OpsItem exists
	// (no excerpt): the dictionary packs it to less than two thirds.
	small := sampleRecord("small:1")
	if err := table.Put(ctx, small); err != nil {
		t.Fatal(err)
	}
	alone, _ := dynamodb.Packed(small)
	withDict := dynamotest.RawItem(t, client, table.Name(), "inc#small:1", "state")["rec1"].(*types.AttributeValueMemberB)
	if n, m := len(withDict.Value), len(alone.(*types.AttributeValueMemberB).Value); n*3 > m*2 {
		t.Errorf("record packed with the dictionary into %d bytes, alone %d: want less than two thirds", n, m)
	}

	// Items as written before: plain JSON, and packed without the dictionary.
	oldPacked, _ := dynamodb.Packed(sampleRecord("deflate:1"))
	for fp, attr := range map[string]types.AttributeValue{
		"plain:1":   dynamodb.Str(string(must(json.Marshal(sampleRecord("plain:1"))))),
		"deflate:1": oldPacked,
	} {
		_, err = client.PutItem(ctx, &awsdynamodb.PutItemInput{TableName: aws.String(table.Name()), Item: map[string]types.AttributeValue{
			dynamodb.PartitionKey: dynamodb.Str("inc#" + fp), dynamodb.SortKey: dynamodb.Str("state"),
			"record": attr, "version": dynamodb.Num(0),
		}})
		if err != nil {
			t.Fatal(err)
		}
		got, err = table.Get(ctx, fp)
		if err != nil {
			t.Fatalf("Get(%s, as written before) = %v", fp, err)
		}
		if want := sampleRecord(fp); !reflect.DeepEqual(got, want) {
			t.Errorf("Get(%s, as written before) = %+v, want %+v", fp, got, want)
		}
		if err := table.Put(ctx, got); err != nil {
			t.Fatalf("Put over %s as written before = %v", fp, err)
		}
		again := dynamotest.RawItem(t, client, table.Name(), "inc#"+fp, "state")
		if _, ok := again["rec1"].(*types.AttributeValueMemberB); !ok || again["record"] != nil {
			t.Errorf("%s written again holds %v: want rec1 packed, record gone", fp, again)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestRecordDictionaryFixed: records packed with the dictionary can only be
// read with the very same bytes. A new dictionary is a new attribute.
func TestRecordDictionaryFixed(t *testing.T) {
	if got := incidentstore.RecordDictionarySHA256(); got != "d7b63e740c9fcb3db9a1527fe993014309fb2158c9a548bdb5344a9b03dd7d88" {
		t.Fatalf("record.v1.dict changed (sha256 %s): records written with it would no longer read; add record.v2.dict under a new attribute instead", got)
	}
}
