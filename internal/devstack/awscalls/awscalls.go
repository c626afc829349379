// Package awscalls records AWS calls as the service receives them, one request per attempt:
// who called (the SDK's app id, AWS_SDK_UA_APP_ID), the service, the API and the resources it
// names. Other processes are recorded by a reverse proxy put between them and the AWS
// emulator (their AWS_ENDPOINT_URL: Start), the process's own SDK clients by an HTTP client
// (Recorder.Client). The IAM check (iamcheck) evaluates each call of the e2e tests against the
// permissions Copilot's rendered stacks grant; the bench counts and prices them.
package awscalls

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Call is one AWS API request that went through the recorder.
type Call struct {
	Caller  string // the SDK app id from the User-Agent ("" when none was set)
	Service string // the signing name: sqs, sns, dynamodb
	API     string // ReceiveMessage, PutItem, Publish, ...
	// Resources the request names, as sent: a queue URL, a table name, a
	// topic ARN. Index is the DynamoDB index a Query or Scan reads.
	Resources []string
	Index     string
	// Consistent is set on a DynamoDB read that asked for strong consistency.
	Consistent bool
	Status     int // the HTTP status of the answer; 0 when none came
}

func (c Call) String() string {
	s := fmt.Sprintf("%s %s:%s %s", c.Caller, c.Service, c.API, strings.Join(c.Resources, ","))
	if c.Index != "" {
		s += " index " + c.Index
	}
	return s
}

// Recorder is a running recording proxy.
type Recorder struct {
	srv *http.Server
	url string

	mu    sync.Mutex
	calls []Call
}

// New returns a recorder for the process's own SDK clients (Client), with no proxy.
func New() *Recorder { return &Recorder{} }

// Doer sends an HTTP request: the SDK's aws.HTTPClient.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Client returns an HTTP client for the SDK (aws.Config.HTTPClient) that sends each request
// through next and records it. It sits past the SDK's retryer, so every attempt is a call.
func (r *Recorder) Client(next Doer) Doer { return recordingClient{r, next} }

type recordingClient struct {
	r    *Recorder
	next Doer
}

func (c recordingClient) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, fmt.Errorf("record %s: %w", req.URL, err)
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	call := Parse(req, body)
	resp, err := c.next.Do(req)
	if resp != nil {
		call.Status = resp.StatusCode
	}
	c.r.record(call)
	return resp, err
}

func (r *Recorder) record(c Call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

// Start listens on a free loopback port and forwards every request to
// target (the emulator's endpoint).
func Start(target string) (*Recorder, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("emulator endpoint %q: %w", target, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("recording proxy: %w", err)
	}
	r := &Recorder{url: "http://" + l.Addr().String()}
	proxy := httputil.NewSingleHostReverseProxy(u)
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		call := Parse(req, body)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(sw, req)
		call.Status = sw.status
		r.record(call)
	})}
	go func() { _ = r.srv.Serve(l) }()
	return r, nil
}

// URL is the endpoint to give the processes instead of the emulator's.
func (r *Recorder) URL() string { return r.url }

// Calls returns what was recorded so far.
func (r *Recorder) Calls() []Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

// Close stops the proxy, if there is one.
func (r *Recorder) Close() error {
	if r.srv == nil {
		return nil
	}
	return r.srv.Close()
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Flush lets long polls stream as they would without the proxy.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

var (
	appID = regexp.MustCompile(`(?:^| )app/([^ ]+)`)
	// Credential=AKID/20260101/eu-west-1/sqs/aws4_request
	scope = regexp.MustCompile(`Credential=[^/]+/[0-9]+/[^/]+/([^/]+)/aws4_request`)
)

// Parse reads who called what from a signed SDK request and its body: the
// JSON protocol (SQS, DynamoDB: X-Amz-Target and a JSON body) or the query
// protocol (SNS: a form with Action).
func Parse(req *http.Request, body []byte) Call {
	var c Call
	if m := appID.FindStringSubmatch(req.Header.Get("User-Agent")); m != nil {
		c.Caller = m[1]
	}
	if m := scope.FindStringSubmatch(req.Header.Get("Authorization")); m != nil {
		c.Service = m[1]
	}
	if target := req.Header.Get("X-Amz-Target"); target != "" {
		if i := strings.LastIndexByte(target, '.'); i >= 0 {
			c.API = target[i+1:]
		}
		var in jsonRequest
		if err := json.Unmarshal(body, &in); err == nil {
			c.Resources, c.Index = in.resources()
			c.Consistent = in.ConsistentRead
		}
		return c
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return c
	}
	c.API = form.Get("Action")
	for _, k := range []string{"TopicArn", "TargetArn", "QueueUrl"} {
		if v := form.Get(k); v != "" {
			c.Resources = append(c.Resources, v)
		}
	}
	return c
}

// jsonRequest holds the fields of SQS and DynamoDB requests that name a
// resource.
type jsonRequest struct {
	QueueUrl       string
	TableName      string
	IndexName      string
	ConsistentRead bool
	RequestItems   map[string]json.RawMessage
	TransactItems  []map[string]struct{ TableName string }
}

func (in jsonRequest) resources() ([]string, string) {
	var out []string
	for _, s := range []string{in.QueueUrl, in.TableName} {
		if s != "" {
			out = append(out, s)
		}
	}
	for name := range in.RequestItems {
		out = append(out, name)
	}
	for _, item := range in.TransactItems {
		for _, op := range item {
			out = append(out, op.TableName)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), in.IndexName
}
