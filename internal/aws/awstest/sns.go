package awstest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
)

// SNS's documented Publish limits, which the SNS endpoint enforces.
const (
	MaxSNSMessage = 256 << 10
	MaxSNSSubject = 100
)

// Notification is a message published to a topic.
type Notification struct {
	ID       string
	TopicArn string
	Subject  string
	Message  string
}

// SNS is a local SNS endpoint speaking the query protocol: Publish to
// topics created with CreateTopic, with faults on demand.
type SNS struct {
	// Faults decides which requests fail before they are handled.
	Faults *Faults

	server *httptest.Server

	mu        sync.Mutex
	topics    map[string]bool
	published []Notification
	calls     map[string]int
}

// NewSNS starts an SNS endpoint; Close stops it.
func NewSNS() *SNS {
	s := &SNS{Faults: &Faults{}, topics: map[string]bool{}, calls: map[string]int{}}
	s.server = httptest.NewServer(s)
	return s
}

// URL is the endpoint's base URL, for BaseEndpoint.
func (s *SNS) URL() string { return s.server.URL }

// Close stops the endpoint.
func (s *SNS) Close() { s.server.Close() }

// Client returns an SNS client of the SDK pointed at the endpoint.
func (s *SNS) Client(optFns ...func(*sns.Options)) *sns.Client {
	return sns.New(sns.Options{Region: Region, BaseEndpoint: aws.String(s.URL()), Credentials: Credentials()}, optFns...)
}

// Calls reports how many requests for op reached the endpoint.
func (s *SNS) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// CreateTopic creates the topic name and returns its ARN.
func (s *SNS) CreateTopic(name string) string {
	arn := "arn:aws:sns:" + Region + ":" + Account + ":" + name
	s.mu.Lock()
	s.topics[arn] = true
	s.mu.Unlock()
	return arn
}

// Published returns the messages published, in order.
func (s *SNS) Published() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.published...)
}

func (s *SNS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeSNSError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "request body too large")
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		writeSNSError(w, http.StatusBadRequest, "MalformedQueryString", "want a POST of a form-urlencoded query")
		return
	}
	op := form.Get("Action")
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()
	if f, ok := s.Faults.next(op); ok {
		if f.Code == "" {
			writeFault(w, f)
		} else {
			writeSNSError(w, f.Status, f.Code, f.Message)
		}
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/sns/aws4_request") {
		writeSNSError(w, http.StatusForbidden, "MissingAuthenticationToken", "Request is missing a SigV4 signature for sns")
		return
	}
	if form.Get("Version") != "2010-03-31" {
		writeSNSError(w, http.StatusBadRequest, "InvalidParameter", "Version "+form.Get("Version")+" is not 2010-03-31")
		return
	}
	if op != "Publish" {
		writeSNSError(w, http.StatusBadRequest, "InvalidAction", "awstest does not implement "+op)
		return
	}
	n, code, msg := s.publish(form)
	if code != "" {
		status := http.StatusBadRequest
		if code == "NotFound" {
			status = http.StatusNotFound
		}
		writeSNSError(w, status, code, msg)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"http://sns.amazonaws.com/doc/2010-03-31/ PublishResponse"`
		MessageID string   `xml:"PublishResult>MessageId"`
		RequestID string   `xml:"ResponseMetadata>RequestId"`
	}{MessageID: n.ID, RequestID: "awstest"})
}

func (s *SNS) publish(form url.Values) (Notification, string, string) {
	n := Notification{TopicArn: form.Get("TopicArn"), Subject: form.Get("Subject"), Message: form.Get("Message")}
	switch {
	case n.TopicArn == "" && form.Get("TargetArn") == "" && form.Get("PhoneNumber") == "":
		return n, "InvalidParameter", "Invalid parameter: TopicArn or TargetArn Reason: no value for required parameter"
	case n.TopicArn == "":
		return n, "InvalidParameter", "awstest publishes to topics only"
	case n.Message == "":
		return n, "InvalidParameter", "Invalid parameter: Empty message"
	case len(n.Message) > MaxSNSMessage:
		return n, "InvalidParameter", "Invalid parameter: Message too long"
	case !utf8.ValidString(n.Message):
		return n, "InvalidParameter", "Invalid parameter: Message must be UTF-8"
	case form.Has("Subject") && !validSubject(n.Subject):
		return n, "InvalidParameter", "Invalid parameter: Subject"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.topics[n.TopicArn] {
		return n, "NotFound", "Topic does not exist"
	}
	n.ID = fmt.Sprintf("%08x-0000-4000-8000-%012x", len(s.published)+1, len(s.published)+1)
	s.published = append(s.published, n)
	return n, "", ""
}

// validSubject is SNS's rule: ASCII text that begins with a letter, number
// or punctuation mark, with no line breaks or control characters, shorter
// than 100 characters.
func validSubject(subj string) bool {
	if subj == "" || len(subj) > MaxSNSSubject || subj[0] == ' ' {
		return false
	}
	for i := 0; i < len(subj); i++ {
		if c := subj[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

func writeSNSError(w http.ResponseWriter, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_ = xml.NewEncoder(w).Encode(struct {
		XMLName   xml.Name `xml:"http://sns.amazonaws.com/doc/2010-03-31/ ErrorResponse"`
		Type      string   `xml:"Error>Type"`
		Code      string   `xml:"Error>Code"`
		Message   string   `xml:"Error>Message"`
		RequestID string   `xml:"RequestId"`
	}{Type: typ, Code: code, Message: msg, RequestID: "awstest"})
}
