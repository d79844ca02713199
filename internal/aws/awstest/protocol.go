// Package awstest runs local endpoints that speak the JSON protocols of the
// AWS services opsloop calls — Systems Manager (OpsCenter and Parameter
// Store) and EventBridge — and starts dynalite as a local DynamoDB, so the
// adapters are tested with the real SDK clients against real wire formats,
// with faults injected on demand.
//
// The endpoints keep their state in memory and run in-process
// (httptest servers); point an SDK client at one with its Client method or
// with BaseEndpoint set to URL and the static Credentials.
package awstest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Region is the region the test clients sign for.
const Region = "us-east-1"

// Account is the account id the endpoints report in ARNs.
const Account = "123456789012"

// Credentials returns the static credentials the test clients use. The
// endpoints check that requests are signed (SigV4, right service) but not
// the signature itself.
func Credentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDAWSTEST", SecretAccessKey: "awstest-secret", Source: "awstest"}, nil
	})
}

// maxBody bounds what an endpoint reads of one request.
const maxBody = 8 << 20

// apiError is an error response of the service.
type apiError struct {
	status  int
	code    string
	message string
	// fields are extra members of the modeled exception, e.g. OpsItemId.
	fields map[string]any
	// messageKey is the member name the service uses for the message.
	messageKey string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func validation(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: "ValidationException", message: fmt.Sprintf(format, args...)}
}

// operation handles one decoded request body and returns the response
// value to encode, or an error response.
type operation func(body []byte) (any, *apiError)

// signedOperation is an operation whose answer depends on who calls: it
// gets the access key id the request is signed with.
type signedOperation func(accessKey string, body []byte) (any, *apiError)

// endpoint is an awsJson1_1 service endpoint: POST / with the operation in
// X-Amz-Target, JSON in, JSON out, errors as {"__type": ...}.
type endpoint struct {
	server  *httptest.Server
	prefix  string // target prefix, e.g. "AmazonSSM."
	signing string // SigV4 service name, e.g. "ssm"
	ops     map[string]operation
	// signedOps take the caller's access key id besides the body.
	signedOps map[string]signedOperation
	faults    *Faults

	mu    sync.Mutex
	calls map[string]int
}

func newEndpoint(prefix, signing string, faults *Faults) *endpoint {
	e := &endpoint{prefix: prefix, signing: signing, ops: map[string]operation{}, signedOps: map[string]signedOperation{}, faults: faults, calls: map[string]int{}}
	e.server = httptest.NewServer(e)
	return e
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, e.prefix)
	if !ok || r.Method != http.MethodPost {
		writeError(w, &apiError{status: http.StatusBadRequest, code: "UnknownOperationException", message: fmt.Sprintf("unknown target %q", target)})
		return
	}
	e.mu.Lock()
	e.calls[op]++
	e.mu.Unlock()

	if f, ok := e.faults.next(op); ok {
		writeFault(w, f)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeError(w, &apiError{status: http.StatusBadRequest, code: "SerializationException", message: fmt.Sprintf("Content-Type %q, want application/x-amz-json-1.1", ct)})
		return
	}
	if auth := r.Header.Get("Authorization"); !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") || !strings.Contains(auth, "/"+e.signing+"/aws4_request") {
		writeError(w, &apiError{status: http.StatusBadRequest, code: "MissingAuthenticationTokenException", message: "Request is missing a SigV4 signature for " + e.signing})
		return
	}
	handle, ok := e.ops[op]
	if signed, isSigned := e.signedOps[op]; isSigned {
		key := accessKey(r.Header.Get("Authorization"))
		handle, ok = func(body []byte) (any, *apiError) { return signed(key, body) }, true
	}
	if !ok {
		writeError(w, &apiError{status: http.StatusBadRequest, code: "UnknownOperationException", message: "awstest does not implement " + op})
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeError(w, &apiError{status: http.StatusRequestEntityTooLarge, code: "RequestEntityTooLargeException", message: "request body too large"})
			return
		}
		writeError(w, &apiError{status: http.StatusBadRequest, code: "SerializationException", message: err.Error()})
		return
	}
	out, apiErr := handle(body)
	if apiErr != nil {
		writeError(w, apiErr)
		return
	}
	data, err := json.Marshal(out)
	if err != nil {
		writeError(w, &apiError{status: http.StatusInternalServerError, code: "InternalServerError", message: err.Error()})
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", "awstest")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// accessKey is the access key id of a SigV4 Authorization header:
// "... Credential=AKID/date/region/service/aws4_request, ...".
func accessKey(auth string) string {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"__type": e.code}
	for k, v := range e.fields {
		body[k] = v
	}
	key := e.messageKey
	if key == "" {
		key = "message"
	}
	body[key] = e.message
	data, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", "awstest")
	w.WriteHeader(e.status)
	_, _ = w.Write(data)
}

func writeFault(w http.ResponseWriter, f Fault) {
	if f.Code == "" {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(f.Status)
		_, _ = io.WriteString(w, "<html><body>"+f.Message+"</body></html>")
		return
	}
	writeError(w, &apiError{status: f.Status, code: f.Code, message: f.Message})
}

// decode reads a request body strictly enough to catch a client sending the
// wrong shape: the JSON must be an object of the known members' types.
func decode(body []byte, v any) *apiError {
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{status: http.StatusBadRequest, code: "SerializationException", message: err.Error()}
	}
	return nil
}

func (e *endpoint) callCount(op string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.calls[op]
}

func (e *endpoint) callCounts() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.calls))
	for k, v := range e.calls {
		out[k] = v
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
