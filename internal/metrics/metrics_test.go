package metrics_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/metrics"
)

// emf is the part of an EMF line CloudWatch reads.
type emf struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

func TestLine(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 500_000_000, time.UTC)
	tests := []struct {
		name     string
		dims     map[string]string
		samples  []metrics.Sample
		wantDims []string
		wantVals map[string]any
	}{
		{
			name:     "decision with its action",
			dims:     map[string]string{metrics.DimensionAction: "incident"},
			samples:  []metrics.Sample{{Name: metrics.Decisions, Unit: metrics.Count, Value: 1}},
			wantDims: []string{"Action"},
			wantVals: map[string]any{"Action": "incident", "Decisions": 1.0},
		},
		{
			name: "several metrics without dimensions",
			samples: []metrics.Sample{
				{Name: metrics.IncidentsResolved, Unit: metrics.Count, Value: 1},
				{Name: metrics.TimeToResolve, Unit: metrics.Seconds, Value: 754.5},
			},
			wantDims: []string{},
			wantVals: map[string]any{"IncidentsResolved": 1.0, "TimeToResolve": 754.5},
		},
		{
			name:     "dimensions sorted",
			dims:     map[string]string{"b": "2", "a": "1"},
			samples:  []metrics.Sample{{Name: metrics.ProblemsOpened, Value: 3}},
			wantDims: []string{"a", "b"},
			wantVals: map[string]any{"a": "1", "b": "2", "ProblemsOpened": 3.0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line, err := metrics.Line(at, tt.dims, tt.samples...)
			if err != nil {
				t.Fatalf("Line() error = %v", err)
			}
			if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
				t.Errorf("Line() = %q, want one line ending in a newline", line)
			}
			var got emf
			if err := json.Unmarshal(line, &got); err != nil {
				t.Fatalf("Line() = %s, not JSON: %v", line, err)
			}
			if got.AWS.Timestamp != at.UnixMilli() {
				t.Errorf("Timestamp = %d, want %d", got.AWS.Timestamp, at.UnixMilli())
			}
			if len(got.AWS.CloudWatchMetrics) != 1 {
				t.Fatalf("CloudWatchMetrics = %+v, want one directive", got.AWS.CloudWatchMetrics)
			}
			d := got.AWS.CloudWatchMetrics[0]
			if d.Namespace != metrics.Namespace {
				t.Errorf("Namespace = %q, want %q", d.Namespace, metrics.Namespace)
			}
			if len(d.Dimensions) != 1 || !reflect.DeepEqual(d.Dimensions[0], tt.wantDims) {
				t.Errorf("Dimensions = %v, want [%v]", d.Dimensions, tt.wantDims)
			}
			if len(d.Metrics) != len(tt.samples) {
				t.Fatalf("Metrics = %+v, want %d", d.Metrics, len(tt.samples))
			}
			for i, s := range tt.samples {
				if d.Metrics[i].Name != s.Name || d.Metrics[i].Unit != string(s.Unit) {
					t.Errorf("Metrics[%d] = %+v, want %s in %q", i, d.Metrics[i], s.Name, s.Unit)
				}
			}
			var flat map[string]any
			if err := json.Unmarshal(line, &flat); err != nil {
				t.Fatal(err)
			}
			delete(flat, "_aws")
			if !reflect.DeepEqual(flat, tt.wantVals) {
				t.Errorf("members = %v, want %v", flat, tt.wantVals)
			}
		})
	}
}

func TestLineRejects(t *testing.T) {
	at := time.Unix(0, 0)
	one := metrics.Sample{Name: metrics.Decisions, Unit: metrics.Count, Value: 1}
	many := make([]metrics.Sample, 101)
	for i := range many {
		many[i] = metrics.Sample{Name: strings.Repeat("m", i+1), Value: 1}
	}
	bads := []struct {
		name    string
		dims    map[string]string
		samples []metrics.Sample
	}{
		{"no samples", nil, nil},
		{"too many samples", nil, many},
		{"NaN", nil, []metrics.Sample{{Name: "x", Value: math.NaN()}}},
		{"infinity", nil, []metrics.Sample{{Name: "x", Value: math.Inf(1)}}},
		{"empty name", nil, []metrics.Sample{{Value: 1}}},
		{"reserved name", nil, []metrics.Sample{{Name: "_aws", Value: 1}}},
		{"metric twice", nil, []metrics.Sample{one, one}},
		{"metric named like a dimension", map[string]string{metrics.Decisions: "x"}, []metrics.Sample{one}},
		{"empty dimension name", map[string]string{"": "x"}, []metrics.Sample{one}},
	}
	for _, b := range bads {
		t.Run(b.name, func(t *testing.T) {
			if line, err := metrics.Line(at, b.dims, b.samples...); err == nil {
				t.Errorf("Line() = %s, want an error", line)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("closed") }

func TestWrite(t *testing.T) {
	var b bytes.Buffer
	s := metrics.Sample{Name: metrics.RulesReloadFailed, Unit: metrics.Count, Value: 1}
	if err := metrics.Write(&b, time.Unix(1, 0), nil, s); err != nil {
		t.Fatalf("Write() error = %v", err)
	}
	want, _ := metrics.Line(time.Unix(1, 0), nil, s)
	if b.String() != string(want) {
		t.Errorf("Write() wrote %q, want %q", b.String(), want)
	}
	if err := metrics.Write(failingWriter{}, time.Unix(1, 0), nil, s); err == nil {
		t.Error("Write(failing writer) = nil, want an error")
	}
}

func ExampleWrite() {
	_ = metrics.Write(os.Stdout, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		map[string]string{metrics.DimensionAction: "incident"},
		metrics.Sample{Name: metrics.Decisions, Unit: metrics.Count, Value: 1})
	// Output:
	// {"Action":"incident","Decisions":1,"_aws":{"CloudWatchMetrics":[{"Dimensions":[["Action"]],"Metrics":[{"Name":"Decisions","Unit":"Count"}],"Namespace":"opsloop"}],"Timestamp":1767323045000}}
}
