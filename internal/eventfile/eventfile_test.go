package eventfile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/eventfile"
)

// readAll reads paths and renders each item as "POS ok SOURCE" or
// "POS error".
func readAll(t *testing.T, paths ...string) []string {
	t.Helper()
	var got []string
	err := eventfile.Read(context.Background(), paths, func(it eventfile.Item) error {
		got = append(got, render(t, it))
		return nil
	})
	if err != nil {
		t.Fatalf("Read(%q) error = %v", paths, err)
	}
	return got
}

func render(t *testing.T, it eventfile.Item) string {
	pos := filepath.ToSlash(it.Pos)
	if it.Err != nil {
		if it.Raw != nil {
			t.Errorf("item %s has both Err and Raw", pos)
		}
		return pos + " error"
	}
	e, err := event.Parse(it.Raw)
	if err != nil {
		return pos + " unparsable: " + err.Error()
	}
	return pos + " ok " + e.Source
}

func TestReadTestdata(t *testing.T) {
	want := []string{
		"testdata/array.json#[0] ok aws.ec2",
		"testdata/array.json#[1] ok aws.ec2",
		"testdata/broken.json error",
		"testdata/cloudtrail/123456789012_CloudTrail_us-east-1_20260217T0330Z_Xq4sRt7Lk2mN9pB1.json.gz#Records[0] ok aws.cloudtrail",
		"testdata/cloudtrail/123456789012_CloudTrail_us-east-1_20260217T0330Z_Xq4sRt7Lk2mN9pB1.json.gz#Records[1] error",
		"testdata/cloudtrail/123456789012_CloudTrail_us-east-1_20260217T0330Z_Xq4sRt7Lk2mN9pB1.json.gz#Records[2] ok aws.iam",
		"testdata/cloudtrail/pretty-records.json#Records[0] ok aws.kms",
		"testdata/empty.json error",
		"testdata/events.jsonl:1 ok aws.ec2",
		"testdata/events.jsonl:3 error",
		"testdata/events.jsonl:4 ok aws.cloudwatch",
		"testdata/events.jsonl:5 ok aws.health",
		"testdata/events.ndjson.gz:1 ok aws.guardduty",
		"testdata/events.ndjson.gz:2 ok aws.kms",
		"testdata/nested/deeper/corrupt.json.gz error",
		"testdata/nested/lines-in.json:1 ok aws.signin",
		"testdata/nested/lines-in.json:2 error",
		"testdata/nested/lines-in.json:3 ok aws.signin",
		"testdata/single.json ok aws.cloudwatch",
	}
	got := readAll(t, "testdata")
	if !slices.Equal(got, want) {
		t.Errorf("Read(testdata) =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestReadFilesNamedDirectly(t *testing.T) {
	tests := []struct {
		paths []string
		want  []string
	}{
		{[]string{"testdata/notes.txt"}, []string{"testdata/notes.txt error"}},
		{[]string{"testdata/.hidden/skip.json"}, []string{"testdata/.hidden/skip.json unparsable: event: field \"id\": missing"}},
		{[]string{"testdata/single.json", "testdata/single.json"}, []string{"testdata/single.json ok aws.cloudwatch", "testdata/single.json ok aws.cloudwatch"}},
		{[]string{"testdata/cloudtrail"}, []string{
			"testdata/cloudtrail/123456789012_CloudTrail_us-east-1_20260217T0330Z_Xq4sRt7Lk2mN9pB1.json.gz#Records[0] ok aws.cloudtrail",
			"testdata/cloudtrail/123456789012_CloudTrail_us-east-1_20260217T0330Z_Xq4sRt7Lk2mN9pB1.json.gz#Records[1] error",
			"testdata/cloudtrail/123456789012_CloudTrail_us-east-1_20260217T0330Z_Xq4sRt7Lk2mN9pB1.json.gz#Records[2] ok aws.iam",
			"testdata/cloudtrail/pretty-records.json#Records[0] ok aws.kms",
		}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.paths, ","), func(t *testing.T) {
			if got := readAll(t, tt.paths...); !slices.Equal(got, tt.want) {
				t.Errorf("Read(%q) =\n%s\nwant\n%s", tt.paths, strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestReadSamples(t *testing.T) {
	root := filepath.Join("..", "..", "events-samples")
	n := 0
	err := eventfile.Read(context.Background(), []string{root}, func(it eventfile.Item) error {
		n++
		if it.Skip != "" {
			return nil
		}
		if it.Err != nil {
			t.Errorf("Read(events-samples) item %s error = %v", it.Pos, it.Err)
			return nil
		}
		if _, err := event.Parse(it.Raw); err != nil {
			t.Errorf("Parse(%s) error = %v", it.Pos, err)
		}
		if it.Skip == "" && !strings.Contains(it.Pos, "/trails/") && (strings.Contains(it.Pos, ":") || strings.Contains(it.Pos, "#")) {
			t.Errorf("item position %s, want the bare file name for a single-event file", it.Pos)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Read(events-samples) error = %v", err)
	}
	if n < 36 {
		t.Errorf("Read(events-samples) gave %d items, want at least 36", n)
	}
}

// TestReadTrailShapes: the CloudTrail data users hold, told by content:
// every record becomes the event EventBridge delivers, at a position that
// says where it was, and a digest file is skipped, counted.
func TestReadTrailShapes(t *testing.T) {
	dir := filepath.Join("..", "..", "events-samples", "trails")
	tests := []struct {
		file string
		want []string // position suffix and source, or "skip"
	}{
		{"raw-records.jsonl", []string{":1 aws.ec2", ":2 aws.iam"}},
		{"raw-records-array.json", []string{"#[0] aws.ec2", "#[1] aws.iam"}},
		{"lookup-events.json", []string{"#Events[0] aws.ec2", "#Events[1] aws.kms"}},
		{"lake-query-results.json", []string{"#QueryResultRows[0] aws.iam", "#QueryResultRows[1] aws.ec2"}},
		{"digest.json", []string{" skip " + eventfile.SkipDigest}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join(dir, tt.file)
			var got []string
			err := eventfile.Read(context.Background(), []string{path}, func(it eventfile.Item) error {
				pos := strings.TrimPrefix(it.Pos, path)
				switch {
				case it.Skip != "":
					got = append(got, pos+" skip "+it.Skip)
				case it.Err != nil:
					got = append(got, pos+" error "+it.Err.Error())
				case it.Event == nil:
					got = append(got, pos+" not parsed")
				default:
					if !strings.HasPrefix(it.Event.ID, "trail-") {
						t.Errorf("%s: event id %q is not the record's eventID", it.Pos, it.Event.ID)
					}
					got = append(got, pos+" "+it.Event.Source)
				}
				return nil
			})
			if err != nil || !slices.Equal(got, tt.want) {
				t.Errorf("Read(%s) = %q, %v; want %q", tt.file, got, err, tt.want)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	t.Run("missing path", func(t *testing.T) {
		err := eventfile.Read(context.Background(), []string{"testdata/single.json", "testdata/nope.json"}, func(eventfile.Item) error { return nil })
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Read(missing) error = %v, want ErrNotExist", err)
		}
	})
	t.Run("unreadable file", func(t *testing.T) {
		if os.Geteuid() == 0 {
			// Root reads files whatever their mode; a directory in place of a
			// file is unreadable for everyone.
			dir := t.TempDir()
			bad := filepath.Join(dir, "x.json")
			if err := os.Mkdir(bad, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join(dir, "absent"), filepath.Join(bad, "dangling.json")); err != nil {
				t.Fatal(err)
			}
			var invalid []eventfile.Item
			err := eventfile.Read(context.Background(), []string{dir}, func(it eventfile.Item) error {
				if it.Err != nil {
					invalid = append(invalid, it)
				}
				return nil
			})
			// A dangling link is bad input: counted with its path, not fatal.
			if err != nil || len(invalid) != 1 || !strings.Contains(invalid[0].Pos, "dangling.json") {
				t.Errorf("Read(dangling link) = %v, invalid %+v; want one invalid item naming the link", err, invalid)
			}
			return
		}
		dir := t.TempDir()
		p := filepath.Join(dir, "locked.json")
		if err := os.WriteFile(p, []byte("{}"), 0o000); err != nil {
			t.Fatal(err)
		}
		if err := eventfile.Read(context.Background(), []string{p}, func(eventfile.Item) error { return nil }); err == nil {
			t.Errorf("Read(unreadable) error = nil, want one")
		}
	})
	t.Run("callback error stops reading", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := eventfile.Read(context.Background(), []string{"testdata"}, func(eventfile.Item) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 3 {
			t.Errorf("Read with a failing callback = %v after %d calls, want stop after 3", err, calls)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls := 0
		err := eventfile.Read(ctx, []string{"testdata"}, func(eventfile.Item) error {
			calls++
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) || calls != 1 {
			t.Errorf("Read after cancel = %v after %d calls, want context.Canceled after 1", err, calls)
		}
	})
}

func TestReadLargeCloudTrail(t *testing.T) {
	// Many records in one file, to exercise streaming across buffer refills.
	const n = 3000
	var b strings.Builder
	b.WriteString(`{"Records":[`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"eventVersion":"1.10","eventTime":"2026-03-01T10:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",`+
			`"awsRegion":"us-east-1","eventID":"id-%d","recipientAccountId":"123456789012","requestParameters":{"bucketName":"b","key":"%s"}}`,
			i, strings.Repeat("k", i%700))
	}
	b.WriteString(`]}`)
	p := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	i := 0
	err := eventfile.Read(context.Background(), []string{p}, func(it eventfile.Item) error {
		if it.Err != nil {
			return fmt.Errorf("%s: %w", it.Pos, it.Err)
		}
		e, err := event.Parse(it.Raw)
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("id-%d", i); e.ID != want || it.Pos != fmt.Sprintf("%s#Records[%d]", p, i) {
			return fmt.Errorf("item %d = %s at %s, want %s", i, e.ID, it.Pos, want)
		}
		i++
		return nil
	})
	if err != nil || i != n {
		t.Errorf("Read(big CloudTrail file) = %v after %d records, want %d records", err, i, n)
	}
}
