package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/opsloop/opsloop/internal/aws/s3/trails"
	"github.com/opsloop/opsloop/internal/eventfile"
)

// readSettings are the flags that choose what of an organization's trail a
// replay reads.
type readSettings struct {
	accounts, regions, from, to *string
}

func readFlags(fs *flag.FlagSet) *readSettings {
	return &readSettings{
		accounts: fs.String("accounts", "", "replay only these accounts' events (ids, comma-separated)"),
		regions:  fs.String("regions", "", "replay only these Regions' events (comma-separated)"),
		from:     fs.String("from", "", "replay only events from this day (YYYY-MM-DD, UTC) or time (RFC 3339) on"),
		to:       fs.String("to", "", "replay only events up to this day (YYYY-MM-DD, UTC, the whole day) or before this time (RFC 3339)"),
	}
}

var (
	accountIDRE  = regexp.MustCompile(`^[0-9]{12}$`)
	regionNameRE = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// options checks the flags and returns the reading options, with an S3
// client (the AWS SDK's default configuration) when a path is s3://.
func (r *readSettings) options(ctx context.Context, paths []string) (eventfile.Options, error) {
	var opts eventfile.Options
	f := &opts.Filter
	var err error
	if f.Accounts, err = list(*r.accounts, accountIDRE, "--accounts", "an account id (12 digits)"); err != nil {
		return opts, err
	}
	if f.Regions, err = list(*r.regions, regionNameRE, "--regions", "a Region name (eu-west-1)"); err != nil {
		return opts, err
	}
	if f.From, err = when(*r.from, "--from", false); err != nil {
		return opts, err
	}
	if f.To, err = when(*r.to, "--to", true); err != nil {
		return opts, err
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return opts, fmt.Errorf("--from %s is not before --to %s", *r.from, *r.to)
	}
	for _, p := range paths {
		if !strings.HasPrefix(p, "s3://") {
			continue
		}
		if name, _, _ := strings.Cut(strings.TrimPrefix(p, "s3://"), "/"); name == "" {
			return opts, fmt.Errorf("%s: want s3://bucket/prefix", p)
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return opts, fmt.Errorf("load AWS configuration: %w", err)
		}
		client := awss3.NewFromConfig(cfg, func(o *awss3.Options) {
			// A local S3-compatible endpoint answers on one host name.
			o.UsePathStyle = os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != ""
		})
		opts.Bucket = func(name string) (eventfile.Bucket, error) { return trails.New(client, name), nil }
		break
	}
	return opts, nil
}

func list(v string, re *regexp.Regexp, flagName, what string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var out []string
	for _, s := range strings.Split(v, ",") {
		s = strings.TrimSpace(s)
		if !re.MatchString(s) {
			return nil, fmt.Errorf("%s: %q is not %s", flagName, s, what)
		}
		out = append(out, s)
	}
	return out, nil
}

// when reads a day or a time; a day given as the end means its end.
func when(v, flagName string, end bool) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		if end {
			t = t.AddDate(0, 0, 1)
		}
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q: want YYYY-MM-DD or an RFC 3339 time", flagName, v)
	}
	return t, nil
}
