package s3_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsloop/opsloop/internal/aws/awstest"
	"github.com/opsloop/opsloop/internal/aws/s3"
	"github.com/opsloop/opsloop/internal/review"
	"github.com/opsloop/opsloop/internal/rules"
)

var monday = time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)

// reportWith renders a review whose rules snapshot holds the named rule.
func reportWith(t *testing.T, rule string, at time.Time) []byte {
	t.Helper()
	src := `{"rules": [{"name": "` + rule + `", "pattern": {"source": ["aws.ec2"]}, "action": "record"}]}`
	set, err := rules.Build([]rules.File{{Name: "r.json", Data: []byte(src)}})
	if err != nil {
		t.Fatalf("rules.Build = %v", err)
	}
	var b bytes.Buffer
	rv := review.Build(review.Input{Rules: set, Generated: at, From: at.Add(-7 * 24 * time.Hour), To: at})
	if err := rv.WriteHTML(&b); err != nil {
		t.Fatalf("WriteHTML = %v", err)
	}
	return b.Bytes()
}

func TestPutAndPreviousSnapshot(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewS3()
	defer srv.Close()
	srv.CreateBucket("reports")
	store := s3.New(srv.Client(), "reports", s3.Options{})

	first, second, third := store.Key(monday), store.Key(monday.Add(7*24*time.Hour)), store.Key(monday.Add(14*24*time.Hour))
	if first != "reviews/2026-03-02T08-00-00Z.html" {
		t.Errorf("Key(%s) = %s", monday, first)
	}
	snap, err := store.PreviousSnapshot(ctx, first)
	if err != nil || snap != nil {
		t.Fatalf("PreviousSnapshot with no reports = %v, %v, want nil, nil", snap, err)
	}
	for _, r := range []struct {
		key, rule string
		at        time.Time
	}{{first, "week-9-rule", monday}, {third, "week-11-rule", monday.Add(14 * 24 * time.Hour)}} {
		if err := store.Put(ctx, r.key, reportWith(t, r.rule, r.at)); err != nil {
			t.Fatalf("Put(%s) = %v", r.key, err)
		}
	}
	srv.PutObject("reports", "reviews/notes.txt", []byte("not a report"), monday)
	o, _ := srv.Object("reports", first)
	if o.ContentType != "text/html; charset=utf-8" {
		t.Errorf("report content type = %q, want text/html; charset=utf-8", o.ContentType)
	}

	tests := []struct {
		key      string
		wantPrev string
		wantRule string
	}{
		{first, "", ""},
		{second, first, "week-9-rule"},
		{third, first, "week-9-rule"}, // its own report is not its previous one
		{store.Key(monday.Add(21 * 24 * time.Hour)), third, "week-11-rule"},
	}
	for _, tt := range tests {
		prev, err := store.Previous(ctx, tt.key)
		if err != nil || prev != tt.wantPrev {
			t.Errorf("Previous(%s) = %q, %v, want %q", tt.key, prev, err, tt.wantPrev)
		}
		snap, err := store.PreviousSnapshot(ctx, tt.key)
		if err != nil {
			t.Fatalf("PreviousSnapshot(%s) = %v", tt.key, err)
		}
		switch {
		case tt.wantRule == "" && snap != nil:
			t.Errorf("PreviousSnapshot(%s) = %v, want nil", tt.key, snap)
		case tt.wantRule != "" && (snap == nil || len(snap.Rules) != 1 || string(snap.Rules[tt.wantRule]["action"]) != `"record"`):
			t.Errorf("PreviousSnapshot(%s) = %+v, want the snapshot holding %s", tt.key, snap, tt.wantRule)
		}
	}
}

func TestPreviousWithoutSnapshot(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewS3()
	defer srv.Close()
	srv.CreateBucket("reports")
	store := s3.New(srv.Client(), "reports", s3.Options{Prefix: "weekly/"})
	srv.PutObject("reports", "weekly/2026-02-23T08-00-00Z.html", []byte("<html>hand-made</html>"), monday)
	snap, err := store.PreviousSnapshot(ctx, store.Key(monday))
	if err != nil || snap != nil {
		t.Errorf("PreviousSnapshot after a report without snapshot = %v, %v, want nil, nil", snap, err)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	srv := awstest.NewS3()
	defer srv.Close()
	client := srv.Client(func(o *awss3.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 2 })
	})
	store := s3.New(client, "missing-bucket", s3.Options{})
	if err := store.Put(ctx, store.Key(monday), []byte("x")); err == nil || !strings.Contains(err.Error(), "NoSuchBucket") {
		t.Errorf("Put to a missing bucket = %v, want NoSuchBucket", err)
	}
	srv.CreateBucket("reports")
	store = s3.New(client, "reports", s3.Options{})
	srv.Faults.Script("ListObjectsV2", awstest.InternalServerError, awstest.InternalServerError)
	_, err := store.PreviousSnapshot(ctx, store.Key(monday))
	if err == nil || retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(errors.Unwrap(err)) != aws.TrueTernary {
		t.Errorf("PreviousSnapshot through two 500s = %v, want a retryable error", err)
	}
}

func TestLink(t *testing.T) {
	tests := []struct {
		region, key, want string
	}{
		{"", "reviews/2026-03-02T08-00-00Z.html", "s3://reports/reviews/2026-03-02T08-00-00Z.html"},
		{"eu-west-1", "reviews/2026-03-02T08-00-00Z.html",
			"https://s3.console.aws.amazon.com/s3/object/reports?region=eu-west-1&prefix=reviews%2F2026-03-02T08-00-00Z.html"},
	}
	for _, tt := range tests {
		s := s3.New(nil, "reports", s3.Options{Region: tt.region})
		if got := s.Link(tt.key); got != tt.want {
			t.Errorf("Link(%s) in %q = %s, want %s", tt.key, tt.region, got, tt.want)
		}
	}
}
