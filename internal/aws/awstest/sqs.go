package awstest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SQS's documented limits, which the SQS endpoint enforces.
const (
	// MaxSQSMessage bounds a message: its body and attributes together.
	MaxSQSMessage        = 256 << 10
	MaxSQSBatchEntries   = 10
	MaxSQSVisibility     = 12 * time.Hour
	MaxSQSWait           = 20 * time.Second
	defaultSQSVisibility = 30 * time.Second
)

// MessageAttribute is a message attribute as SQS keeps it.
type MessageAttribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

// Message is a message an SQS queue holds.
type Message struct {
	ID         string
	Body       string
	Attributes map[string]MessageAttribute
	// System holds the system attributes SQS sets, such as
	// DeadLetterQueueSourceArn on a message a redrive policy moved.
	System       map[string]string
	Sent         time.Time
	ReceiveCount int
}

// SQS is a local SQS endpoint speaking the JSON 1.0 protocol the SDK
// uses: queues with visibility timeouts, long polling, batches, redrive
// policies (a message received more than maxReceiveCount times moves to
// the dead-letter queue) and message MD5s, with faults on demand.
type SQS struct {
	// Faults decides which requests fail before they are handled.
	Faults *Faults

	server *httptest.Server

	mu     sync.Mutex
	queues map[string]*sqsQueue // by name
	offset time.Duration
	nextID int64
	calls  map[string]int
	wake   chan struct{} // closed and replaced whenever a message may have become available
}

type sqsQueue struct {
	name    string
	attrs   map[string]string
	created time.Time
	msgs    []*sqsMessage
}

type sqsMessage struct {
	Message
	firstReceive time.Time
	visibleAt    time.Time
	receipt      string
}

// NewSQS starts an SQS endpoint; Close stops it.
func NewSQS() *SQS {
	s := &SQS{Faults: &Faults{}, queues: map[string]*sqsQueue{}, calls: map[string]int{}, wake: make(chan struct{})}
	s.server = httptest.NewServer(s)
	return s
}

// URL is the endpoint's base URL, for BaseEndpoint.
func (s *SQS) URL() string { return s.server.URL }

// Close stops the endpoint.
func (s *SQS) Close() { s.server.Close() }

// Client returns an SQS client of the SDK pointed at the endpoint.
func (s *SQS) Client(optFns ...func(*sqs.Options)) *sqs.Client {
	return sqs.New(sqs.Options{Region: Region, BaseEndpoint: aws.String(s.URL()), Credentials: Credentials()}, optFns...)
}

// Calls reports how many requests for op reached the endpoint.
func (s *SQS) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Advance moves the endpoint's clock forward, so that visibility timeouts
// run out without waiting.
func (s *SQS) Advance(d time.Duration) {
	s.mu.Lock()
	s.offset += d
	s.notify()
	s.mu.Unlock()
}

// CreateQueue creates the queue name with attrs (as the API takes them,
// e.g. "VisibilityTimeout", "RedrivePolicy") and returns its URL. Creating
// it again changes nothing.
func (s *SQS) CreateQueue(name string, attrs map[string]string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.createQueue(name, attrs); err != nil {
		return "", err
	}
	return s.queueURL(name), nil
}

// QueueURL is the URL of the queue name.
func (s *SQS) QueueURL(name string) string { return s.queueURL(name) }

// QueueARN is the ARN of the queue name.
func QueueARN(name string) string { return "arn:aws:sqs:" + Region + ":" + Account + ":" + name }

// Send puts a message on the queue name as a producer would, e.g. the
// failed event a Lambda function or an EventBridge target leaves in a
// dead-letter queue, with its error attributes.
func (s *SQS) Send(name, body string, attrs map[string]MessageAttribute) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return "", fmt.Errorf("send to %s: no such queue", name)
	}
	m := s.newMessage(body, attrs, 0)
	q.msgs = append(q.msgs, m)
	s.notify()
	return m.ID, nil
}

