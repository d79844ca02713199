// Package reports keeps the review reports in S3: one self-contained HTML
// object per review, named by the end of the period it reviews, so that
// the newest object named before a review's is the review before it, whose
// rules snapshot the next review compares with.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsloop/opsloop/internal/review"
)

// API is the part of the S3 client the store uses.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// DefaultPrefix is where the reports are kept in the bucket.
const DefaultPrefix = "reviews/"

// keyTime names a report by the end of its period: sortable, and free of
// characters that need escaping in a URL.
const keyTime = "2006-01-02T15-04-05Z"

// Options tune a Store; zero values take the defaults.
type Options struct {
	// Prefix is prepended to every key; default DefaultPrefix.
	Prefix string
	// Region is the bucket's region, for links to the S3 console; without
	// it links are s3:// URIs.
	Region string
}

// Store keeps the reports in one bucket. Retries of throttling and 5xx are
// the client's.
type Store struct {
	api    API
	bucket string
	opts   Options
}

// New returns the store of bucket, reached through api.
func New(api API, bucket string, opts Options) *Store {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	return &Store{api: api, bucket: bucket, opts: opts}
}

// Key names the report of the period ending at end.
func (s *Store) Key(end time.Time) string {
	return s.opts.Prefix + end.UTC().Format(keyTime) + ".html"
}

// Put writes the report under key, replacing any report there: a review
// written again for the same period is the same review.
func (s *Store) Put(ctx context.Context, key string, html []byte) error {
	_, err := s.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.bucket), Key: aws.String(key), Body: bytes.NewReader(html),
		ContentType:  aws.String("text/html; charset=utf-8"),
		CacheControl: aws.String("no-cache"),
	})
	if err != nil {
		return fmt.Errorf("put report %s: %w", key, err)
	}
	return nil
}

// Previous returns the key of the newest report named before key, or ""
// when there is none.
func (s *Store) Previous(ctx context.Context, key string) (string, error) {
	prev := ""
	pages := s3.NewListObjectsV2Paginator(s.api, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(s.opts.Prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return "", fmt.Errorf("list reports before %s: %w", key, err)
		}
		for _, o := range page.Contents {
			k := aws.ToString(o.Key)
			if strings.HasSuffix(k, ".html") && k < key && k > prev {
				prev = k
			}
		}
	}
	return prev, nil
}

// PreviousSnapshot reads the rules snapshot of the newest report before
// key: nil when there is no earlier report, or when it holds no snapshot.
func (s *Store) PreviousSnapshot(ctx context.Context, key string) (*review.RulesSnapshot, error) {
	prev, err := s.Previous(ctx, key)
	if err != nil || prev == "" {
		return nil, err
	}
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(prev)})
	if err != nil {
		return nil, fmt.Errorf("get report %s: %w", prev, err)
	}
	defer out.Body.Close()
	snap, err := review.ReadSnapshot(out.Body)
	if errors.Is(err, review.ErrNoSnapshot) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("report %s: %w", prev, err)
	}
	return &snap, nil
}

// Link is where a reader finds the report of key: the object in the S3
// console (commercial partition) when the region is known, else its s3://
// URI. Both need the reader's own AWS access; nothing is made public.
func (s *Store) Link(key string) string {
	if s.opts.Region == "" {
		return "s3://" + s.bucket + "/" + key
	}
	return "https://s3.console.aws.amazon.com/s3/object/" + url.PathEscape(s.bucket) +
		"?region=" + url.QueryEscape(s.opts.Region) + "&prefix=" + url.QueryEscape(key)
}
