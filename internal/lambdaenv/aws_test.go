package lambdaenv

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestAWSConfigFromTheLambdaEnvironment(t *testing.T) {
	env := FromMap(map[string]string{
		"AWS_REGION":                   "eu-west-1",
		"AWS_ACCESS_KEY_ID":            "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":        "secret",
		"AWS_SESSION_TOKEN":            "token",
		"AWS_ENDPOINT_URL":             "http://127.0.0.1:1",
		"AWS_ENDPOINT_URL_DYNAMODB":    "http://127.0.0.1:2",
		"AWS_ENDPOINT_URL_EVENTBRIDGE": "http://127.0.0.1:3",
	})
	cfg := env.AWSConfig()
	if err := env.Err(); err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" {
		t.Errorf("Region = %q", cfg.Region)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if creds.AccessKeyID != "AKIDEXAMPLE" || creds.SecretAccessKey != "secret" || creds.SessionToken != "token" {
		t.Errorf("credentials = %+v", creds)
	}
	for id, want := range map[string]string{
		"DynamoDB":    "http://127.0.0.1:2",
		"EventBridge": "http://127.0.0.1:3",
		"SSM":         "http://127.0.0.1:1", // the general one
	} {
		if got := aws.ToString(env.For(cfg, id).BaseEndpoint); got != want {
			t.Errorf("For(%s).BaseEndpoint = %q, want %q", id, got, want)
		}
	}
	if cfg.BaseEndpoint != nil {
		t.Error("For changed the shared config")
	}
}

func TestAWSConfigWithoutEndpoints(t *testing.T) {
	env := FromMap(map[string]string{
		"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b",
		"AWS_ENDPOINT_URL_SSM": "http://127.0.0.1:1", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
	})
	cfg := env.AWSConfig()
	if got := env.For(cfg, "SSM").BaseEndpoint; got != nil {
		t.Errorf("BaseEndpoint = %q with AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", *got)
	}
	if got := env.For(cfg, "DynamoDB").BaseEndpoint; got != nil {
		t.Errorf("BaseEndpoint = %q without any endpoint set", *got)
	}
}

func TestAWSConfigNamesWhatIsMissing(t *testing.T) {
	env := FromMap(map[string]string{"AWS_ACCESS_KEY_ID": "a"})
	env.AWSConfig()
	err := env.Err()
	if err == nil {
		t.Fatal("no error without a Region and a secret key")
	}
	for _, name := range []string{"AWS_REGION", "AWS_SECRET_ACCESS_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "AWS_SESSION_TOKEN") {
		t.Errorf("error %q names the optional session token", err)
	}
}
