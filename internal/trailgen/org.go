package trailgen

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// WriteOrgTrail writes an organization trail's S3 layout under dir, as
// CloudTrail delivers it: for each account, Region (the i-th at 10+i
// o'clock) and day, one gzipped log file of two RunInstances records half
// an hour apart, named for the hour after the first. It returns the files'
// paths relative to dir.
func WriteOrgTrail(dir string, accounts, regions []string, days []time.Time) ([]string, error) {
	var paths []string
	for _, account := range accounts {
		for i, region := range regions {
			for _, day := range days {
				at := day.Truncate(24 * time.Hour).Add(time.Duration(10+i) * time.Hour)
				var recs []map[string]any
				for n := range 2 {
					when := at.Add(time.Duration(n) * 30 * time.Minute)
					recs = append(recs, map[string]any{
						"eventVersion": "1.10", "eventTime": when.Format(time.RFC3339), "eventSource": "ec2.amazonaws.com",
						"eventName": "RunInstances", "awsRegion": region, "recipientAccountId": account,
						"eventID":   fmt.Sprintf("%s-%s-%s-%d", account, region, day.Format("20060102"), n),
						"eventType": "AwsApiCall", "readOnly": false, "sourceIPAddress": "198.51.100.7",
						"userIdentity":      map[string]any{"type": "IAMUser", "accountId": account, "arn": "arn:aws:iam::" + account + ":user/deployer", "userName": "deployer"},
						"requestParameters": map[string]any{"instanceType": "t3.micro"}, "responseElements": nil,
					})
				}
				var b bytes.Buffer
				zw := gzip.NewWriter(&b)
				if err := json.NewEncoder(zw).Encode(map[string]any{"Records": recs}); err != nil {
					return nil, err
				}
				if err := zw.Close(); err != nil {
					return nil, err
				}
				rel := fmt.Sprintf("AWSLogs/o-a1b2c3d4e5/%s/CloudTrail/%s/%s/%s_CloudTrail_%s_%sZ_%04x.json.gz",
					account, region, day.Format("2006/01/02"), account, region, at.Add(time.Hour).Format("20060102T1504"), len(paths))
				p := filepath.Join(dir, rel)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					return nil, err
				}
				if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
					return nil, err
				}
				paths = append(paths, rel)
			}
		}
	}
	return paths, nil
}
