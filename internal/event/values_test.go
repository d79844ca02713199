package event_test

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opsloop/opsloop/internal/event"
)

func TestValues(t *testing.T) {
	raw := `{"version":"0","id":"v1","detail-type":"T","source":"s","account":"123456789012","time":"2026-01-02T03:04:05Z",` +
		`"region":"eu-west-1","resources":["r1","r2"],"detail":{` +
		`"name":"web","count":3,"ratio":8.0,"big":12345678901234567890,"on":true,"off":false,"none":null,` +
		`"obj":{"b":2,"a":"x"},"list":[{"id":"i-1"},{"id":"i-2"},{"other":1}],"nested":[[1,2],[3]],` +
		`"changed":{"Configuration.State":{"updatedValue":"in-use"}},"empty":[],"esc":"a\"b"}}`
	e, err := event.Parse([]byte(raw))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	tests := []struct {
		path string
		want []string
	}{
		{"source", []string{"s"}},
		{"detail-type", []string{"T"}},
		{"id", []string{"v1"}},
		{"account", []string{"123456789012"}},
		{"region", []string{"eu-west-1"}},
		{"resources", []string{"r1", "r2"}},
		{"time", []string{"2026-01-02T03:04:05Z"}},
		{"version", []string{"0"}},
		{"detail.name", []string{"web"}},
		{"detail.count", []string{"3"}},
		{"detail.ratio", []string{"8.0"}},
		{"detail.big", []string{"12345678901234567890"}},
		{"detail.on", []string{"true"}},
		{"detail.off", []string{"false"}},
		{"detail.none", []string{"null"}},
		{"detail.esc", []string{`a"b`}},
		{"detail.obj", []string{`{"a":"x","b":2}`}},
		{"detail.obj.a", []string{"x"}},
		{"detail.list.id", []string{"i-1", "i-2"}},
		{"detail.nested", []string{"1", "2", "3"}},
		{"detail.changed.Configuration.State.updatedValue", []string{"in-use"}},
		{"detail.missing", nil},
		{"detail.name.deeper", nil},
		{"detail.empty", nil},
		{"detail.list.nothing", nil},
		{"nothing", nil},
		{"", nil},
		{"detail.", nil},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got := e.Values(tt.path)
			if !slices.Equal(got, tt.want) || (tt.want == nil) != (got == nil) {
				t.Errorf("Values(%q) = %#v, want %#v", tt.path, got, tt.want)
			}
		})
	}
}

// TestValuesHandBuilt covers an Event made without Parse, as other
// packages' tests may build one.
func TestValuesHandBuilt(t *testing.T) {
	e := &event.Event{
		ID: "h1", DetailType: "T", Source: "s", Account: "1", Region: "r",
		Time:      time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC),
		Resources: []string{"a"},
		Detail:    json.RawMessage(`{"alarmName":"x","n":[1,2]}`),
	}
	tests := []struct {
		path string
		want []string
	}{
		{"detail.alarmName", []string{"x"}},
		{"detail.n", []string{"1", "2"}},
		{"time", []string{"2026-03-01T00:00:00Z"}},
		{"resources", []string{"a"}},
	}
	for _, tt := range tests {
		if got := e.Values(tt.path); !slices.Equal(got, tt.want) {
			t.Errorf("Values(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}

func TestValuesConcurrent(t *testing.T) {
	e, err := event.Parse([]byte(minimal))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	done := make(chan []string)
	for range 8 {
		go func() { done <- e.Values("detail.k") }()
	}
	for range 8 {
		if got := <-done; !slices.Equal(got, []string{"v"}) {
			t.Errorf("Values(detail.k) = %q, want [v]", got)
		}
	}
}

func BenchmarkValues(b *testing.B) {
	root, _ := sampleFiles(b)
	data := readFile(b, filepath.Join(root, "ec2", "run-instances.json"))
	b.Run("first call", func(b *testing.B) {
		for b.Loop() {
			e, err := event.Parse(data)
			if err != nil {
				b.Fatal(err)
			}
			_ = e.Values("detail.userIdentity.arn")
		}
	})
	e, err := event.Parse(data)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			_ = e.Values("detail.userIdentity.arn")
		}
	})
}

func BenchmarkParse(b *testing.B) {
	root, _ := sampleFiles(b)
	data := readFile(b, filepath.Join(root, "ec2", "run-instances.json"))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := event.Parse(data); err != nil {
			b.Fatal(err)
		}
	}
}
