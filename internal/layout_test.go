// Package internal_test checks the boundaries of the layout: the domain
// never reaches the AWS SDK, and no function links another function's logic.
package internal_test

import (
	"os/exec"
	"path"
	"strings"
	"testing"
)

const module = "github.com/opsloop/opsloop/"

// deps lists the packages pkg imports, directly or not, with pkg itself.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", module+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// packages lists the module's packages matching pattern.
func packages(t *testing.T, pattern string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", module+pattern).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pattern, err)
	}
	var pkgs []string
	for _, p := range strings.Fields(string(out)) {
		pkgs = append(pkgs, strings.TrimPrefix(p, module))
	}
	return pkgs
}

// TestDomainDoesNotImportAWS: the domain and the local engine run without
// the AWS SDK; only internal/aws/..., the functions and the CLI reach it.
func TestDomainDoesNotImportAWS(t *testing.T) {
	var checked int
	for _, pkg := range packages(t, "internal/...") {
		if strings.HasPrefix(pkg, "internal/aws/") || strings.HasPrefix(pkg, "internal/functions/") || pkg == "internal/lambdaenv" {
			continue
		}
		checked++
		for _, d := range deps(t, pkg) {
			if strings.HasPrefix(d, "github.com/aws/") {
				t.Errorf("domain package %s imports %s", pkg, d)
				break
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d domain packages, want the whole domain (at least 10)", checked)
	}
}

// TestFunctionsLinkOnlyTheirOwnLogic: functions/<name> and the logic it
// wires, internal/functions/<name>fn, import no other function's package.
func TestFunctionsLinkOnlyTheirOwnLogic(t *testing.T) {
	fns := packages(t, "functions/...")
	if len(fns) != 3 {
		t.Fatalf("functions = %v, want the classifier, incidents and problems functions", fns)
	}
	for _, fn := range fns {
		own := "internal/functions/" + path.Base(fn) + "fn"
		for _, d := range deps(t, fn) {
			rel := strings.TrimPrefix(d, module)
			if strings.HasPrefix(rel, "internal/functions/") && strings.HasSuffix(rel, "fn") && rel != own {
				t.Errorf("%s imports %s, another function's logic", fn, rel)
			}
			if rel != fn && strings.HasPrefix(rel, "functions/") {
				t.Errorf("%s imports %s, another function", fn, rel)
			}
			if strings.HasPrefix(rel, "internal/local/") {
				t.Errorf("%s imports %s, the local engine", fn, rel)
			}
		}
	}
}

// TestFunctionsLinkOnlyWhatTheyRun: each Lambda binary links the domain of
// its own step and not the others' (the DynamoDB adapter is split by the
// step whose items it keeps for that reason), and none links the SDK's
// credential chain (shared files, SSO, STS, instance metadata): a function
// takes its Region and credentials from the Lambda environment.
func TestFunctionsLinkOnlyWhatTheyRun(t *testing.T) {
	chain := []string{
		"github.com/aws/aws-sdk-go-v2/config",
		"github.com/aws/aws-sdk-go-v2/service/sts",
		"github.com/aws/aws-sdk-go-v2/service/sso",
		"github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
	}
	notLinked := map[string][]string{
		"functions/classifier": {"internal/incidents", "internal/problems", "internal/review", "internal/aws/dynamodb/incidentstore", "internal/aws/dynamodb/problemstore"},
		"functions/incidents":  {"internal/classify", "internal/rules", "internal/pattern", "internal/problems", "internal/review", "internal/aws/dynamodb/problemstore"},
		"functions/problems":   {"internal/classify", "internal/aws/dynamodb/incidentstore"},
	}
	for fn, banned := range notLinked {
		linked := map[string]bool{}
		for _, d := range deps(t, fn) {
			linked[strings.TrimPrefix(d, module)] = true
		}
		for _, b := range append(banned, chain...) {
			if linked[b] {
				t.Errorf("%s links %s, which it does not run", fn, b)
			}
		}
	}
}