// Messages returns the messages the queue name holds, visible or not, in
// the order they arrived.
func (s *SQS) Messages(name string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[name]
	if q == nil {
		return nil
	}
	out := make([]Message, len(q.msgs))
	for i, m := range q.msgs {
		out[i] = m.clone()
	}
	return out
}

func (m *sqsMessage) clone() Message {
	c := m.Message
	c.Attributes = map[string]MessageAttribute{}
	for k, v := range m.Attributes {
		v.BinaryValue = slices.Clone(v.BinaryValue)
		c.Attributes[k] = v
	}
	c.System = map[string]string{}
	for k, v := range m.System {
		c.System[k] = v
	}
	return c
}

func (s *SQS) now() time.Time { return time.Now().Add(s.offset).UTC() }

// notify wakes long polls; the caller holds s.mu.
func (s *SQS) notify() {
	close(s.wake)
	s.wake = make(chan struct{})
}

func (s *SQS) queueURL(name string) string { return s.server.URL + "/" + Account + "/" + name }

// queueOf finds the queue a QueueUrl names; the caller holds s.mu.
func (s *SQS) queueOf(url *string) (*sqsQueue, *apiError) {
	if url == nil || *url == "" {
		return nil, sqsError(http.StatusBadRequest, "MissingParameter", "AWS.SimpleQueueService.MissingParameter", "The request must contain the parameter QueueUrl.")
	}
	name := (*url)[strings.LastIndex(*url, "/")+1:]
	q := s.queues[name]
	if q == nil || !strings.HasSuffix(*url, "/"+Account+"/"+name) {
		return nil, sqsError(http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
	}
	return q, nil
}

func (s *SQS) createQueue(name string, attrs map[string]string) *apiError {
	if name == "" || len(name) > 80 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		return sqsInvalid("Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length")
	}
	if strings.HasSuffix(name, ".fifo") {
		return sqsInvalid("awstest does not implement FIFO queues")
	}
	for k, v := range attrs {
		if err := checkQueueAttribute(k, v); err != nil {
			return err
		}
	}
	if q := s.queues[name]; q != nil {
		for k, v := range attrs {
			if q.attrs[k] != v {
				return sqsError(http.StatusBadRequest, "QueueNameExists", "QueueAlreadyExists", "A queue already exists with the same name and a different value for attribute "+k)
			}
		}
		return nil
	}
	q := &sqsQueue{name: name, attrs: map[string]string{"VisibilityTimeout": "30"}, created: s.now()}
	for k, v := range attrs {
		q.attrs[k] = v
	}
	s.queues[name] = q
	return nil
}

func checkQueueAttribute(k, v string) *apiError {
	switch k {
	case "VisibilityTimeout":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > int(MaxSQSVisibility/time.Second) {
			return sqsInvalid("Invalid value for the parameter VisibilityTimeout.")
		}
	case "RedrivePolicy":
		if _, _, err := redrivePolicy(v); err != nil {
			return sqsInvalid("Value " + v + " for parameter RedrivePolicy is invalid. Reason: " + err.Error())
		}
	case "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds",
		"SqsManagedSseEnabled", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds", "Policy", "RedriveAllowPolicy":
	default:
		return sqsError(http.StatusBadRequest, "InvalidAttributeName", "InvalidAttributeName", "Unknown Attribute "+k+".")
	}
	return nil
}

// redrivePolicy reads a RedrivePolicy attribute.
func redrivePolicy(v string) (target string, maxReceives int, err error) {
	var p struct {
		Target string          `json:"deadLetterTargetArn"`
		Max    json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(v), &p); err != nil {
		return "", 0, errors.New("not JSON")
	}
	n, err := strconv.Atoi(strings.Trim(string(p.Max), `"`))
	if err != nil || n < 1 || n > 1000 {
		return "", 0, errors.New("maxReceiveCount must be 1 to 1000")
	}
	if !strings.HasPrefix(p.Target, "arn:aws:sqs:") {
		return "", 0, errors.New("deadLetterTargetArn is not an SQS queue ARN")
	}
	return p.Target, n, nil
}

