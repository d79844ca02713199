package awstest

import (
	"math/rand/v2"
	"net/http"
	"sync"
)

// Fault is an error response an endpoint returns instead of handling a
// request, as the real service does when it throttles or fails.
type Fault struct {
	// Status is the HTTP status code.
	Status int
	// Code is the error's __type; empty sends a body that is not JSON, as a
	// load balancer in front of the service would.
	Code    string
	Message string
}

// The faults the services return most often. Throttling and 5xx are what
// an SDK's retryer must absorb.
var (
	Throttling          = Fault{Status: http.StatusBadRequest, Code: "ThrottlingException", Message: "Rate exceeded"}
	InternalServerError = Fault{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: "An internal error occurred"}
	InternalException   = Fault{Status: http.StatusInternalServerError, Code: "InternalException", Message: "An internal error occurred"}
	HTTP500             = Fault{Status: http.StatusInternalServerError, Message: "Internal Server Error"}
	HTTP503             = Fault{Status: http.StatusServiceUnavailable, Message: "Service Unavailable"}
)

// Faults decides which requests fail: first from scripted sequences, then
// at random with a configured probability. It is safe for concurrent use.
type Faults struct {
	mu     sync.Mutex
	script map[string][]Fault // by operation; "" applies to any operation
	rate   float64
	pool   []Fault
	rng    *rand.Rand
	only   map[string]bool
}

// Script makes the next requests for op (every operation when op is "")
// fail with faults, one each, in order. Scripts for the operation itself
// are used before those for any operation.
func (f *Faults) Script(op string, faults ...Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.script == nil {
		f.script = map[string][]Fault{}
	}
	f.script[op] = append(f.script[op], faults...)
}

// SetRate makes each request that no script fails fail with probability
// fraction, with a fault drawn from faults, reproducibly for a given seed.
// When ops are given only those operations fail. A fraction of 0 stops it.
func (f *Faults) SetRate(fraction float64, seed uint64, faults []Fault, ops ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rate, f.pool = fraction, append([]Fault(nil), faults...)
	f.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	f.only = nil
	if len(ops) > 0 {
		f.only = map[string]bool{}
		for _, op := range ops {
			f.only[op] = true
		}
	}
}

// Reset removes every script and the random rate.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script, f.rate, f.pool, f.only = nil, 0, nil, nil
}

// Pending reports how many scripted faults are still to be returned.
func (f *Faults) Pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, s := range f.script {
		n += len(s)
	}
	return n
}

// next returns the fault for a request to op, if it is to fail.
func (f *Faults) next(op string) (Fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, key := range []string{op, ""} {
		if s := f.script[key]; len(s) > 0 {
			f.script[key] = s[1:]
			return s[0], true
		}
	}
	if f.rate <= 0 || len(f.pool) == 0 || (f.only != nil && !f.only[op]) {
		return Fault{}, false
	}
	if f.rng.Float64() >= f.rate {
		return Fault{}, false
	}
	return f.pool[f.rng.IntN(len(f.pool))], true
}
