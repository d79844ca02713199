package eventfile

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkSplit measures the splitter on pretty-printed and line-per-event
// content, and CloudTrail record conversion, in bytes per second.
func BenchmarkSplit(b *testing.B) {
	event := `{"version":"0","id":"%d","detail-type":"T","source":"s","account":"1","time":"2026-01-01T00:00:00Z","region":"r","resources":[],"detail":{"k":"%s"}}`
	var lines, pretty, records strings.Builder
	records.WriteString(`{"Records":[`)
	for i := range 2000 {
		e := fmt.Sprintf(event, i, strings.Repeat("v", 400))
		lines.WriteString(e + "\n")
		pretty.WriteString(strings.ReplaceAll(e, ",", ",\n  ") + "\n")
		if i > 0 {
			records.WriteString(",")
		}
		fmt.Fprintf(&records, `{"eventTime":"2026-01-01T00:00:00Z","eventSource":"s3.amazonaws.com","awsRegion":"us-east-1","recipientAccountId":"1","eventID":"%d","k":"%s"}`, i, strings.Repeat("v", 400))
	}
	records.WriteString("]}")
	cases := []struct{ name, file, content string }{
		{"jsonl", "f.jsonl", lines.String()},
		{"json lines in .json", "f.json", lines.String()},
		{"pretty concatenated", "f.json", pretty.String()},
		{"cloudtrail", "f.json", records.String()},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			data := []byte(c.content)
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				n := 0
				err := readStream(context.Background(), c.file, bytes.NewReader(data), func(it Item) error {
					if it.Err != nil {
						return it.Err
					}
					n++
					return nil
				})
				if err != nil || n != 2000 {
					b.Fatalf("readStream(%s) = %v after %d items", c.name, err, n)
				}
			}
		})
	}
}
