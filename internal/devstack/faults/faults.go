// Package faults is a proxy between the binaries and the AWS emulator that
// brings AWS's bad days to a test: per service and API, for as long as a rule
// is set and for a share of the calls, it answers with throttling errors in
// each service's own wire format, 500 or 503, adds latency, resets the
// connection, or accepts the request and never answers (a black hole).
package faults

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pubsub-app/pubsub/internal/devstack/awscalls"
)

// Kind is what a rule does to a call.
type Kind string

// The faults a rule can inject.
const (
	// Throttle answers with the service's throttling error: DynamoDB
	// ProvisionedThroughputExceededException, SQS ThrottlingException (JSON
	// protocol), SNS Throttling (query protocol).
	Throttle Kind = "throttle"
	// ThrottleAlt answers with the service's other throttling code: DynamoDB
	// ThrottlingException, SQS RequestThrottled (SNS has one: Throttling).
	ThrottleAlt Kind = "throttle-alt"
	// ServerError answers 500 InternalFailure; Unavailable 503 ServiceUnavailable.
	ServerError Kind = "500"
	Unavailable Kind = "503"
	// Latency holds the call for Rule.Delay, then forwards it.
	Latency Kind = "latency"
	// Reset closes the connection with a TCP reset, unanswered.
	Reset Kind = "reset"
	// BlackHole reads the request and never answers (until the proxy closes).
	BlackHole Kind = "blackhole"
)

// Rule says which calls get which fault.
type Rule struct {
	Service string   // sqs, sns, dynamodb; "" for any
	APIs    []string // e.g. ReceiveMessage; none for any
	// Callers limits the rule to the calls of these services (the SDK's app
	// id, which the dev tool sets to the service's name); none for any.
	Callers []string
	Kind    Kind
	// Share is the fraction of matching calls that get the fault (0 or 1: all).
	Share float64
	Delay time.Duration // for Latency
}

func (r Rule) matches(c awscalls.Call) bool {
	return (r.Service == "" || r.Service == c.Service) &&
		(len(r.APIs) == 0 || slices.Contains(r.APIs, c.API)) &&
		(len(r.Callers) == 0 || slices.Contains(r.Callers, c.Caller))
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	srv   *http.Server
	url   string
	proxy *httputil.ReverseProxy

	mu       sync.Mutex
	rules    []Rule
	injected map[Fault]int
	holes    []net.Conn
}

// Fault is one kind of fault injected into one caller's calls of one API:
// what the proxy counts, so a test can require its faults to have fired
// (a rule whose calls never reach the proxy injects nothing).
type Fault struct {
	Caller  string // the SDK app id ("" when none was set)
	Service string
	API     string
	Kind    Kind
}

// String is "caller service:API kind" ("service:API kind" without a caller).
func (f Fault) String() string {
	s := fmt.Sprintf("%s:%s %s", f.Service, f.API, f.Kind)
	if f.Caller != "" {
		s = f.Caller + " " + s
	}
	return s
}

// Start listens on a free loopback port and forwards to target, injecting
// the faults of the rules set with Set.
func Start(target string) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("fault proxy target %q: %w", target, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fault proxy: %w", err)
	}
	p := &Proxy{url: "http://" + l.Addr().String(), proxy: httputil.NewSingleHostReverseProxy(u), injected: map[Fault]int{}}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve)}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

// URL is the endpoint to give the processes.
func (p *Proxy) URL() string { return p.url }

// Set replaces the active rules (none: every call goes through untouched).
func (p *Proxy) Set(rules ...Rule) {
	p.mu.Lock()
	p.rules = slices.Clone(rules)
	p.mu.Unlock()
}

// Injected returns how many calls got each fault since the proxy started.
func (p *Proxy) Injected() map[Fault]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.injected)
}

// Close stops the proxy and drops the connections it holds in black holes.
func (p *Proxy) Close() error {
	p.mu.Lock()
	for _, c := range p.holes {
		c.Close()
	}
	p.holes = nil
	p.mu.Unlock()
	return p.srv.Close()
}

func (p *Proxy) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	call := awscalls.Parse(req, body)
	rule, ok := p.pick(call)
	if !ok {
		p.proxy.ServeHTTP(w, req)
		return
	}
	switch rule.Kind {
	case Latency:
		time.Sleep(rule.Delay)
		p.proxy.ServeHTTP(w, req)
	case Reset, BlackHole:
		hj, ok := w.(http.Hijacker)
		if !ok {
			http.Error(w, "cannot hijack", http.StatusInternalServerError)
			return
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if rule.Kind == Reset {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // close with RST, as a dropped connection does
			}
			conn.Close()
			return
		}
		p.mu.Lock()
		p.holes = append(p.holes, conn)
		p.mu.Unlock()
	default:
		writeError(w, call, rule.Kind)
	}
}

// pick returns the rule that applies to the call, if any, and counts it.
func (p *Proxy) pick(c awscalls.Call) (Rule, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.rules {
		if !r.matches(c) {
			continue
		}
		if r.Share > 0 && r.Share < 1 && rand.Float64() >= r.Share {
			continue // spared by this rule; a later one may still apply
		}
		p.injected[Fault{Caller: c.Caller, Service: c.Service, API: c.API, Kind: r.Kind}]++
		return r, true
	}
	return Rule{}, false
}

// writeError answers as the service itself would: the JSON protocol's
// __type for DynamoDB and SQS (with SQS's x-amzn-query-error header), the
// query protocol's XML ErrorResponse for SNS.
func writeError(w http.ResponseWriter, c awscalls.Call, kind Kind) {
	status, code, msg := http.StatusBadRequest, "", "Rate exceeded"
	switch kind {
	case Throttle, ThrottleAlt:
		switch c.Service {
		case "dynamodb":
			code, msg = "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
				"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."
			if kind == ThrottleAlt {
				code, msg = "com.amazonaws.dynamodb.v20120810#ThrottlingException", "Rate of requests exceeds the allowed throughput."
			}
		case "sqs":
			code = "com.amazon.coral.availability#ThrottlingException"
			if kind == ThrottleAlt {
				code = "com.amazonaws.sqs#RequestThrottled"
			}
		default:
			code = "Throttling"
		}
	case ServerError:
		status, code, msg = http.StatusInternalServerError, "InternalFailure", "We encountered an internal error. Please try again."
	case Unavailable:
		status, code, msg = http.StatusServiceUnavailable, "ServiceUnavailable", "Service Unavailable"
	}
	if c.Service == "sns" {
		code = code[strings.LastIndexByte(code, '#')+1:]
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>%08x-fault</RequestId></ErrorResponse>`,
			map[bool]string{true: "Sender", false: "Receiver"}[status < 500], code, msg, rand.Uint32())
		return
	}
	if c.Service == "sqs" {
		short := code[strings.LastIndexByte(code, '#')+1:]
		w.Header().Set("x-amzn-query-error", short+";"+map[bool]string{true: "Sender", false: "Receiver"}[status < 500])
	}
	if !strings.Contains(code, "#") && c.Service == "dynamodb" {
		code = "com.amazonaws.dynamodb.v20120810#" + code
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", fmt.Sprintf("%08x-fault", rand.Uint32()))
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"__type":%q,"message":%q}`, code, msg)
}
