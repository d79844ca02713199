package pattern

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// matchTest is a pattern, an event and whether they match.
type matchTest struct {
	name    string
	pattern string
	event   string
	want    bool
}

// checkMatch runs a match test through Pattern.Match and through a Set.
func checkMatch(t *testing.T, tt matchTest) {
	t.Helper()
	p, err := Compile([]byte(tt.pattern))
	if err != nil {
		t.Fatalf("Compile(%s): %v", tt.pattern, err)
	}
	got, err := p.Match([]byte(tt.event))
	if err != nil {
		t.Fatalf("Match(%s): %v", tt.event, err)
	}
	if got != tt.want {
		t.Errorf("Compile(%s).Match(%s) = %v, want %v", tt.pattern, tt.event, got, tt.want)
	}
	f, err := ParseEvent([]byte(tt.event))
	if err != nil {
		t.Fatalf("ParseEvent(%s): %v", tt.event, err)
	}
	s := NewSet()
	s.Add("x", p)
	if got := len(s.Match(f)) == 1; got != tt.want {
		t.Errorf("Set{%s}.Match(%s) = %v, want %v", tt.pattern, tt.event, got, tt.want)
	}
}

func runMatchTests(t *testing.T, tests []matchTest) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkMatch(t, tt) })
	}
}

func TestExactValues(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"string", `{"a":["x"]}`, `{"a":"x"}`, true},
		{"string case-sensitive", `{"a":["x"]}`, `{"a":"X"}`, false},
		{"string vs number", `{"a":["300"]}`, `{"a":300}`, false},
		{"number vs string", `{"a":[300]}`, `{"a":"300"}`, false},
		{"number normalised", `{"a":[300]}`, `{"a":3.0e2}`, true},
		{"number normalised decimal", `{"a":[3.0e2]}`, `{"a":300.000}`, true},
		{"negative zero", `{"a":[0]}`, `{"a":-0.0}`, true},
		{"number differs", `{"a":[300]}`, `{"a":300.5}`, false},
		{"number beyond float64 by text", `{"a":[1e400]}`, `{"a":1e400}`, true},
		{"number beyond float64 other text", `{"a":[1e400]}`, `{"a":1E400}`, false},
		{"true", `{"a":[true]}`, `{"a":true}`, true},
		{"true vs false", `{"a":[true]}`, `{"a":false}`, false},
		{"true vs string", `{"a":[true]}`, `{"a":"true"}`, false},
		{"null", `{"a":[null]}`, `{"a":null}`, true},
		{"null vs string", `{"a":[null]}`, `{"a":"null"}`, false},
		{"null vs missing", `{"a":[null]}`, `{"b":1}`, false},
		{"empty string", `{"a":[""]}`, `{"a":""}`, true},
		{"empty string vs null", `{"a":[""]}`, `{"a":null}`, false},
		{"exactly operator", `{"a":[{"exactly":"x"}]}`, `{"a":"x"}`, true},
		{"list is or", `{"a":["x","y"]}`, `{"a":"y"}`, true},
		{"event array any element", `{"a":["y"]}`, `{"a":["x","y"]}`, true},
		{"event array no element", `{"a":["z"]}`, `{"a":["x","y"]}`, false},
		{"missing field", `{"a":["x"]}`, `{"b":"x"}`, false},
		{"and of fields", `{"a":["x"],"b":["y"]}`, `{"a":"x","b":"y"}`, true},
		{"and one fails", `{"a":["x"],"b":["y"]}`, `{"a":"x","b":"z"}`, false},
		{"nested", `{"d":{"s":["on"]}}`, `{"d":{"s":"on"}}`, true},
		{"object is not a value", `{"d":["x"]}`, `{"d":{"s":"x"}}`, false},
		{"escaped string", `{"a":["\u00e9\n"]}`, `{"a":"é\n"}`, true},
		{"IP literal matches another spelling", `{"ip":["2001:db8::1"]}`, `{"ip":"2001:0db8:0:0:0:0:0:1"}`, true},
		{"IP literal differs", `{"ip":["10.0.0.1"]}`, `{"ip":"10.0.0.2"}`, false},
	})
}

