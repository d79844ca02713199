package pattern_test

import (
	"fmt"

	"github.com/opsloop/opsloop/internal/pattern"
)

func Example() {
	p, err := pattern.Compile([]byte(`{
		"source": ["aws.cloudwatch"],
		"detail-type": ["CloudWatch Alarm State Change"],
		"detail": {"state": {"value": ["ALARM"]}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	event := []byte(`{"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change",
		"detail": {"alarmName": "cpu-high", "state": {"value": "ALARM"}}}`)
	matched, err := p.Match(event)
	fmt.Println(matched, err)
	fmt.Println(p)
	// Output:
	// true <nil>
	// {"detail":{"state":{"value":["ALARM"]}},"detail-type":["CloudWatch Alarm State Change"],"source":["aws.cloudwatch"]}
}

func ExampleSet() {
	s := pattern.NewSet()
	for id, src := range map[string]string{
		"access-denied": `{"detail": {"errorCode": ["AccessDenied", {"suffix": "UnauthorizedOperation"}]}}`,
		"iam-changes":   `{"source": ["aws.iam"], "detail": {"eventName": [{"prefix": "Delete"}, {"prefix": "Put"}]}}`,
	} {
		p, err := pattern.Compile([]byte(src))
		if err != nil {
			fmt.Println(id, err)
			return
		}
		s.Add(id, p)
	}
	f, err := pattern.ParseEvent([]byte(`{"source": "aws.iam",
		"detail": {"eventName": "DeleteRolePolicy", "errorCode": "AccessDenied"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(s.Match(f)))
	// Output: 2
}

func ExamplePattern_Explain() {
	p, _ := pattern.Compile([]byte(`{"source": [{"prefix": "aws."}], "detail": {"state": ["stopped"]}}`))
	f, _ := pattern.ParseEvent([]byte(`{"source": "aws.ec2", "detail": {"state": "running"}}`))
	for _, m := range p.Explain(f) {
		fmt.Printf("%s: want %s, got %v\n", m.Path, m.Want, m.Got)
	}
	// Output: detail.state: want "stopped", got ["running"]
}

func ExampleCompile_error() {
	_, err := pattern.Compile([]byte(`{"detail": {"state": [{"numeric": ["<", 5, ">", 1]}]}}`))
	fmt.Println(err)
	// Output: detail.state: numeric: operators out of order (the lower bound > or >= comes first)
}
