// Package trails reads CloudTrail log files straight from S3 for replay:
// eventfile.Bucket over ListObjectsV2 and GetObject through the AWS SDK
// (its retries, its credentials and Region, AWS_ENDPOINT_URL_S3).
package trails

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsloop/opsloop/internal/eventfile"
)

// API is the part of the S3 client a Bucket uses.
type API interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// MaxObject bounds an object read whole: CloudTrail's files are a few
// megabytes at most; anything far larger is no log file.
const MaxObject = 256 << 20

// Bucket is one bucket's objects.
type Bucket struct {
	api  API
	name string
}

var _ eventfile.Bucket = (*Bucket)(nil)

// New returns the bucket name, reached through api.
func New(api API, name string) *Bucket { return &Bucket{api: api, name: name} }

// List implements eventfile.Bucket.
func (b *Bucket) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	pages := s3.NewListObjectsV2Paginator(b.api, &s3.ListObjectsV2Input{Bucket: aws.String(b.name), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", b.name, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// Get implements eventfile.Bucket.
func (b *Bucket) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := b.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b.name), Key: aws.String(key)})
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", b.name, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(io.LimitReader(out.Body, MaxObject+1))
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", b.name, key, err)
	}
	if len(data) > MaxObject {
		return nil, fmt.Errorf("get s3://%s/%s: over %d bytes: no CloudTrail log file", b.name, key, MaxObject)
	}
	return data, nil
}