func TestPrefixSuffix(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"prefix", `{"a":[{"prefix":"aws."}]}`, `{"a":"aws.ec2"}`, true},
		{"prefix whole", `{"a":[{"prefix":"aws."}]}`, `{"a":"aws."}`, true},
		{"prefix no", `{"a":[{"prefix":"aws."}]}`, `{"a":"custom.aws."}`, false},
		{"prefix on number", `{"a":[{"prefix":"1"}]}`, `{"a":123}`, false},
		{"empty prefix", `{"a":[{"prefix":""}]}`, `{"a":"anything"}`, true},
		{"empty prefix not null", `{"a":[{"prefix":""}]}`, `{"a":null}`, false},
		{"suffix", `{"a":[{"suffix":".png"}]}`, `{"a":"x.png"}`, true},
		{"suffix no", `{"a":[{"suffix":".png"}]}`, `{"a":"x.png.txt"}`, false},
		{"suffix case-sensitive", `{"a":[{"suffix":".PNG"}]}`, `{"a":"x.png"}`, false},
		{"prefix ignore case", `{"a":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"a":"eventbridge"}`, true},
		{"prefix ignore case no", `{"a":[{"prefix":{"equals-ignore-case":"EventB"}}]}`, `{"a":"lambda"}`, false},
		{"suffix ignore case", `{"a":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"a":"X.PNG"}`, true},
		{"suffix ignore case no", `{"a":[{"suffix":{"equals-ignore-case":".png"}}]}`, `{"a":"x.jpg"}`, false},
		{"unicode suffix", `{"a":[{"suffix":"统治者"}]}`, `{"a":"事件统治者"}`, true},
	})
}

func TestEqualsIgnoreCase(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"ascii", `{"a":[{"equals-ignore-case":"alice"}]}`, `{"a":"ALICE"}`, true},
		{"ascii differs", `{"a":[{"equals-ignore-case":"alice"}]}`, `{"a":"alicia"}`, false},
		{"unicode", `{"a":[{"equals-ignore-case":"straße"}]}`, `{"a":"STRAßE"}`, true},
		// EventBridge takes each pattern character's lower- and upper-case
		// forms, not Unicode folding (event-ruler's EqualsIgnoreCaseParser).
		{"k is not the kelvin sign", `{"a":[{"equals-ignore-case":"k"}]}`, `{"a":"\u212a"}`, false},
		{"kelvin sign lowers to k", `{"a":[{"equals-ignore-case":"\u212a"}]}`, `{"a":"k"}`, true},
		{"kelvin sign is its upper case", `{"a":[{"equals-ignore-case":"\u212a"}]}`, `{"a":"\u212a"}`, true},
		{"kelvin sign is not K", `{"a":[{"equals-ignore-case":"\u212a"}]}`, `{"a":"K"}`, false},
		{"title case is neither form", `{"a":[{"equals-ignore-case":"\u01c5"}]}`, `{"a":"\u01c5"}`, false},
		{"title case upper", `{"a":[{"equals-ignore-case":"\u01c5"}]}`, `{"a":"\u01c4"}`, true},
		{"final sigma is not sigma", `{"a":[{"equals-ignore-case":"\u03c2"}]}`, `{"a":"\u03c3"}`, false},
		{"final sigma upper", `{"a":[{"equals-ignore-case":"\u03c2"}]}`, `{"a":"\u03a3"}`, true},
		{"prefix per character", `{"a":[{"prefix":{"equals-ignore-case":"\u212a"}}]}`, `{"a":"kelvin"}`, true},
		{"suffix per character", `{"a":[{"suffix":{"equals-ignore-case":"k"}}]}`, `{"a":"lin\u212a"}`, false},
		{"anything-but per character", `{"a":[{"anything-but":{"equals-ignore-case":"k"}}]}`, `{"a":"\u212a"}`, true},
		{"empty", `{"a":[{"equals-ignore-case":""}]}`, `{"a":""}`, true},
		{"not a number", `{"a":[{"equals-ignore-case":"1"}]}`, `{"a":1}`, false},
	})
}

