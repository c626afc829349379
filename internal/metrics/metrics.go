// Package metrics aggregates the services' metrics in memory and writes them
// to stdout in the CloudWatch Embedded Metric Format (EMF): one JSON line per
// set of dimension values per interval, beside the JSON logs. CloudWatch Logs
// turns those lines into metrics of the service's log group, so there is no
// agent, no PutMetricData call and no IAM permission to grant.
package metrics

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Unit is a CloudWatch metric unit.
type Unit string

// The units the services use (CloudWatch accepts these and a few more; see
// Validate).
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Seconds      Unit = "Seconds"
)

// MaxValues is how many values of one metric one EMF line may carry (the
// format's limit). A distribution observed more often in an interval keeps
// a uniform sample of MaxValues of them; its count stays exact in a Count
// metric beside it where one matters (Messages counts every message).
const MaxValues = 100

// Dim is one dimension of a metric beyond the service and the environment.
type Dim struct{ Name, Value string }

// key is one line of a flush: the values of its dimensions, "name=value"
// joined by "\x00" (service and env first), in the order given.
type key string

type series struct {
	unit   Unit
	kind   kind
	sum    float64   // counters
	last   float64   // gauges
	values []float64 // distributions: a reservoir of at most MaxValues
	seen   int       // distributions: values observed this interval
}

type kind int

const (
	counter kind = iota
	gauge
	distribution
)

// Recorder aggregates one service's metrics between flushes. Its methods are
// safe for concurrent use; a nil *Recorder records nothing, so code that
// records needs no check.
type Recorder struct {
	mu      sync.Mutex
	w       io.Writer
	service string
	env     string
	base    key // the key of the lines with no dimension but service and env
	now     func() time.Time
	lines   map[key]map[string]*series
	dims    map[key][]string // dimension names of a line, in order
	values  map[key][]string // and their values
	funcs   []gaugeFunc      // gauges computed at each flush
}

// gaugeFunc is a gauge whose value is computed when the metrics are written.
type gaugeFunc struct {
	name string
	unit Unit
	fn   func() float64
	dims []Dim
}

// New returns a recorder for service in environment env (the Copilot
// environment: every line names it), whose flushes go to w, one Write per
// line (share w with the logger through a writer that serialises writes).
// It panics on an empty service or env: CloudWatch refuses an empty
// dimension value.
func New(w io.Writer, service, env string, now func() time.Time) *Recorder {
	if service == "" || env == "" {
		panic("metrics: New needs a service and an environment")
	}
	return &Recorder{w: w, service: service, env: env, base: key(DimService + "=" + service + "\x00" + DimEnv + "=" + env), now: now,
		lines: map[key]map[string]*series{}, dims: map[key][]string{}, values: map[key][]string{}}
}

// Add adds n to a counter.
func (r *Recorder) Add(name string, n float64, dims ...Dim) {
	r.record(name, Count, counter, n, dims)
}

// Set sets a gauge: the flush writes the last value set in the interval.
func (r *Recorder) Set(name string, unit Unit, v float64, dims ...Dim) {
	r.record(name, unit, gauge, v, dims)
}

// SetFunc makes name a gauge computed by fn each time the metrics are
// written, rather than when something happens: an age that must keep rising
// while the code that would set it is stuck. Setting the same name and
// dimensions again replaces fn. fn is called without the recorder's lock
// held, so it may take locks of its own.
func (r *Recorder) SetFunc(name string, unit Unit, fn func() float64, dims ...Dim) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g := gaugeFunc{name: name, unit: unit, fn: fn, dims: slices.Clone(dims)}
	for i, f := range r.funcs {
		if f.name == name && slices.Equal(f.dims, dims) {
			r.funcs[i] = g
			return
		}
	}
	r.funcs = append(r.funcs, g)
}

// Observe adds one value to a distribution (a latency, an age).
func (r *Recorder) Observe(name string, unit Unit, v float64, dims ...Dim) {
	r.record(name, unit, distribution, v, dims)
}

