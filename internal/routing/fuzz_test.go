package routing_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/opsloop/opsloop/internal/pattern"
	"github.com/opsloop/opsloop/internal/routing"
)

// FuzzPack checks the routes of two patterns against an event: with room
// for one route they match exactly the events either pattern matches; with
// little room they still match every such event.
func FuzzPack(f *testing.F) {
	seeds := []struct{ p1, p2, ev string }{
		{`{"source":["aws.cloudwatch"],"detail":{"state":{"value":["ALARM"]}}}`,
			`{"source":["aws.cloudwatch"],"detail":{"state":{"value":["OK"]}}}`,
			`{"source":"aws.cloudwatch","detail":{"state":{"value":"OK"}}}`},
		{`{"detail":{"errorCode":[{"exists":false}],"$or":[{"a":{"b":["x"]}},{"a":{"c":["y"]}}]}}`,
			`{"source":[{"prefix":"aws."}],"detail":{"errorCode":["AccessDenied",{"suffix":"Operation"}]}}`,
			`{"source":"aws.ec2","detail":{"a":[{"b":"x"},{"c":"z"}]}}`},
		{`{"detail":{"n":[{"numeric":[">=",4,"<",7]}],"s":[{"anything-but":["a","b"]}]}}`,
			`{"detail":{"n":[{"numeric":["<",4]}]}}`,
			`{"source":"x","detail":{"n":5,"s":"c"}}`},
		{`{"detail-type":["AWS API Call via CloudTrail"],"detail":{"readOnly":[false]}}`,
			`{"source":["aws.kms"],"detail":{"eventName":[{"wildcard":"*Key*"}],"userIdentity":{"type":[{"equals-ignore-case":"root"}]}}}`,
			`{"source":"aws.kms","detail-type":"AWS API Call via CloudTrail","detail":{"eventName":"ScheduleKeyDeletion","readOnly":false}}`},
		{`{"resources":[{"prefix":"arn:aws:ec2:"}],"detail":{"ip":[{"cidr":"10.0.0.0/8"}]}}`,
			`{"account":["123456789012"],"$or":[{"region":["us-east-1"]},{"detail":{"x":[null]}}]}`,
			`{"account":"123456789012","region":"eu-west-1","detail":{"x":null}}`},
	}
	for _, s := range seeds {
		f.Add(s.p1, s.p2, s.ev)
	}
	f.Fuzz(func(t *testing.T, p1, p2, ev string) {
		var in []routing.Input
		for i, src := range []string{p1, p2} {
			p, err := pattern.Compile([]byte(src))
			if err != nil {
				return
			}
			in = append(in, routing.Input{Name: []string{"p1", "p2"}[i], Pattern: p})
		}
		var obj map[string]any
		if json.Unmarshal([]byte(ev), &obj) != nil {
			return
		}
		fields, err := pattern.ParseEvent([]byte(ev))
		if err != nil {
			return
		}
		// Routes admit AWS services' events, and custom sources only for an
		// input that names them exactly; a source condition of another kind
		// is widened to the AWS prefix, so over-matching is only checked
		// without one.
		src, _ := obj["source"].(string)
		aws := strings.HasPrefix(src, routing.AWSSourcePrefix)
		want, exact := false, true
		for _, i := range in {
			named := strings.Contains(i.Pattern.String(), `"source":["`)
			want = want || (i.Pattern.MatchFields(fields) && (aws || named))
			exact = exact && (named || !strings.Contains(i.Pattern.String(), `"source":`))
		}
		for _, size := range []int{1 << 16, 300} {
			routes, err := routing.Pack(in, routing.Options{MaxPatternSize: size})
			if err != nil {
				continue // a pattern too large for the limit, or beyond what a route can write
			}
			got := false
			for _, r := range routes {
				rp, err := pattern.Compile([]byte(r.Pattern))
				if err != nil {
					t.Fatalf("Pack(%s, %s) route %s does not compile: %v", p1, p2, r.Pattern, err)
				}
				got = got || rp.MatchFields(fields)
			}
			if want && !got {
				t.Errorf("limit %d: Pack(%s, %s) = %v misses event %s", size, p1, p2, routes, ev)
			}
			if size > 1<<10 && exact && got && !want {
				t.Errorf("limit %d: Pack(%s, %s) = %v matches event %s, which neither pattern does", size, p1, p2, routes, ev)
			}
		}
	})
}