func TestWildcard(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"star suffix", `{"a":[{"wildcard":"*.png"}]}`, `{"a":"dir/x.png"}`, true},
		{"star only", `{"a":[{"wildcard":"*"}]}`, `{"a":""}`, true},
		{"middle", `{"a":[{"wildcard":"arn:aws:events:*:*:event-bus/*"}]}`, `{"a":"arn:aws:events:us-east-1:123:event-bus/b"}`, true},
		{"middle no", `{"a":[{"wildcard":"arn:aws:events:*:*:event-bus/*"}]}`, `{"a":"arn:aws:events:us-east-1:event-bus/b"}`, false},
		{"no star is exact", `{"a":[{"wildcard":"abc"}]}`, `{"a":"abc"}`, true},
		{"empty only matches empty", `{"a":[{"wildcard":""}]}`, `{"a":"x"}`, false},
		{"escaped star", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"a*b"}`, true},
		{"escaped star is literal", `{"a":[{"wildcard":"a\\*b"}]}`, `{"a":"axb"}`, false},
		{"escaped backslash", `{"a":[{"wildcard":"a\\\\*"}]}`, `{"a":"a\\bc"}`, true},
		{"overlap", `{"a":[{"wildcard":"*ab*ab"}]}`, `{"a":"abab"}`, true},
		{"overlap no", `{"a":[{"wildcard":"*ab*ab"}]}`, `{"a":"aba"}`, false},
		{"not on numbers", `{"a":[{"wildcard":"*"}]}`, `{"a":5}`, false},
	})
}

func TestAnythingBut(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"string", `{"a":[{"anything-but":"x"}]}`, `{"a":"y"}`, true},
		{"string excluded", `{"a":[{"anything-but":"x"}]}`, `{"a":"x"}`, false},
		{"string list", `{"a":[{"anything-but":["x","y"]}]}`, `{"a":"y"}`, false},
		{"matches null", `{"a":[{"anything-but":"x"}]}`, `{"a":null}`, true},
		{"matches number", `{"a":[{"anything-but":"1"}]}`, `{"a":1}`, true},
		{"missing never matches", `{"a":[{"anything-but":"x"}]}`, `{"b":"y"}`, false},
		{"event array one other", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","y"]}`, true},
		{"event array all excluded", `{"a":[{"anything-but":"x"}]}`, `{"a":["x","x"]}`, false},
		{"number", `{"a":[{"anything-but":100}]}`, `{"a":100.0}`, false},
		{"number list", `{"a":[{"anything-but":[100,200]}]}`, `{"a":150}`, true},
		{"number vs string", `{"a":[{"anything-but":[100]}]}`, `{"a":"100"}`, true},
		{"prefix", `{"a":[{"anything-but":{"prefix":"us-"}}]}`, `{"a":"eu-west-1"}`, true},
		{"prefix excluded", `{"a":[{"anything-but":{"prefix":"us-"}}]}`, `{"a":"us-west-2"}`, false},
		{"prefix list", `{"a":[{"anything-but":{"prefix":["us-","eu-"]}}]}`, `{"a":"eu-west-1"}`, false},
		{"prefix number value", `{"a":[{"anything-but":{"prefix":"1"}}]}`, `{"a":12}`, true},
		{"suffix", `{"a":[{"anything-but":{"suffix":".png"}}]}`, `{"a":"x.jpg"}`, true},
		{"suffix excluded", `{"a":[{"anything-but":{"suffix":[".png",".jpg"]}}]}`, `{"a":"x.jpg"}`, false},
		{"ignore case", `{"a":[{"anything-but":{"equals-ignore-case":"init"}}]}`, `{"a":"INIT"}`, false},
		{"ignore case list", `{"a":[{"anything-but":{"equals-ignore-case":["a","b"]}}]}`, `{"a":"c"}`, true},
		{"wildcard", `{"a":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"a":"/usr/bin/env"}`, true},
		{"wildcard excluded", `{"a":[{"anything-but":{"wildcard":"*/lib/*"}}]}`, `{"a":"/usr/lib/x"}`, false},
		{"wildcard list", `{"a":[{"anything-but":{"wildcard":["*foo*","*bar*"]}}]}`, `{"a":"fobaor"}`, true},
		{"empty prefix list matches all", `{"a":[{"anything-but":{"prefix":[]}}]}`, `{"a":"x"}`, true},
	})
}

func TestNumeric(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"equals", `{"a":[{"numeric":["=",100]}]}`, `{"a":100.0}`, true},
		{"equals no", `{"a":[{"numeric":["=",100]}]}`, `{"a":101}`, false},
		{"greater", `{"a":[{"numeric":[">",0]}]}`, `{"a":0.001}`, true},
		{"greater bound", `{"a":[{"numeric":[">",0]}]}`, `{"a":0}`, false},
		{"greater or equal bound", `{"a":[{"numeric":[">=",0]}]}`, `{"a":0}`, true},
		{"less", `{"a":[{"numeric":["<",10]}]}`, `{"a":-5}`, true},
		{"less or equal bound", `{"a":[{"numeric":["<=",10]}]}`, `{"a":10}`, true},
		{"range in", `{"a":[{"numeric":[">",10,"<=",20]}]}`, `{"a":20}`, true},
		{"range low bound", `{"a":[{"numeric":[">",10,"<=",20]}]}`, `{"a":10}`, false},
		{"range above", `{"a":[{"numeric":[">",10,"<=",20]}]}`, `{"a":20.5}`, false},
		{"string is not a number", `{"a":[{"numeric":[">",1]}]}`, `{"a":"5"}`, false},
		{"null is not a number", `{"a":[{"numeric":[">",1]}]}`, `{"a":null}`, false},
		// EventBridge compares to six decimal places, cutting the rest off,
		// and compares no event value beyond ±5e9.
		{"six decimal places", `{"a":[{"numeric":["=",1]}]}`, `{"a":1.0000001}`, true},
		{"six decimal places differ", `{"a":[{"numeric":["=",1]}]}`, `{"a":1.000001}`, false},
		{"above seventh place", `{"a":[{"numeric":[">",0.5]}]}`, `{"a":0.5000004}`, false},
		{"limit inclusive", `{"a":[{"numeric":[">=",5e9]}]}`, `{"a":5000000000}`, true},
		{"event beyond the limit", `{"a":[{"numeric":[">",1]}]}`, `{"a":5000000001}`, false},
		{"event below the limit", `{"a":[{"numeric":["<",1]}]}`, `{"a":-5.1e9}`, false},
		{"event number beyond float64", `{"a":[{"numeric":[">",1]}]}`, `{"a":1e400}`, false},
	})
}