// Since observes the time from start to now in milliseconds.
func (r *Recorder) Since(name string, start time.Time, dims ...Dim) {
	if r == nil {
		return
	}
	r.Observe(name, Milliseconds, float64(r.now().Sub(start).Microseconds())/1000, dims...)
}

func (r *Recorder) record(name string, unit Unit, k kind, v float64, dims []Dim) {
	if r == nil {
		return
	}
	kk := r.base
	for _, d := range dims {
		kk += key("\x00" + d.Name + "=" + d.Value)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	line := r.lines[kk]
	if line == nil { // a new set of dimension values: its names and values, in order
		names, vals := []string{DimService, DimEnv}, []string{r.service, r.env}
		for _, d := range dims {
			names, vals = append(names, d.Name), append(vals, d.Value)
		}
		line = map[string]*series{}
		r.lines[kk], r.dims[kk], r.values[kk] = line, names, vals
	}
	s := line[name]
	if s == nil {
		s = &series{unit: unit, kind: k}
		line[name] = s
	}
	switch k {
	case counter:
		s.sum += v
	case gauge:
		s.last = v
	case distribution:
		s.seen++
		if len(s.values) < MaxValues {
			s.values = append(s.values, v)
		} else if i := rand.IntN(s.seen); i < MaxValues {
			s.values[i] = v // reservoir sampling: each value kept with equal chance
		}
	}
}

// Flush writes one EMF line per set of dimension values recorded since the
// last flush and starts a new interval. Counters and distributions with
// nothing recorded are left out; a gauge keeps being written with its last
// value (an alarm on it then always has data); a gauge of SetFunc is
// computed now.
func (r *Recorder) Flush() error {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	funcs := slices.Clone(r.funcs)
	r.mu.Unlock()
	for _, f := range funcs {
		r.record(f.name, f.unit, gauge, f.fn(), f.dims)
	}
	r.mu.Lock()
	ts := r.now().UnixMilli()
	var out [][]byte
	for _, kk := range slices.Sorted(maps.Keys(r.lines)) {
		line := r.lines[kk]
		doc := map[string]any{}
		var defs []metricDef
		for _, name := range slices.Sorted(maps.Keys(line)) {
			s := line[name]
			switch {
			case s.kind == counter && s.sum != 0:
				doc[name] = s.sum
			case s.kind == gauge:
				doc[name] = s.last
			case s.kind == distribution && len(s.values) > 0:
				doc[name] = slices.Clone(s.values)
			default:
				continue
			}
			defs = append(defs, metricDef{Name: name, Unit: string(s.unit)})
			s.sum, s.values, s.seen = 0, s.values[:0], 0
		}
		if len(defs) == 0 {
			continue
		}
		for i, d := range r.dims[kk] {
			doc[d] = r.values[kk][i]
		}
		doc["_aws"] = awsBlock{Timestamp: ts, CloudWatchMetrics: []directive{{
			Namespace: Namespace, Dimensions: [][]string{r.dims[kk]}, Metrics: defs,
		}}}
		b, err := json.Marshal(doc)
		if err != nil {
			r.mu.Unlock()
			return err
		}
		out = append(out, append(b, '\n'))
	}
	r.mu.Unlock()
	for _, b := range out {
		if _, err := r.w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// Run flushes every interval until ctx ends. Call Flush once more after the
// work that records has stopped, so the last interval is not lost.
func (r *Recorder) Run(ctx context.Context, interval time.Duration) {
	if r == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			_ = r.Flush()
		}
	}
}

type awsBlock struct {
	Timestamp         int64       `json:"Timestamp"`
	CloudWatchMetrics []directive `json:"CloudWatchMetrics"`
}

type directive struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []metricDef `json:"Metrics"`
}

type metricDef struct {
	Name string `json:"Name"`
	Unit string `json:"Unit,omitempty"`
}

// Start flushes every interval until the returned stop is called; stop
// ends that and flushes what was recorded since. Call it once the work that
// records has stopped (after a drain), so the last interval is not lost.
func (r *Recorder) Start(interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx, interval) }()
	return func() {
		cancel()
		<-done
		_ = r.Flush()
	}
}
