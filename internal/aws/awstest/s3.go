package awstest

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// S3's limits the S3 endpoint enforces.
const (
	MaxS3Key      = 1024
	maxS3ListKeys = 1000
)

// Object is an object an S3 bucket holds.
type Object struct {
	Key          string
	Body         []byte
	ContentType  string
	Metadata     map[string]string
	ETag         string
	LastModified time.Time
}

// S3 is a local S3 endpoint speaking the REST-XML protocol with path-style
// addressing: PutObject (plain or aws-chunked bodies, with their checksums
// verified), GetObject, HeadObject and ListObjectsV2 on buckets created
// with CreateBucket, with faults on demand (operations named as the API
// names them).
type S3 struct {
	// Faults decides which requests fail before they are handled.
	Faults *Faults

	server *httptest.Server

	mu      sync.Mutex
	buckets map[string]map[string]*Object
	calls   map[string]int
}

// NewS3 starts an S3 endpoint; Close stops it.
func NewS3() *S3 {
	s := &S3{Faults: &Faults{}, buckets: map[string]map[string]*Object{}, calls: map[string]int{}}
	s.server = httptest.NewServer(s)
	return s
}

// URL is the endpoint's base URL, for BaseEndpoint (with UsePathStyle).
func (s *S3) URL() string { return s.server.URL }

// Close stops the endpoint.
func (s *S3) Close() { s.server.Close() }

// Client returns an S3 client of the SDK pointed at the endpoint, with
// path-style addressing.
func (s *S3) Client(optFns ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{Region: Region, BaseEndpoint: aws.String(s.URL()), Credentials: Credentials(), UsePathStyle: true}, optFns...)
}

// Calls reports how many requests for op reached the endpoint.
func (s *S3) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// CreateBucket creates an empty bucket; creating it again changes nothing.
func (s *S3) CreateBucket(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[name] == nil {
		s.buckets[name] = map[string]*Object{}
	}
}

// Object returns the object bucket holds under key.
func (s *S3) Object(bucket, key string) (Object, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.buckets[bucket][key]
	if o == nil {
		return Object{}, false
	}
	return o.clone(), true
}

// Objects returns the objects of bucket, by key.
func (s *S3) Objects(bucket string) []Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Object
	for _, k := range sortedKeys(s.buckets[bucket]) {
		out = append(out, s.buckets[bucket][k].clone())
	}
	return out
}

// PutObject stores an object directly, as if another writer had.
func (s *S3) PutObject(bucket, key string, body []byte, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets[bucket] == nil {
		s.buckets[bucket] = map[string]*Object{}
	}
	sum := md5.Sum(body)
	s.buckets[bucket][key] = &Object{Key: key, Body: append([]byte(nil), body...), ETag: `"` + hex.EncodeToString(sum[:]) + `"`, LastModified: at.UTC()}
}

func (o *Object) clone() Object {
	c := *o
	c.Body = append([]byte(nil), o.Body...)
	c.Metadata = map[string]string{}
	for k, v := range o.Metadata {
		c.Metadata[k] = v
	}
	return c
}

type s3Error struct {
	status  int
	code    string
	message string
}

func (s *S3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.EscapedPath(), "/")
	bucketPart, keyPart, _ := strings.Cut(path, "/")
	bucket, _ := url.PathUnescape(bucketPart)
	key, err := url.PathUnescape(keyPart)
	if err != nil {
		writeS3Error(w, r, &s3Error{http.StatusBadRequest, "InvalidURI", "Couldn't parse the specified URI."})
		return
	}
	op := ""
	switch {
	case r.Method == http.MethodPut && key != "":
		op = "PutObject"
	case r.Method == http.MethodGet && key != "":
		op = "GetObject"
	case r.Method == http.MethodHead && key != "":
		op = "HeadObject"
	case r.Method == http.MethodGet && key == "" && r.URL.Query().Get("list-type") == "2":
		op = "ListObjectsV2"
	default:
		writeS3Error(w, r, &s3Error{http.StatusNotImplemented, "NotImplemented", "awstest does not implement " + r.Method + " " + r.URL.Path})
		return
	}
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()
	if f, ok := s.Faults.next(op); ok {
		if f.Code == "" {
			writeFault(w, f)
		} else {
			writeS3Error(w, r, &s3Error{f.Status, f.Code, f.Message})
		}
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/s3/aws4_request") {
		writeS3Error(w, r, &s3Error{http.StatusForbidden, "AccessDenied", "Request is missing a SigV4 signature for s3"})
		return
	}
	if len(key) > MaxS3Key {
		writeS3Error(w, r, &s3Error{http.StatusBadRequest, "KeyTooLongError", "Your key is too long"})
		return
	}
	s.mu.Lock()
	objects := s.buckets[bucket]
	s.mu.Unlock()
	if objects == nil {
		writeS3Error(w, r, &s3Error{http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist"})
		return
	}
	var e *s3Error
	switch op {
	case "PutObject":
		e = s.putObject(w, r, bucket, key)
	case "GetObject", "HeadObject":
		e = s.getObject(w, r, bucket, key)
	case "ListObjectsV2":
		e = s.listObjects(w, r, bucket)
	}
	if e != nil {
		writeS3Error(w, r, e)
	}
}

func writeS3Error(w http.ResponseWriter, r *http.Request, e *s3Error) {
	w.Header().Set("x-amz-request-id", "awstest")
	if r.Method == http.MethodHead {
		w.WriteHeader(e.status)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string   `xml:"Code"`
		Message   string   `xml:"Message"`
		RequestID string   `xml:"RequestId"`
	}{Code: e.code, Message: e.message, RequestID: "awstest"})
}