func TestExists(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"exists", `{"a":[{"exists":true}]}`, `{"a":"x"}`, true},
		{"exists null", `{"a":[{"exists":true}]}`, `{"a":null}`, true},
		{"exists missing", `{"a":[{"exists":true}]}`, `{"b":1}`, false},
		{"exists object is not a value", `{"a":[{"exists":true}]}`, `{"a":{"b":1}}`, false},
		{"exists empty array", `{"a":[{"exists":true}]}`, `{"a":[]}`, false},
		{"absent", `{"a":[{"exists":false}]}`, `{"b":1}`, true},
		{"absent present", `{"a":[{"exists":false}]}`, `{"a":1}`, false},
		{"absent object", `{"a":[{"exists":false}]}`, `{"a":{"b":1}}`, true},
		{"absent empty array", `{"a":[{"exists":false}]}`, `{"a":[]}`, true},
		{"absent or value", `{"a":[{"exists":false},"x"]}`, `{"a":"x"}`, true},
		{"absent or value neither", `{"a":[{"exists":false},"x"]}`, `{"a":"y"}`, false},
		{"only absent with others", `{"a":["x"],"b":[{"exists":false}]}`, `{"a":"x"}`, true},
	})
}

func TestCIDR(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"v4 in", `{"ip":[{"cidr":"10.0.0.0/24"}]}`, `{"ip":"10.0.0.255"}`, true},
		{"v4 out", `{"ip":[{"cidr":"10.0.0.0/24"}]}`, `{"ip":"10.0.1.0"}`, false},
		{"v4 host bits ignored", `{"ip":[{"cidr":"54.240.196.171/24"}]}`, `{"ip":"54.240.196.0"}`, true},
		{"v4 invalid octet", `{"ip":[{"cidr":"10.0.0.0/24"}]}`, `{"ip":"10.0.0.256"}`, false},
		{"v4 number", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":10}`, false},
		{"v4 zero mask", `{"ip":[{"cidr":"0.0.0.0/0"}]}`, `{"ip":"8.8.8.8"}`, true},
		{"v6 in", `{"ip":[{"cidr":"2001:db8:1234:1a00::/64"}]}`, `{"ip":"2001:0db8:1234:1a00:0000:0000:0000:0001"}`, true},
		{"v6 out", `{"ip":[{"cidr":"2001:db8:1234:1a00::/64"}]}`, `{"ip":"2001:db8:1234:1a01::"}`, false},
		{"v4 value in v6 range", `{"ip":[{"cidr":"::/1"}]}`, `{"ip":"10.0.0.1"}`, false},
		{"mapped v6 reads as v4", `{"ip":[{"cidr":"10.0.0.0/8"}]}`, `{"ip":"::ffff:a00:1"}`, true},
	})
}

func TestOr(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"either", `{"$or":[{"a":["x"]},{"b":["y"]}]}`, `{"a":"z","b":"y"}`, true},
		{"neither", `{"$or":[{"a":["x"]},{"b":["y"]}]}`, `{"a":"z","b":"z"}`, false},
		{"nested in object", `{"d":{"$or":[{"a":[1]},{"b":[2]}]}}`, `{"d":{"b":2}}`, true},
		{"and with or", `{"s":["x"],"$or":[{"a":[1]},{"b":[2]}]}`, `{"s":"y","b":2}`, false},
		{"branch is one alternative", `{"$or":[{"zoo":["1"],"bar":["x"]},{"foo":["a"],"bar":["y"]}]}`, `{"foo":"a","bar":"x"}`, false},
		{"nested or", `{"$or":[{"a":[1]},{"$or":[{"b":[2]},{"c":[3]}]}]}`, `{"c":3}`, true},
		{"branch overrides earlier field", `{"a":["x"],"$or":[{"a":["y"]},{"b":[1]}]}`, `{"a":"y"}`, true},
		{"later field overrides branches", `{"$or":[{"a":["y"]},{"b":[1]}],"a":["x"]}`, `{"a":"y"}`, false},
	})
}

