package dynamodb_test

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/opsloop/opsloop/internal/aws/dynamodb"
)

type doc struct {
	Title   string   `json:"title"`
	Excerpt string   `json:"excerpt"`
	Tags    []string `json:"tags"`
}

// TestPacked: a document packs into a binary attribute much smaller than
// its JSON, and unpacks to what was packed.
func TestPacked(t *testing.T) {
	in := doc{Title: "Alarm cpu-high is in ALARM", Excerpt: strings.Repeat(`{"eventName":"StopLogging","awsRegion":"us-east-1"},`, 30), Tags: []string{"a", "b"}}
	plain, _ := json.Marshal(in)
	av, err := dynamodb.Packed(in)
	if err != nil {
		t.Fatalf("Packed = %v", err)
	}
	b, ok := av.(*types.AttributeValueMemberB)
	if !ok {
		t.Fatalf("Packed = %T, want a binary attribute", av)
	}
	if len(b.Value)*3 > len(plain) {
		t.Errorf("packed %d bytes of %d bytes of JSON, want a third or less", len(b.Value), len(plain))
	}
	var out doc
	if err := dynamodb.Unpack(map[string]types.AttributeValue{"d": av}, "d", &out); err != nil {
		t.Fatalf("Unpack = %v", err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Errorf("Unpack = %+v, want %+v", out, in)
	}
}

// TestUnpack reads what items hold: packed documents, the plain JSON strings
// written before packing, and refuses the rest naming the attribute.
func TestUnpack(t *testing.T) {
	deflate := func(data []byte) []byte {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestCompression)
		w.Write(data)
		w.Close()
		return buf.Bytes()
	}
	tests := []struct {
		name    string
		attr    types.AttributeValue
		want    doc
		wantErr string
	}{
		{"plain JSON string", &types.AttributeValueMemberS{Value: `{"title":"t","tags":["x"]}`}, doc{Title: "t", Tags: []string{"x"}}, ""},
		{"packed", &types.AttributeValueMemberB{Value: deflate([]byte(`{"title":"p"}`))}, doc{Title: "p"}, ""},
		{"missing", nil, doc{}, "attribute d: missing"},
		{"number", &types.AttributeValueMemberN{Value: "1"}, doc{}, "want binary or string"},
		{"not DEFLATE", &types.AttributeValueMemberB{Value: []byte("not deflate at all")}, doc{}, "attribute d: unpack"},
		{"packed non-JSON", &types.AttributeValueMemberB{Value: deflate([]byte(`{"title":`))}, doc{}, "attribute d: unexpected end"},
		// A small attribute that inflates without bound is refused, not read.
		{"bomb", &types.AttributeValueMemberB{Value: deflate(bytes.Repeat([]byte{' '}, 5<<20))}, doc{}, "unpacks to more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			item := map[string]types.AttributeValue{}
			if tt.attr != nil {
				item["d"] = tt.attr
			}
			var got doc
			err := dynamodb.Unpack(item, "d", &got)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Unpack = %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Unpack = %v, want an error containing %q", err, tt.wantErr)
			case !reflect.DeepEqual(got, tt.want):
				t.Errorf("Unpack = %+v, want %+v", got, tt.want)
			}
		})
	}
}