func (s *S3) putObject(w http.ResponseWriter, r *http.Request, bucket, key string) *s3Error {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return &s3Error{http.StatusBadRequest, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed object size."}
	}
	body, trailers := raw, http.Header{}
	sha := r.Header.Get("X-Amz-Content-Sha256")
	if strings.HasPrefix(sha, "STREAMING-") || strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		body, trailers, err = decodeChunked(raw)
		if err != nil {
			return &s3Error{http.StatusBadRequest, "IncompleteBody", "aws-chunked body: " + err.Error()}
		}
		if n, err := strconv.Atoi(r.Header.Get("X-Amz-Decoded-Content-Length")); err != nil || n != len(body) {
			return &s3Error{http.StatusBadRequest, "IncompleteBody", fmt.Sprintf("x-amz-decoded-content-length %q, body of %d bytes", r.Header.Get("X-Amz-Decoded-Content-Length"), len(body))}
		}
	} else if sha != "" && sha != "UNSIGNED-PAYLOAD" {
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != sha {
			return &s3Error{http.StatusBadRequest, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."}
		}
	}
	if m := r.Header.Get("Content-MD5"); m != "" {
		sum := md5.Sum(body)
		if base64.StdEncoding.EncodeToString(sum[:]) != m {
			return &s3Error{http.StatusBadRequest, "BadDigest", "The Content-MD5 you specified did not match what we received."}
		}
	}
	for _, h := range []http.Header{r.Header, trailers} {
		if e := checkChecksums(h, body); e != nil {
			return e
		}
	}
	sum := md5.Sum(body)
	o := &Object{
		Key: key, Body: body, ContentType: r.Header.Get("Content-Type"), Metadata: map[string]string{},
		ETag: `"` + hex.EncodeToString(sum[:]) + `"`, LastModified: time.Now().UTC().Truncate(time.Second),
	}
	for k, v := range r.Header {
		if name, ok := strings.CutPrefix(strings.ToLower(k), "x-amz-meta-"); ok && len(v) > 0 {
			o.Metadata[name] = v[0]
		}
	}
	s.mu.Lock()
	if cur := s.buckets[bucket][key]; r.Header.Get("If-None-Match") == "*" && cur != nil {
		s.mu.Unlock()
		return &s3Error{http.StatusPreconditionFailed, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold"}
	}
	s.buckets[bucket][key] = o
	s.mu.Unlock()
	w.Header().Set("ETag", o.ETag)
	w.Header().Set("x-amz-request-id", "awstest")
	w.WriteHeader(http.StatusOK)
	return nil
}

// checkChecksums verifies the x-amz-checksum-* values h holds for body.
func checkChecksums(h http.Header, body []byte) *s3Error {
	algs := map[string]func() hash.Hash{
		"X-Amz-Checksum-Crc32":  func() hash.Hash { return crc32.NewIEEE() },
		"X-Amz-Checksum-Crc32c": func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) },
		"X-Amz-Checksum-Sha1":   sha1.New,
		"X-Amz-Checksum-Sha256": sha256.New,
	}
	for name, newHash := range algs {
		want := h.Get(name)
		if want == "" {
			continue
		}
		sum := newHash()
		sum.Write(body)
		if got := base64.StdEncoding.EncodeToString(sum.Sum(nil)); got != want {
			return &s3Error{http.StatusBadRequest, "BadDigest", fmt.Sprintf("The %s you specified did not match the calculated checksum.", strings.ToLower(name))}
		}
	}
	return nil
}