func TestStructure(t *testing.T) {
	runMatchTests(t, []matchTest{
		{"dotted pattern key", `{"d":{"s.t":["on"]}}`, `{"d":{"s":{"t":"on"}}}`, true},
		{"dotted event key", `{"d":{"s":{"t":["on"]}}}`, `{"d":{"s.t":"on"}}`, true},
		{"duplicate key last wins", `{"a":["x"],"a":["y"]}`, `{"a":"x"}`, false},
		{"duplicate key last wins match", `{"a":["x"],"a":["y"]}`, `{"a":"y"}`, true},
		{"duplicate object keys merge", `{"d":{"a":[1]},"d":{"b":[2]}}`, `{"d":{"a":1,"b":3}}`, false},
		{"dotted and nested same path last wins", `{"d.a":[1],"d":{"a":[2]}}`, `{"d":{"a":2}}`, true},
		{"array of objects", `{"e":{"n":["Anna"]}}`, `{"e":[{"n":"John"},{"n":"Anna"}]}`, true},
		{"array consistency", `{"e":{"n":["Anna"],"l":["Jones"]}}`, `{"e":[{"n":"Anna","l":"Smith"},{"n":"Peter","l":"Jones"}]}`, false},
		{"array consistency same element", `{"e":{"n":["Anna"],"l":["Smith"]}}`, `{"e":[{"n":"Anna","l":"Smith"},{"n":"Peter","l":"Jones"}]}`, true},
		{"nested arrays", `{"e":{"n":["Anna"]}}`, `{"e":[[{"n":"John"}],[{"n":"Anna"}]]}`, true},
		{"absent in same element", `{"e":{"n":["Anna"],"z":[{"exists":false}]}}`, `{"e":[{"n":"John","z":1},{"n":"Anna"}]}`, true},
		{"absent in same element present", `{"e":{"n":["Anna"],"z":[{"exists":false}]}}`, `{"e":[{"n":"John"},{"n":"Anna","z":1}]}`, false},
		// EventBridge checks fields in sorted order, so an absence checked
		// before any chosen value sees the whole array.
		{"absent checked first sees all elements", `{"e":{"a":[{"exists":false}],"n":["Anna"]}}`, `{"e":[{"n":"John","a":1},{"n":"Anna"}]}`, false},
		{"values outside arrays", `{"x":["1"],"e":{"n":["Anna"]}}`, `{"x":"1","e":[{"n":"Anna"}]}`, true},
		{"full envelope", `{"source":["aws.ec2"],"detail":{"state":["terminated"]}}`,
			`{"version":"0","id":"1","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"1","time":"2017-12-22T18:43:48Z","region":"us-west-1","resources":[],"detail":{"state":"terminated"}}`, true},
	})
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		path    string
		reason  string // substring of the reason
	}{
		{"malformed JSON", `{"a": [`, "", "invalid JSON"},
		{"trailing data", `{"a": ["x"]} {}`, "", "invalid JSON"},
		{"not an object", `["a"]`, "", "must be a JSON object"},
		{"string root", `"a"`, "", "must be a JSON object"},
		{"empty pattern", `{}`, "", "empty object"},
		{"leaf not array", `{"detail": {"state": "x"}}`, "detail.state", "must be an object or an array"},
		{"leaf number", `{"a": 1}`, "a", "must be an object or an array"},
		{"leaf null", `{"a": null}`, "a", "must be an object or an array"},
		{"empty array", `{"detail": {"state": []}}`, "detail.state", "empty array"},
		{"empty nested object", `{"detail": {}}`, "detail", "empty object"},
		{"numeric above EventBridge's range", `{"a": [{"numeric": [">", 5000000000.5]}]}`, "a", "from -5e9 to 5e9"},
		{"numeric below EventBridge's range", `{"a": [{"numeric": [">", -1e308, "<", 0]}]}`, "a", "from -5e9 to 5e9"},
		{"numeric far above", `{"a": [{"numeric": ["=", 1e300]}]}`, "a", "from -5e9 to 5e9"},
		{"array in values", `{"a": [["x"]]}`, "a", "cannot contain an array"},
		{"unknown operator", `{"detail": {"state": [{"foo": "x"}]}}`, "detail.state", `unknown operator "foo"`},
		{"operator is case-sensitive", `{"a": [{"EXISTS": true}]}`, "a", `unknown operator "EXISTS"`},
		{"empty operator", `{"a": [{}]}`, "a", "empty operator object"},
		{"extra key", `{"a": [{"prefix": "x", "foo": 1}]}`, "a", `unexpected extra key "foo"`},
		{"prefix number", `{"a": [{"prefix": 1}]}`, "a", "prefix: must be a string"},
		{"prefix list", `{"a": [{"prefix": ["x"]}]}`, "a", "prefix: must be a string"},
		{"prefix bad option", `{"a": [{"prefix": {"foo": "x"}}]}`, "a", `unsupported option "foo"`},
		{"prefix ignore case number", `{"a": [{"prefix": {"equals-ignore-case": 1}}]}`, "a", "equals-ignore-case: must be a string"},
		{"prefix ignore case extra", `{"a": [{"prefix": {"equals-ignore-case": "x", "y": 1}}]}`, "a", "unexpected extra key"},
		{"suffix object extra outside", `{"a": [{"suffix": {"equals-ignore-case": "x"}, "y": 1}]}`, "a", "unexpected extra key"},
		{"equals-ignore-case list", `{"a": [{"equals-ignore-case": ["x"]}]}`, "a", "equals-ignore-case: must be a string"},
		{"exactly number", `{"a": [{"exactly": 1}]}`, "a", "exactly: must be a string"},
		{"numeric not array", `{"detail": {"n": [{"numeric": 10}]}}`, "detail.n", "numeric: must be an array"},
		{"numeric out of order", `{"detail": {"state": [{"numeric": ["<", 1, ">", 0]}]}}`, "detail.state", "numeric: operators out of order"},
		{"numeric two lower bounds", `{"a": [{"numeric": [">", 0, ">", 0]}]}`, "a", "numeric: operators out of order"},
		{"numeric unknown operator", `{"a": [{"numeric": ["==", 1]}]}`, "a", `numeric: unknown operator "=="`},
		{"numeric missing value", `{"a": [{"numeric": [">", 0, "<"]}]}`, "a", `value after "<" must be a number`},
		{"numeric string value", `{"a": [{"numeric": ["=", "5"]}]}`, "a", `value after "=" must be a number`},
		{"numeric bool value", `{"a": [{"numeric": ["<", true]}]}`, "a", "must be a number"},
		{"numeric empty", `{"a": [{"numeric": []}]}`, "a", "must start with an operator"},
		{"numeric bounds", `{"a": [{"numeric": [">", 30, "<", 1]}]}`, "a", "lower bound must be less than upper bound"},
		{"numeric equal bounds", `{"a": [{"numeric": [">=", 1, "<=", 1]}]}`, "a", "lower bound must be less than upper bound"},
		{"numeric too many", `{"a": [{"numeric": [">", 1, "<", 30, false]}]}`, "a", "too many elements"},
		{"numeric equals extra", `{"a": [{"numeric": ["=", 1, "<", 30]}]}`, "a", "too many elements"},
		{"numeric beyond float64", `{"a": [{"numeric": ["=", 2.0e422]}]}`, "a", "out of range"},
		{"exists string", `{"a": [{"exists": "true"}]}`, "a", "exists: must be true or false"},
		{"exists extra", `{"a": [{"exists": true, "x": 1}]}`, "a", "unexpected extra key"},
		{"cidr no slash", `{"ip": [{"cidr": "10.0.0.0"}]}`, "ip", "cidr: malformed CIDR"},
		{"cidr two slashes", `{"ip": [{"cidr": "foo/bar/baz"}]}`, "ip", "exactly one '/'"},
		{"cidr bad mask", `{"ip": [{"cidr": "10.0.0.0/x"}]}`, "ip", "mask bits must be an integer"},
		{"cidr negative mask", `{"ip": [{"cidr": "10.0.0.0/-1"}]}`, "ip", "must not be negative"},
		{"cidr v4 mask", `{"ip": [{"cidr": "10.0.0.0/33"}]}`, "ip", "IPv4 mask bits must be less than 32"},
		{"cidr v6 mask", `{"ip": [{"cidr": "2001:db8::/128"}]}`, "ip", "IPv6 mask bits must be less than 128"},
		{"cidr bad address", `{"ip": [{"cidr": "xx.11.xx/8"}]}`, "ip", "is not an IP address"},
		{"cidr v6 bad address", `{"ip": [{"cidr": "1:2:3:4:5:6:7:8:9/64"}]}`, "ip", "is not an IP address"},
		{"cidr list", `{"ip": [{"cidr": ["10.0.0.0/8"]}]}`, "ip", "cidr: must be a string"},
		{"wildcard consecutive stars", `{"arn": [{"wildcard": "a**b"}]}`, "arn", "consecutive '*' at position 2"},
		{"wildcard bad escape", `{"arn": [{"wildcard": "a\\b"}]}`, "arn", "invalid escape character at position 2"},
		{"wildcard trailing backslash", `{"arn": [{"wildcard": "a\\"}]}`, "arn", "invalid escape character"},
		{"wildcard number", `{"arn": [{"wildcard": 3}]}`, "arn", "wildcard: must be a string"},
		{"wildcard too complex", `{"arn": [{"wildcard": "*:*:*:*:*:event-bus/*"}]}`, "arn", "too complex"},
		{"anything-but null", `{"a": [{"anything-but": null}]}`, "a", "anything-but: must be"},
		{"anything-but mixed list", `{"a": [{"anything-but": ["x", 1]}]}`, "a", "only strings or only numbers"},
		{"anything-but empty list", `{"a": [{"anything-but": []}]}`, "a", "must be non-empty"},
		{"anything-but null in list", `{"a": [{"anything-but": ["x", null]}]}`, "a", "only strings or only numbers"},
		{"anything-but bool in list", `{"a": [{"anything-but": [true]}]}`, "a", "no null, booleans"},
		{"anything-but empty prefix", `{"a": [{"anything-but": {"prefix": ""}}]}`, "a", "must not be empty"},
		{"anything-but empty suffix in list", `{"a": [{"anything-but": {"suffix": ["x", ""]}}]}`, "a", "must not be empty"},
		{"anything-but prefix number", `{"a": [{"anything-but": {"prefix": 1}}]}`, "a", "prefix: must be a string or a list of strings"},
		{"anything-but prefix ignore case", `{"a": [{"anything-but": {"prefix": {"equals-ignore-case": "x"}}}]}`, "a", "must be a string or a list"},
		{"anything-but ignore case number", `{"a": [{"anything-but": {"equals-ignore-case": 1}}]}`, "a", "equals-ignore-case: must be a string"},
		{"anything-but unknown", `{"a": [{"anything-but": {"x": 1}}]}`, "a", `unsupported operator "x"`},
		{"anything-but extra inner key", `{"a": [{"anything-but": {"prefix": "x", "a": 1}}]}`, "a", "unexpected extra key"},
		{"anything-but extra outer key", `{"a": [{"anything-but": "x", "foo": []}]}`, "a", "unexpected extra key"},
		{"anything-but bad wildcard", `{"a": [{"anything-but": {"wildcard": ["1", "a**b"]}}]}`, "a", "consecutive '*'"},
		{"anything-but beyond float64", `{"a": [{"anything-but": 1e309}]}`, "a", "out of range"},
		{"or single branch", `{"$or": [{"a": [1]}]}`, "$or", "at least 2"},
		{"or not array", `{"$or": {"a": [1]}}`, "$or", "must be an array"},
		{"or non-object branch", `{"d": {"$or": [{"a": [1]}, [{"b": [2]}]]}}`, "d.$or", "element 1 is not an object"},
		{"or reserved name", `{"$or": [{"prefix": ["x"]}, {"a": [1]}]}`, "prefix", "reserved"},
		{"or reserved nested name", `{"$or": [{"d": {"numeric": ["x"]}}, {"a": [1]}]}`, "d.numeric", "reserved"},
		{"or error path", `{"d": {"$or": [{"a": [1]}, {"b": 2}]}}`, "d.b", "must be an object or an array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.pattern))
			if err == nil {
				t.Fatalf("Compile(%s) = %s, want an error", tt.pattern, p)
			}
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Compile(%s) error %T, want *Error", tt.pattern, err)
			}
			if perr.Path != tt.path || !strings.Contains(perr.Reason, tt.reason) {
				t.Errorf("Compile(%s) = %q (path %q), want path %q and reason containing %q", tt.pattern, err, perr.Path, tt.path, tt.reason)
			}
			wantText := tt.path + ": "
			if tt.path == "" {
				wantText = "pattern: "
			}
			if !strings.HasPrefix(err.Error(), wantText) {
				t.Errorf("Compile(%s).Error() = %q, want prefix %q", tt.pattern, err, wantText)
			}
		})
	}
}

