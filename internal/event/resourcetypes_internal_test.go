package event

import (
	"strings"
	"testing"
)

// TestResourceTypesTable: each type is described once, every CloudTrail
// parameter is a request parameter or a response element, and no metric
// dimension names two types.
func TestResourceTypesTable(t *testing.T) {
	seen, dims := map[string]bool{}, map[string]string{}
	for _, rt := range resourceTypes {
		if seen[rt.typ] {
			t.Errorf("%s is described twice", rt.typ)
		}
		seen[rt.typ] = true
		for service, paths := range rt.cloudTrail {
			for _, p := range paths {
				if !strings.HasPrefix(p, "request.") && !strings.HasPrefix(p, "response.") {
					t.Errorf("%s: CloudTrail parameter %s of %s is neither request. nor response.", rt.typ, p, service)
				}
			}
		}
		for _, d := range rt.dimensions {
			if other, ok := dims[d]; ok {
				t.Errorf("dimension %s names both %s and %s", d, other, rt.typ)
			}
			dims[d] = rt.typ
		}
		if rt.id != nil && buildARN(rt.typ, "x", "us-east-1", "123456789012") == "" {
			t.Errorf("%s has an identifier shape but no ARN format", rt.typ)
		}
	}
}
