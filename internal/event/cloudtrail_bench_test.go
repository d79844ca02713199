package event_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/event"
	"github.com/opsloop/opsloop/internal/trailgen"
)

// BenchmarkParseCloudTrailRecord compares converting and parsing a record
// in one step with converting it and parsing the result again.
func BenchmarkParseCloudTrailRecord(b *testing.B) {
	g := trailgen.New(5, time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC))
	recs := make([][]byte, 1024)
	size := 0
	for i := range recs {
		recs[i], _ = json.Marshal(g.Record())
		size += len(recs[i])
	}
	b.Run("ParseCloudTrailRecord", func(b *testing.B) {
		b.SetBytes(int64(size / len(recs)))
		for i := range b.N {
			if _, err := event.ParseCloudTrailRecord(recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Parse(FromCloudTrailRecord)", func(b *testing.B) {
		b.SetBytes(int64(size / len(recs)))
		for i := range b.N {
			out, err := event.FromCloudTrailRecord(recs[i%len(recs)])
			if err != nil {
				b.Fatal(err)
			}
			if _, err := event.Parse(out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