func TestAcceptedEdgePatterns(t *testing.T) {
	for _, src := range []string{
		`{"a": [{"anything-but": {"prefix": []}}]}`,
		`{"a": [{"wildcard": "he\\**o"}]}`,
		`{"a": [{"cidr": "10.0.0.0/8/"}]}`,
		`{"a": [{"exactly": "x"}]}`,
		`{"a": [1e400]}`,
		`{"": {"": [""]}}`,
		`{"a": [{"numeric": [">=", -5e9, "<=", 5e9]}]}`,
		`{"a": [{"wildcard": "arn:aws:*:*:*:*"}]}`,
	} {
		if _, err := Compile([]byte(src)); err != nil {
			t.Errorf("Compile(%s) = %v, want no error", src, err)
		}
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		pattern string
		want    string
	}{
		{`{ "source" : [ "aws.ec2" ] }`, `{"source":["aws.ec2"]}`},
		{`{"detail": {"b": [1], "a": [{"prefix": "x"}]}, "source": ["s"]}`, `{"detail":{"a":[{"prefix":"x"}],"b":[1]},"source":["s"]}`},
		{`{"detail.state": ["on"]}`, `{"detail":{"state":["on"]}}`},
		{`{"a": ["x"], "a": ["y"]}`, `{"a":["y"]}`},
		{`{"a": [1], "a.b": [2]}`, `{"a":[1],"a.b":[2]}`},
		{`{"n": [3.0e2]}`, `{"n":[3.0e2]}`},
		{`{"s": ["\u00e9\"\\"]}`, `{"s":["é\"\\"]}`},
		{`{"source": ["s"], "$or": [{"a": [1]}, {"b": [2]}]}`, `{"source":["s"],"$or":[{"a":[1]},{"b":[2]}]}`},
		{`{"$or": [{"d": {"a": [1]}}, {"d": {"b": [2]}}]}`, `{"$or":[{"d.a":[1]},{"d.b":[2]}]}`},
		{`{"a": [1], "$or": [{"a": [1]}, {"a": [1], "b": [2]}]}`, `{"$or":[{"a":[1]},{"a":[1],"b":[2]}]}`},
		{`{"prefix": ["x"], "$or": [{"a": [1]}, {"a": [1], "b": [2]}]}`, `{"prefix":["x"],"$or":[{"a":[1]},{"a":[1],"b":[2]}]}`},
		{`{"$or": [{"a": [1]}, {"a": [1]}]}`, `{"a":[1]}`},
		{`{"x.$or": ["v"]}`, `{"x.$or":["v"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			p, err := Compile([]byte(tt.pattern))
			if err != nil {
				t.Fatalf("Compile(%s): %v", tt.pattern, err)
			}
			if got := p.String(); got != tt.want {
				t.Errorf("Compile(%s).String() = %s, want %s", tt.pattern, got, tt.want)
			}
			again, err := Compile([]byte(p.String()))
			if err != nil {
				t.Fatalf("Compile(%s): %v", p.String(), err)
			}
			if again.String() != p.String() {
				t.Errorf("Compile(%s).String() = %s, want it unchanged", p.String(), again.String())
			}
		})
	}
}

func TestExplain(t *testing.T) {
	tests := []struct {
		name    string
		pattern string
		event   string
		want    []Miss
	}{
		{"matches", `{"a":["x"]}`, `{"a":"x"}`, nil},
		{"wrong value", `{"source":[{"prefix":"aws."}],"n":[1]}`, `{"source":"custom","n":1}`,
			[]Miss{{Path: "source", Want: `prefix "aws."`, Got: []string{`"custom"`}}}},
		{"missing", `{"detail":{"state":["on","off"]}}`, `{"detail":{}}`,
			[]Miss{{Path: "detail.state", Want: `"on" or "off"`}}},
		{"present but must not exist", `{"a":[{"exists":false}]}`, `{"a":[1,2]}`,
			[]Miss{{Path: "a", Want: "does not exist", Got: []string{"1", "2"}}}},
		{"numeric", `{"a":[{"numeric":[">",0,"<=",5]}]}`, `{"a":9}`,
			[]Miss{{Path: "a", Want: "numeric > 0 and <= 5", Got: []string{"9"}}}},
		{"closest alternative", `{"$or":[{"a":["x"],"b":["y"]},{"c":["z"]}]}`, `{"a":"x","b":"n"}`,
			[]Miss{{Path: "b", Want: `"y"`, Got: []string{`"n"`}}}},
		{"fewest misses", `{"$or":[{"a":["x"],"b":["y"]},{"c":["z"]}]}`, `{"a":"w","b":"n"}`,
			[]Miss{{Path: "c", Want: `"z"`}}},
		{"array consistency", `{"e":{"n":["Anna"],"l":["Jones"]}}`, `{"e":[{"n":"Anna"},{"l":"Jones"}]}`,
			[]Miss{{Path: "e.l, e.n", Want: "all values from the same array element"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile([]byte(tt.pattern))
			if err != nil {
				t.Fatalf("Compile(%s): %v", tt.pattern, err)
			}
			f, err := ParseEvent([]byte(tt.event))
			if err != nil {
				t.Fatalf("ParseEvent(%s): %v", tt.event, err)
			}
			got := p.Explain(f)
			if !slices.EqualFunc(got, tt.want, func(a, b Miss) bool {
				return a.Path == b.Path && a.Want == b.Want && slices.Equal(a.Got, b.Got)
			}) {
				t.Errorf("Explain(%s, %s) = %#v, want %#v", tt.pattern, tt.event, got, tt.want)
			}
		})
	}
}

func TestParseEventErrors(t *testing.T) {
	for _, ev := range []string{``, `[]`, `"x"`, `1`, `null`, `{`, `{"a":}`, `{"a":1}x`, `{"a":tru}`, `{"a":01}`, `{'a':1}`, `{"a":"\x"}`} {
		if _, err := ParseEvent([]byte(ev)); err == nil {
			t.Errorf("ParseEvent(%q) = nil error, want an error", ev)
		}
	}
	p, err := Compile([]byte(`{"a":["x"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Match([]byte(`[{"a":"x"}]`)); err == nil {
		t.Errorf("Match([...]) = nil error, want an error for a non-object event")
	}
}

func TestFieldsValues(t *testing.T) {
	f := mustParse(t, `{"a":"x","n":3.0e2,"d":{"b":[true,null,{"c":"y"}],"e":{}},"d.b":"z","s":"\u00e9"}`)
	tests := []struct {
		path string
		want []string
	}{
		{"a", []string{"x"}},
		{"n", []string{"3.0e2"}},
		{"d.b", []string{"true", "null", "z"}},
		{"d.b.c", []string{"y"}},
		{"s", []string{"é"}},
		{"d", nil},
		{"d.e", nil},
		{"missing", nil},
	}
	for _, tt := range tests {
		if got := f.Values(tt.path); !slices.Equal(got, tt.want) {
			t.Errorf("Values(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
}