func (s *SQS) newMessage(body string, attrs map[string]MessageAttribute, delay time.Duration) *sqsMessage {
	s.nextID++
	now := s.now()
	return &sqsMessage{
		Message: Message{
			ID:   fmt.Sprintf("%08x-0000-4000-8000-%012x", s.nextID>>48, s.nextID&0xffffffffffff),
			Body: body, Attributes: attrs,
			System: map[string]string{"SenderId": "AIDAAWSTEST", "SentTimestamp": strconv.FormatInt(now.UnixMilli(), 10)},
			Sent:   now,
		},
		visibleAt: now.Add(delay),
	}
}

func (s *SQS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if !ok || r.Method != http.MethodPost {
		writeSQSError(w, sqsError(http.StatusBadRequest, "UnknownOperationException", "InvalidAction", "unknown target "+r.Header.Get("X-Amz-Target")))
		return
	}
	s.mu.Lock()
	s.calls[op]++
	s.mu.Unlock()
	if f, ok := s.Faults.next(op); ok {
		if f.Code == "" {
			writeFault(w, f)
		} else {
			writeSQSError(w, sqsError(f.Status, f.Code, f.Code, f.Message))
		}
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.0" {
		writeSQSError(w, sqsError(http.StatusBadRequest, "SerializationException", "SerializationException", fmt.Sprintf("Content-Type %q, want application/x-amz-json-1.0", ct)))
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/sqs/aws4_request") {
		writeSQSError(w, sqsError(http.StatusForbidden, "MissingAuthenticationToken", "MissingAuthenticationToken", "Request is missing a SigV4 signature for sqs"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeSQSError(w, sqsError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "RequestEntityTooLarge", err.Error()))
		return
	}
	var out any
	var apiErr *apiError
	switch op {
	case "CreateQueue":
		out, apiErr = s.opCreateQueue(body)
	case "GetQueueUrl":
		out, apiErr = s.opGetQueueURL(body)
	case "GetQueueAttributes":
		out, apiErr = s.opGetQueueAttributes(body)
	case "SetQueueAttributes":
		out, apiErr = s.opSetQueueAttributes(body)
	case "ListDeadLetterSourceQueues":
		out, apiErr = s.opListDeadLetterSourceQueues(body)
	case "SendMessage":
		out, apiErr = s.opSendMessage(body)
	case "SendMessageBatch":
		out, apiErr = s.opSendMessageBatch(body)
	case "ReceiveMessage":
		out, apiErr = s.opReceiveMessage(r.Context(), body)
	case "DeleteMessage":
		out, apiErr = s.opDeleteMessage(body)
	case "DeleteMessageBatch":
		out, apiErr = s.opDeleteMessageBatch(body)
	case "ChangeMessageVisibility":
		out, apiErr = s.opChangeVisibility(body)
	case "ChangeMessageVisibilityBatch":
		out, apiErr = s.opChangeVisibilityBatch(body)
	default:
		apiErr = sqsError(http.StatusBadRequest, "UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "awstest does not implement "+op)
	}
	if apiErr != nil {
		writeSQSError(w, apiErr)
		return
	}
	data, err := json.Marshal(out)
	if err != nil {
		writeSQSError(w, sqsError(http.StatusInternalServerError, "InternalFailure", "InternalFailure", err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", "awstest")
	_, _ = w.Write(data)
}

// sqsError is an SQS error: code is the JSON protocol's __type, queryCode
// the code the x-amzn-query-error header carries for query-compatible
// clients.
func sqsError(status int, code, queryCode, msg string) *apiError {
	return &apiError{status: status, code: code, message: msg, fields: map[string]any{"queryCode": queryCode}}
}

func sqsInvalid(msg string) *apiError {
	return sqsError(http.StatusBadRequest, "InvalidParameterValue", "InvalidParameterValue", msg)
}

func writeSQSError(w http.ResponseWriter, e *apiError) {
	qc, _ := e.fields["queryCode"].(string)
	if qc == "" {
		qc = e.code
	}
	fault := "Sender"
	if e.status >= 500 {
		fault = "Receiver"
	}
	data, _ := json.Marshal(map[string]string{"__type": "com.amazonaws.sqs#" + e.code, "message": e.message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", "awstest")
	w.Header().Set("x-amzn-query-error", qc+";"+fault)
	w.WriteHeader(e.status)
	_, _ = w.Write(data)
}

func (s *SQS) opCreateQueue(body []byte) (any, *apiError) {
	var req struct {
		QueueName  string            `json:"QueueName"`
		Attributes map[string]string `json:"Attributes"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.createQueue(req.QueueName, req.Attributes); err != nil {
		return nil, err
	}
	return map[string]string{"QueueUrl": s.queueURL(req.QueueName)}, nil
}

func (s *SQS) opGetQueueURL(body []byte) (any, *apiError) {
	var req struct {
		QueueName string `json:"QueueName"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues[req.QueueName] == nil {
		return nil, sqsError(http.StatusBadRequest, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "The specified queue does not exist.")
	}
	return map[string]string{"QueueUrl": s.queueURL(req.QueueName)}, nil
}

func (s *SQS) opGetQueueAttributes(body []byte) (any, *apiError) {
	var req struct {
		QueueURL       *string  `json:"QueueUrl"`
		AttributeNames []string `json:"AttributeNames"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, apiErr := s.queueOf(req.QueueURL)
	if apiErr != nil {
		return nil, apiErr
	}
	now := s.now()
	visible, hidden := 0, 0
	for _, m := range q.msgs {
		if m.visibleAt.After(now) {
			hidden++
		} else {
			visible++
		}
	}
	all := map[string]string{
		"QueueArn":                              QueueARN(q.name),
		"ApproximateNumberOfMessages":           strconv.Itoa(visible),
		"ApproximateNumberOfMessagesNotVisible": strconv.Itoa(hidden),
		"ApproximateNumberOfMessagesDelayed":    "0",
		"CreatedTimestamp":                      strconv.FormatInt(q.created.Unix(), 10),
	}
	for k, v := range q.attrs {
		all[k] = v
	}
	out := map[string]string{}
	for _, n := range req.AttributeNames {
		if n == "All" {
			out = all
			break
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return map[string]any{"Attributes": out}, nil
}

func (s *SQS) opSetQueueAttributes(body []byte) (any, *apiError) {
	var req struct {
		QueueURL   *string           `json:"QueueUrl"`
		Attributes map[string]string `json:"Attributes"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, apiErr := s.queueOf(req.QueueURL)
	if apiErr != nil {
		return nil, apiErr
	}
	for k, v := range req.Attributes {
		if err := checkQueueAttribute(k, v); err != nil {
			return nil, err
		}
	}
	for k, v := range req.Attributes {
		q.attrs[k] = v
	}
	return map[string]any{}, nil
}

func (s *SQS) opListDeadLetterSourceQueues(body []byte) (any, *apiError) {
	var req struct {
		QueueURL *string `json:"QueueUrl"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, apiErr := s.queueOf(req.QueueURL)
	if apiErr != nil {
		return nil, apiErr
	}
	urls := []string{}
	for _, name := range sortedKeys(s.queues) {
		if target, _, err := redrivePolicy(s.queues[name].attrs["RedrivePolicy"]); err == nil && target == QueueARN(q.name) {
			urls = append(urls, s.queueURL(name))
		}
	}
	return map[string]any{"queueUrls": urls}, nil
}

type sendEntry struct {
	ID                string                      `json:"Id"`
	MessageBody       *string                     `json:"MessageBody"`
	DelaySeconds      int                         `json:"DelaySeconds"`
	MessageAttributes map[string]MessageAttribute `json:"MessageAttributes"`
}

// checkMessage returns what SQS says of a message it refuses.
func checkMessage(body *string, attrs map[string]MessageAttribute, delay int) *apiError {
	if body == nil || *body == "" {
		return sqsError(http.StatusBadRequest, "MissingParameter", "AWS.SimpleQueueService.MissingParameter", "The request must contain the parameter MessageBody.")
	}
	size := len(*body)
	for k, a := range attrs {
		switch {
		case k == "" || len(k) > 256:
			return sqsInvalid("Message attribute name must be 1 to 256 characters.")
		case strings.HasPrefix(a.DataType, "String") || strings.HasPrefix(a.DataType, "Number"):
			if a.StringValue == "" {
				return sqsInvalid("Message attribute " + k + " must contain a non-empty value of type " + a.DataType)
			}
		case strings.HasPrefix(a.DataType, "Binary"):
			if len(a.BinaryValue) == 0 {
				return sqsInvalid("Message attribute " + k + " must contain a non-empty value of type " + a.DataType)
			}
		default:
			return sqsInvalid("The type of message attribute " + k + " is invalid: " + a.DataType)
		}
		size += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	if len(attrs) > 10 {
		return sqsInvalid("Number of message attributes cannot exceed 10.")
	}
	if size > MaxSQSMessage {
		return sqsInvalid(fmt.Sprintf("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", MaxSQSMessage))
	}
	for _, r := range *body {
		if !(r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000) || r == utf8.RuneError {
			return sqsError(http.StatusBadRequest, "InvalidMessageContents", "InvalidMessageContents", "Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
		}
	}
	if delay < 0 || delay > 900 {
		return sqsInvalid("Value for parameter DelaySeconds is invalid. Reason: must be 0 to 900.")
	}
	return nil
}

func (s *SQS) opSendMessage(body []byte) (any, *apiError) {
	var req struct {
		QueueURL *string `json:"QueueUrl"`
		sendEntry
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := checkMessage(req.MessageBody, req.MessageAttributes, req.DelaySeconds); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, apiErr := s.queueOf(req.QueueURL)
	if apiErr != nil {
		return nil, apiErr
	}
	m := s.newMessage(*req.MessageBody, req.MessageAttributes, time.Duration(req.DelaySeconds)*time.Second)
	q.msgs = append(q.msgs, m)
	s.notify()
	out := map[string]string{"MessageId": m.ID, "MD5OfMessageBody": md5Hex(m.Body)}
	if len(m.Attributes) > 0 {
		out["MD5OfMessageAttributes"] = AttributesMD5(m.Attributes)
	}
	return out, nil
}

func (s *SQS) opSendMessageBatch(body []byte) (any, *apiError) {
	var req struct {
		QueueURL *string     `json:"QueueUrl"`
		Entries  []sendEntry `json:"Entries"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := checkBatch(len(req.Entries), func(i int) string { return req.Entries[i].ID }); err != nil {
		return nil, err
	}
	total := 0
	for _, e := range req.Entries {
		if e.MessageBody != nil {
			total += len(*e.MessageBody)
		}
	}
	if total > MaxSQSMessage {
		return nil, sqsError(http.StatusBadRequest, "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", "Batch requests cannot be longer than 262144 bytes.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, apiErr := s.queueOf(req.QueueURL)
	if apiErr != nil {
		return nil, apiErr
	}
	ok, failed := []map[string]string{}, []map[string]any{}
	for _, e := range req.Entries {
		if err := checkMessage(e.MessageBody, e.MessageAttributes, e.DelaySeconds); err != nil {
			failed = append(failed, map[string]any{"Id": e.ID, "Code": err.code, "Message": err.message, "SenderFault": true})
			continue
		}
		m := s.newMessage(*e.MessageBody, e.MessageAttributes, time.Duration(e.DelaySeconds)*time.Second)
		q.msgs = append(q.msgs, m)
		r := map[string]string{"Id": e.ID, "MessageId": m.ID, "MD5OfMessageBody": md5Hex(m.Body)}
		if len(m.Attributes) > 0 {
			r["MD5OfMessageAttributes"] = AttributesMD5(m.Attributes)
		}
		ok = append(ok, r)
	}
	s.notify()
	return map[string]any{"Successful": ok, "Failed": failed}, nil
}

func checkBatch(n int, id func(int) string) *apiError {
	if n == 0 {
		return sqsError(http.StatusBadRequest, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", "There should be at least one entry in the request.")
	}
	if n > MaxSQSBatchEntries {
		return sqsError(http.StatusBadRequest, "TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", fmt.Sprintf("Maximum number of entries per request are %d. You have sent %d.", MaxSQSBatchEntries, n))
	}
	seen := map[string]bool{}
	for i := range n {
		v := id(i)
		if v == "" || len(v) > 80 || strings.Trim(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return sqsError(http.StatusBadRequest, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[v] {
			return sqsError(http.StatusBadRequest, "BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Id "+v+" repeated.")
		}
		seen[v] = true
	}
	return nil
}

func (s *SQS) opReceiveMessage(ctx context.Context, body []byte) (any, *apiError) {
	var req struct {
		QueueURL              *string  `json:"QueueUrl"`
		MaxNumberOfMessages   *int     `json:"MaxNumberOfMessages"`
		VisibilityTimeout     *int     `json:"VisibilityTimeout"`
		WaitTimeSeconds       *int     `json:"WaitTimeSeconds"`
		AttributeNames        []string `json:"AttributeNames"`
		SystemAttributeNames  []string `json:"MessageSystemAttributeNames"`
		MessageAttributeNames []string `json:"MessageAttributeNames"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	n := 1
	if req.MaxNumberOfMessages != nil {
		n = *req.MaxNumberOfMessages
	}
	if n < 1 || n > MaxSQSBatchEntries {
		return nil, sqsInvalid(fmt.Sprintf("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", n))
	}
	wait := time.Duration(0)
	if req.WaitTimeSeconds != nil {
		wait = time.Duration(*req.WaitTimeSeconds) * time.Second
		if wait < 0 || wait > MaxSQSWait {
			return nil, sqsInvalid(fmt.Sprintf("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *req.WaitTimeSeconds))
		}
	}
	if req.VisibilityTimeout != nil && (*req.VisibilityTimeout < 0 || time.Duration(*req.VisibilityTimeout)*time.Second > MaxSQSVisibility) {
		return nil, sqsInvalid("Value for parameter VisibilityTimeout is invalid.")
	}
	deadline := time.Now().Add(wait)
	for {
		s.mu.Lock()
		q, apiErr := s.queueOf(req.QueueURL)
		if apiErr != nil {
			s.mu.Unlock()
			return nil, apiErr
		}
		got := s.receive(q, n, req.VisibilityTimeout)
		wake := s.wake
		if len(got) > 0 || !time.Now().Before(deadline) {
			msgs := make([]map[string]any, len(got))
			for i, m := range got {
				msgs[i] = wireMessage(m, append(req.AttributeNames, req.SystemAttributeNames...), req.MessageAttributeNames)
			}
			s.mu.Unlock()
			return map[string]any{"Messages": msgs}, nil
		}
		s.mu.Unlock()
		select {
		case <-wake:
		case <-time.After(min(time.Until(deadline), 100*time.Millisecond)):
		case <-ctx.Done():
			return nil, sqsError(http.StatusBadRequest, "RequestCanceled", "RequestCanceled", "request canceled")
		}
	}
}

// receive takes up to n visible messages, moving those received too often
// to the queue's dead-letter queue; the caller holds s.mu.
func (s *SQS) receive(q *sqsQueue, n int, visibility *int) []*sqsMessage {
	now := s.now()
	vis := time.Duration(0)
	if v, err := strconv.Atoi(q.attrs["VisibilityTimeout"]); err == nil {
		vis = time.Duration(v) * time.Second
	}
	if visibility != nil {
		vis = time.Duration(*visibility) * time.Second
	}
	target, maxReceives, policyErr := redrivePolicy(q.attrs["RedrivePolicy"])
	var dlq *sqsQueue
	if policyErr == nil {
		dlq = s.queues[target[strings.LastIndex(target, ":")+1:]]
	}
	var got []*sqsMessage
	kept := q.msgs[:0]
	for _, m := range q.msgs {
		if len(got) >= n || m.visibleAt.After(now) {
			kept = append(kept, m)
			continue
		}
		if dlq != nil && m.ReceiveCount >= maxReceives {
			m.System["DeadLetterQueueSourceArn"] = QueueARN(q.name)
			m.ReceiveCount, m.firstReceive, m.visibleAt, m.receipt = 0, time.Time{}, now, ""
			dlq.msgs = append(dlq.msgs, m)
			continue
		}
		m.ReceiveCount++
		if m.firstReceive.IsZero() {
			m.firstReceive = now
		}
		m.visibleAt = now.Add(vis)
		m.receipt = "rh-" + m.ID + "-" + randomHex(8)
		got = append(got, m)
		kept = append(kept, m)
	}
	q.msgs = kept
	return got
}

func wireMessage(m *sqsMessage, systemNames, attrNames []string) map[string]any {
	out := map[string]any{"MessageId": m.ID, "ReceiptHandle": m.receipt, "Body": m.Body, "MD5OfBody": md5Hex(m.Body)}
	system := map[string]string{
		"ApproximateReceiveCount":          strconv.Itoa(m.ReceiveCount),
		"ApproximateFirstReceiveTimestamp": strconv.FormatInt(m.firstReceive.UnixMilli(), 10),
	}
	for k, v := range m.System {
		system[k] = v
	}
	sys := map[string]string{}
	for k, v := range system {
		if slices.Contains(systemNames, "All") || slices.Contains(systemNames, k) {
			sys[k] = v
		}
	}
	if len(sys) > 0 {
		out["Attributes"] = sys
	}
	attrs := map[string]MessageAttribute{}
	for k, v := range m.Attributes {
		for _, want := range attrNames {
			prefix, isPrefix := strings.CutSuffix(want, ".*")
			if want == "All" || want == ".*" || want == k || (isPrefix && strings.HasPrefix(k, prefix+".")) {
				attrs[k] = v
				break
			}
		}
	}
	if len(attrs) > 0 {
		out["MessageAttributes"] = attrs
		out["MD5OfMessageAttributes"] = AttributesMD5(attrs)
	}
	return out
}

// findReceipt finds the message a receipt handle names; nil when it is
// gone (deleting a deleted message succeeds). The caller holds s.mu.
func findReceipt(q *sqsQueue, handle string) (*sqsMessage, int, *apiError) {
	rest, ok := strings.CutPrefix(handle, "rh-")
	i := strings.LastIndex(rest, "-")
	if !ok || i < 0 {
		return nil, -1, sqsError(http.StatusBadRequest, "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "The input receipt handle \""+handle+"\" is not a valid receipt handle.")
	}
	id := rest[:i]
	for j, m := range q.msgs {
		if m.ID == id {
			return m, j, nil
		}
	}
	return nil, -1, nil
}

func (s *SQS) opDeleteMessage(body []byte) (any, *apiError) {
	return s.receiptOne(body, false, func(q *sqsQueue, e receiptEntry) *apiError { return s.delete(q, e.ReceiptHandle) })
}

// receiptOne applies one receipt handle's operation, as DeleteMessage and
// ChangeMessageVisibility take it; wake tells long polls that a message may
// have become visible.
func (s *SQS) receiptOne(body []byte, wake bool, apply func(*sqsQueue, receiptEntry) *apiError) (any, *apiError) {
	var req struct {
		QueueURL *string `json:"QueueUrl"`
		receiptEntry
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, apiErr := s.queueOf(req.QueueURL)
	if apiErr != nil {
		return nil, apiErr
	}
	if err := apply(q, req.receiptEntry); err != nil {
		return nil, err
	}
	if wake {
		s.notify()
	}
	return map[string]any{}, nil
}

func (s *SQS) delete(q *sqsQueue, handle string) *apiError {
	m, i, err := findReceipt(q, handle)
	if err != nil {
		return err
	}
	if m != nil {
		q.msgs = slices.Delete(q.msgs, i, i+1)
	}
	return nil
}

type receiptEntry struct {
	ID                string `json:"Id"`
	ReceiptHandle     string `json:"ReceiptHandle"`
	VisibilityTimeout int    `json:"VisibilityTimeout"`
}

func (s *SQS) opDeleteMessageBatch(body []byte) (any, *apiError) {
	return s.receiptBatch(body, func(q *sqsQueue, e receiptEntry) *apiError { return s.delete(q, e.ReceiptHandle) })
}

func (s *SQS) opChangeVisibilityBatch(body []byte) (any, *apiError) {
	return s.receiptBatch(body, func(q *sqsQueue, e receiptEntry) *apiError {
		return s.changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout)
	})
}

func (s *SQS) receiptBatch(body []byte, apply func(*sqsQueue, receiptEntry) *apiError) (any, *apiError) {
	var req struct {
		QueueURL *string        `json:"QueueUrl"`
		Entries  []receiptEntry `json:"Entries"`
	}
	if err := decode(body, &req); err != nil {
		return nil, err
	}
	if err := checkBatch(len(req.Entries), func(i int) string { return req.Entries[i].ID }); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	q, apiErr := s.queueOf(req.QueueURL)
	if apiErr != nil {
		return nil, apiErr
	}
	ok, failed := []map[string]string{}, []map[string]any{}
	for _, e := range req.Entries {
		if err := apply(q, e); err != nil {
			failed = append(failed, map[string]any{"Id": e.ID, "Code": err.code, "Message": err.message, "SenderFault": true})
			continue
		}
		ok = append(ok, map[string]string{"Id": e.ID})
	}
	s.notify()
	return map[string]any{"Successful": ok, "Failed": failed}, nil
}

func (s *SQS) opChangeVisibility(body []byte) (any, *apiError) {
	return s.receiptOne(body, true, func(q *sqsQueue, e receiptEntry) *apiError {
		return s.changeVisibility(q, e.ReceiptHandle, e.VisibilityTimeout)
	})
}

func (s *SQS) changeVisibility(q *sqsQueue, handle string, secs int) *apiError {
	if secs < 0 || time.Duration(secs)*time.Second > MaxSQSVisibility {
		return sqsInvalid("Value for parameter VisibilityTimeout is invalid.")
	}
	m, _, err := findReceipt(q, handle)
	if err != nil {
		return err
	}
	if m == nil || m.receipt != handle {
		return sqsError(http.StatusBadRequest, "MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "Message does not exist or is not available for visibility timeout change.")
	}
	m.visibleAt = s.now().Add(time.Duration(secs) * time.Second)
	return nil
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// AttributesMD5 is the MD5 SQS computes over message attributes: for each
// attribute by name, the length-prefixed name, data type, a transport
// byte (1 string, 2 binary) and the length-prefixed value.
func AttributesMD5(attrs map[string]MessageAttribute) string {
	var b bytes.Buffer
	field := func(v []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(v)))
		b.Write(v)
	}
	for _, k := range sortedKeys(attrs) {
		a := attrs[k]
		field([]byte(k))
		field([]byte(a.DataType))
		if strings.HasPrefix(a.DataType, "Binary") {
			b.WriteByte(2)
			field(a.BinaryValue)
		} else {
			b.WriteByte(1)
			field([]byte(a.StringValue))
		}
	}
	sum := md5.Sum(b.Bytes())
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
