package lambdaenv

import (
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// AWS-defined environment variables the Lambda runtime sets (or a test sets
// in its place).
const (
	envRegion       = "AWS_REGION"
	envAccessKey    = "AWS_ACCESS_KEY_ID"
	envSecretKey    = "AWS_SECRET_ACCESS_KEY"
	envSessionToken = "AWS_SESSION_TOKEN"
	envEndpoint     = "AWS_ENDPOINT_URL"
	envNoEndpoints  = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
)

// AWSConfig is the SDK configuration of a function, from what the Lambda
// runtime puts in its environment: the Region and the execution role's
// credentials. It replaces the SDK's config.LoadDefaultConfig, whose chain of
// shared files, SSO, STS and instance metadata a function never uses and
// which is a seventh of a function's binary. A missing variable is
// remembered like a missing setting.
func (e *Env) AWSConfig() aws.Config {
	return aws.Config{
		Region: e.Required(envRegion),
		Credentials: credentials.NewStaticCredentialsProvider(
			e.Required(envAccessKey), e.Required(envSecretKey), e.Optional(envSessionToken, "")),
	}
}

// For returns cfg for the service whose SDK id is id ("DynamoDB", "SSM"),
// with the endpoint AWS_ENDPOINT_URL_<ID> or AWS_ENDPOINT_URL names, as the
// SDK's own loader would: that is how the local runs point a function at
// their endpoints.
func (e *Env) For(cfg aws.Config, id string) aws.Config {
	if e.Optional(envNoEndpoints, "") == "true" {
		return cfg
	}
	key := envEndpoint + "_" + strings.ToUpper(strings.ReplaceAll(id, " ", "_"))
	if url := e.Optional(key, e.Optional(envEndpoint, "")); url != "" {
		cfg.BaseEndpoint = aws.String(url)
	}
	return cfg
}