// decodeChunked reads an aws-chunked body: hex-size[;chunk-signature=...]
// CRLF data CRLF ..., a zero-size chunk, then trailer lines.
func decodeChunked(raw []byte) ([]byte, http.Header, error) {
	br := bufio.NewReader(bytes.NewReader(raw))
	var body []byte
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, nil, fmt.Errorf("chunk header: %w", err)
		}
		sizeHex, _, _ := strings.Cut(strings.TrimRight(line, "\r\n"), ";")
		size, err := strconv.ParseInt(sizeHex, 16, 64)
		if err != nil || size < 0 || size > maxBody {
			return nil, nil, fmt.Errorf("chunk size %q", sizeHex)
		}
		if size == 0 {
			break
		}
		chunk := make([]byte, size)
		if _, err := io.ReadFull(br, chunk); err != nil {
			return nil, nil, fmt.Errorf("chunk of %d bytes: %w", size, err)
		}
		body = append(body, chunk...)
		if crlf, err := br.ReadString('\n'); err != nil || crlf != "\r\n" {
			return nil, nil, fmt.Errorf("chunk not ended by CRLF")
		}
	}
	trailers := http.Header{}
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				return nil, nil, fmt.Errorf("trailer %q", line)
			}
			trailers.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		if err != nil {
			break
		}
	}
	return body, trailers, nil
}

func (s *S3) getObject(w http.ResponseWriter, r *http.Request, bucket, key string) *s3Error {
	s.mu.Lock()
	o := s.buckets[bucket][key]
	var c Object
	if o != nil {
		c = o.clone()
	}
	s.mu.Unlock()
	if o == nil {
		return &s3Error{http.StatusNotFound, "NoSuchKey", "The specified key does not exist."}
	}
	h := w.Header()
	h.Set("ETag", c.ETag)
	h.Set("Last-Modified", c.LastModified.Format(http.TimeFormat))
	h.Set("Content-Length", strconv.Itoa(len(c.Body)))
	h.Set("x-amz-request-id", "awstest")
	if c.ContentType != "" {
		h.Set("Content-Type", c.ContentType)
	}
	for k, v := range c.Metadata {
		h.Set("x-amz-meta-"+k, v)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(c.Body)
	}
	return nil
}

func (s *S3) listObjects(w http.ResponseWriter, r *http.Request, bucket string) *s3Error {
	q := r.URL.Query()
	prefix, after := q.Get("prefix"), q.Get("start-after")
	if tok := q.Get("continuation-token"); tok != "" {
		k, err := base64.StdEncoding.DecodeString(tok)
		if err != nil {
			return &s3Error{http.StatusBadRequest, "InvalidArgument", "The continuation token provided is incorrect"}
		}
		after = string(k)
	}
	maxKeys := maxS3ListKeys
	if v := q.Get("max-keys"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return &s3Error{http.StatusBadRequest, "InvalidArgument", "Provided max-keys not an integer or within integer range"}
		}
		maxKeys = min(n, maxS3ListKeys)
	}
	s.mu.Lock()
	var keys []string
	for k := range s.buckets[bucket] {
		if strings.HasPrefix(k, prefix) && k > after {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	type content struct {
		Key          string `xml:"Key"`
		LastModified string `xml:"LastModified"`
		ETag         string `xml:"ETag"`
		Size         int    `xml:"Size"`
		StorageClass string `xml:"StorageClass"`
	}
	res := struct {
		XMLName   xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
		Name      string    `xml:"Name"`
		Prefix    string    `xml:"Prefix"`
		KeyCount  int       `xml:"KeyCount"`
		MaxKeys   int       `xml:"MaxKeys"`
		Truncated bool      `xml:"IsTruncated"`
		Contents  []content `xml:"Contents"`
		Next      string    `xml:"NextContinuationToken,omitempty"`
	}{Name: bucket, Prefix: prefix, MaxKeys: maxKeys}
	for i, k := range keys {
		if i == maxKeys {
			res.Truncated = true
			res.Next = base64.StdEncoding.EncodeToString([]byte(keys[i-1]))
			break
		}
		o := s.buckets[bucket][k]
		res.Contents = append(res.Contents, content{Key: k, LastModified: o.LastModified.Format("2006-01-02T15:04:05.000Z"), ETag: o.ETag, Size: len(o.Body), StorageClass: "STANDARD"})
	}
	s.mu.Unlock()
	res.KeyCount = len(res.Contents)
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("x-amz-request-id", "awstest")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(res)
	return nil
}
