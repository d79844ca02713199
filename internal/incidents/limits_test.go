package incidents

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/opsloop/opsloop/internal/event"
)

func TestTruncateRunes(t *testing.T) {
	tests := []struct {
		s      string
		max    int
		marker string
		want   string
	}{
		{"short", 10, Ellipsis, "short"},
		{"exactly10!", 10, Ellipsis, "exactly10!"},
		{"eleven char", 10, Ellipsis, "eleven ch…"},
		{"a b c d e f", 6, Ellipsis, "a b c…"}, // no space is left before the marker
		{"ééééééééééé", 5, Ellipsis, "éééé…"},
		{"日本語のテキスト", 4, "…", "日本語…"},
		{"abcdef", 2, "[cut]", "ab"}, // a marker longer than the room is dropped
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.s, tt.max), func(t *testing.T) {
			got := truncateRunes(tt.s, tt.max, tt.marker)
			if got != tt.want {
				t.Errorf("truncateRunes(%q, %d) = %q, want %q", tt.s, tt.max, got, tt.want)
			}
			if n := utf8.RuneCountInString(got); n > tt.max {
				t.Errorf("truncateRunes(%q, %d) has %d characters", tt.s, tt.max, n)
			}
		})
	}
}

func TestTruncateBytes(t *testing.T) {
	// "é" is 2 bytes, "€" 3: every cut point must land between characters.
	for _, s := range []string{strings.Repeat("é", 40), strings.Repeat("€", 40), strings.Repeat("a€é", 20)} {
		for max := 0; max < len(s)+2; max++ {
			got := truncateBytes(s, max, Ellipsis)
			if len(got) > max && len(s) > max {
				t.Fatalf("truncateBytes(%q, %d) has %d bytes", s, max, len(got))
			}
			if !utf8.ValidString(got) {
				t.Fatalf("truncateBytes(%q, %d) = %q, not valid UTF-8", s, max, got)
			}
			if len(s) > max && max >= len(Ellipsis) && !strings.HasSuffix(got, Ellipsis) {
				t.Fatalf("truncateBytes(%q, %d) = %q, want the %q marker", s, max, got, Ellipsis)
			}
		}
	}
}

func TestOneLine(t *testing.T) {
	tests := map[string]string{
		"plain":                 "plain",
		"two\nlines":            "two lines",
		"  tabs\tand\r\nCRLF  ": "tabs and CRLF",
		"bad \xff utf8":         "bad \uFFFD utf8",
		"nul\x00inside":         "nul inside",
		"sep\u2028line":         "sep line",
		"\n\t ":                 "",
	}
	for in, want := range tests {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestReservedKey(t *testing.T) {
	tests := map[string]bool{
		"aws":                 true,
		"AWS:thing":           true,
		"awsome":              true, // "can't begin with aws", whatever follows
		"Amazon.key":          true,
		"amzn-x":              true,
		"SSM":                 true,
		"/aws/custom":         true,
		"/Amazon/x":           true,
		"/amzn":               true,
		"/ssm/x":              true,
		KeyResources:          false,
		KeyDedup:              false,
		KeyAutomations:        false,
		"/AWS/resources":      true, // only the exact system keys are allowed
		"opsloop:rule":        false,
		"my-aws-key":          false,
		"x/aws":               false,
		"opsloop:/aws/things": false,
	}
	for key, want := range tests {
		if got := ReservedKey(key); got != want {
			t.Errorf("ReservedKey(%q) = %v, want %v", key, got, want)
		}
	}
}

func TestDedupString(t *testing.T) {
	long := "rule:" + strings.Repeat("x", 600)
	tests := []struct {
		fp       string
		wantSame bool
	}{
		{"alarm-in-alarm:api-errors", true},
		{"alarm-in-alarm:API-Errors", false}, // OpsCenter ignores case: must not meet "api-errors"
		{long, false},
		{strings.Repeat("y", MaxDedup), true},
		{"sha256:abc", false}, // could meet a hashed one
		{"", false},
	}
	for _, tt := range tests {
		got := DedupString(tt.fp)
		if (got == tt.fp) != tt.wantSame {
			t.Errorf("DedupString(%.40q) = %.40q, want unchanged %v", tt.fp, got, tt.wantSame)
		}
		if n := utf8.RuneCountInString(got); n > MaxDedup || n == 0 {
			t.Errorf("DedupString(%.40q) has %d characters, want 1..%d", tt.fp, n, MaxDedup)
		}
	}
	if a, b := DedupString("R:Ab"), DedupString("R:aB"); strings.EqualFold(a, b) {
		t.Errorf("DedupString(R:Ab) = %q and DedupString(R:aB) = %q meet when case is ignored", a, b)
	}
}

func TestCleanData(t *testing.T) {
	longKey := "opsloop:" + strings.Repeat("k", 200)
	data := map[string]Data{
		"opsloop:ok":  {Value: "fine", Searchable: true},
		"opsloop:nil": {Value: "  \n "},
		"aws:mine":    {Value: "kept under another key"},
		KeyDedup:      {Value: `{"dedupString":"x"}`},
		longKey:       {Value: "v"},
		"opsloop:big": {Value: strings.Repeat("€", MaxDataValue)},
		"two\nlines":  {Value: "v"},
		"   ":         {Value: "no key"},
	}
	got := cleanData(data)
	want := map[string]string{
		"opsloop:ok":                    "fine",
		"opsloop:aws:mine":              "kept under another key",
		KeyDedup:                        `{"dedupString":"x"}`,
		truncateRunes(longKey, 128, ""): "v",
		"two lines":                     "v",
		"opsloop:big":                   "",
	}
	if len(got) != len(want) {
		t.Errorf("cleanData kept keys %v, want %d keys", keys(got), len(want))
	}
	for k, v := range want {
		d, ok := got[k]
		if !ok {
			t.Errorf("cleanData lost key %q", k)
			continue
		}
		if v != "" && d.Value != v {
			t.Errorf("cleanData()[%q] = %q, want %q", k, d.Value, v)
		}
	}
	for k, d := range got {
		if utf8.RuneCountInString(k) > MaxDataKey || ReservedKey(k) {
			t.Errorf("cleanData kept key %q", k)
		}
		if len(d.Value) > MaxDataValue || !utf8.ValidString(d.Value) {
			t.Errorf("cleanData()[%q] has %d bytes (valid UTF-8 %v)", k, len(d.Value), utf8.ValidString(d.Value))
		}
	}
	if !got["opsloop:ok"].Searchable {
		t.Errorf("cleanData dropped Searchable of opsloop:ok")
	}
	if v := got["opsloop:big"].Value; !strings.HasSuffix(v, Ellipsis) {
		t.Errorf("cleanData()[opsloop:big] ends %q, want the %q marker", v[len(v)-10:], Ellipsis)
	}
}

func keys(m map[string]Data) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestResourcesValue(t *testing.T) {
	var rs []string
	for i := range 150 {
		rs = append(rs, fmt.Sprintf("arn:aws:ec2:us-east-1:123456789012:instance/i-%017d", i))
	}
	rs = append([]string{"AWS::S3::Bucket/not-an-arn", "i-0123"}, rs...)
	var got []map[string]string
	if err := json.Unmarshal([]byte(resourcesValue(rs)), &got); err != nil {
		t.Fatalf("resourcesValue is not JSON: %v", err)
	}
	if len(got) != MaxResources {
		t.Errorf("resourcesValue lists %d resources, want %d", len(got), MaxResources)
	}
	for _, r := range got {
		if !event.IsARN(r["arn"]) {
			t.Errorf("resourcesValue lists %q, not an ARN", r["arn"])
		}
	}
	if v := resourcesValue([]string{"not-an-arn"}); v != "" {
		t.Errorf("resourcesValue(no ARN) = %q, want empty", v)
	}
}

func TestJSONListFitsValueLimit(t *testing.T) {
	big := strings.Repeat("€", 700) // 2,100 bytes each
	var list []Change
	for range 50 {
		list = append(list, Change{Title: big})
	}
	v, n := jsonList(list, len(list))
	if len(v) > MaxDataValue {
		t.Errorf("jsonList = %d bytes, want at most %d", len(v), MaxDataValue)
	}
	var back []Change
	if err := json.Unmarshal([]byte(v), &back); err != nil || len(back) != n || n == 0 {
		t.Errorf("jsonList = %d items (%v), want the %d it reports, at least 1", len(back), err, n)
	}
	if _, n2 := jsonList(list, n+1); n2 != n {
		t.Errorf("jsonList kept %d items, then %d: not the most that fit", n, n2)
	}
}

func TestIsARN(t *testing.T) {
	tests := map[string]bool{
		"arn:aws:sns:us-east-1:123456789012:topic":            true,
		"arn:aws:s3:::bucket":                                 true,
		"arn:aws-cn:ec2:cn-north-1:123456789012:instance/i-1": true,
		"arn:aws:iam::123456789012:role/path:with:colons":     true,
		"default":        false,
		"arn:aws:sns":    false,
		"arn::sns:r:a:x": false,
		"arn:aws:s3:::":  false,
	}
	for s, want := range tests {
		if got := event.IsARN(s); got != want {
			t.Errorf("event.IsARN(%q) = %v, want %v", s, got, want)
		}
	}
}
