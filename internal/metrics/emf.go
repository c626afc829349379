package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// The format's limits (CloudWatch, "Specification: Embedded metric format").
const (
	maxDimensionsPerSet = 30
	maxMetricsPerLine   = 100
	maxNameLen          = 255
	maxDimValueLen      = 1024
	maxEventBytes       = 256 << 10 // a CloudWatch Logs event, and so an EMF line
)

// units are the units CloudWatch accepts.
var units = map[string]bool{
	"Seconds": true, "Microseconds": true, "Milliseconds": true,
	"Bytes": true, "Kilobytes": true, "Megabytes": true, "Gigabytes": true, "Terabytes": true,
	"Bits": true, "Kilobits": true, "Megabits": true, "Gigabits": true, "Terabits": true,
	"Percent": true, "Count": true, "None": true,
	"Bytes/Second": true, "Kilobytes/Second": true, "Megabytes/Second": true, "Gigabytes/Second": true, "Terabytes/Second": true,
	"Bits/Second": true, "Kilobits/Second": true, "Megabits/Second": true, "Gigabits/Second": true, "Terabits/Second": true,
	"Count/Second": true,
}

// Line is one EMF line read back: its namespace, dimension values and metric
// values (a single value reads as a one-value slice).
type Line struct {
	Time      time.Time // the _aws.Timestamp: when the values were written
	Namespace string
	Dims      map[string]string
	Values    map[string][]float64
	Units     map[string]string
}

// Parse validates line against the format's rules and reads it back. A line
// that is not EMF (no _aws member: a log line) returns ErrNotEMF.
func Parse(line []byte) (Line, error) {
	if len(line) > maxEventBytes {
		return Line{}, fmt.Errorf("line of %d bytes, above CloudWatch Logs' %d", len(line), maxEventBytes)
	}
	var root map[string]json.RawMessage
	if err := json.Unmarshal(line, &root); err != nil {
		return Line{}, ErrNotEMF
	}
	rawAWS, ok := root["_aws"]
	if !ok {
		return Line{}, ErrNotEMF
	}
	var meta struct {
		Timestamp         *int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct {
				Name              string
				Unit              *string
				StorageResolution *int
			}
		}
	}
	if err := json.Unmarshal(rawAWS, &meta); err != nil {
		return Line{}, fmt.Errorf("_aws: %w", err)
	}
	if meta.Timestamp == nil || *meta.Timestamp <= 0 {
		return Line{}, errors.New("_aws.Timestamp: missing or not a positive number of milliseconds")
	}
	if len(meta.CloudWatchMetrics) != 1 {
		return Line{}, fmt.Errorf("_aws.CloudWatchMetrics: %d directives; this reader takes exactly one", len(meta.CloudWatchMetrics))
	}
	d := meta.CloudWatchMetrics[0]
	l := Line{Time: time.UnixMilli(*meta.Timestamp), Namespace: d.Namespace, Dims: map[string]string{}, Values: map[string][]float64{}, Units: map[string]string{}}
	if d.Namespace == "" || len(d.Namespace) > maxNameLen {
		return Line{}, fmt.Errorf("namespace %q: want 1 to %d characters", d.Namespace, maxNameLen)
	}
	if d.Dimensions == nil {
		return Line{}, errors.New("dimensions: missing (an empty array is allowed, not its absence)")
	}
	for _, set := range d.Dimensions {
		if len(set) > maxDimensionsPerSet {
			return Line{}, fmt.Errorf("a dimension set of %d; at most %d", len(set), maxDimensionsPerSet)
		}
		for _, name := range set {
			var v string
			if err := json.Unmarshal(root[name], &v); err != nil {
				return Line{}, fmt.Errorf("dimension %q: no string member of that name at the root", name)
			}
			if v == "" || len(v) > maxDimValueLen {
				return Line{}, fmt.Errorf("dimension %q = %q: want 1 to %d characters", name, v, maxDimValueLen)
			}
			l.Dims[name] = v
		}
	}
	if len(d.Metrics) == 0 || len(d.Metrics) > maxMetricsPerLine {
		return Line{}, fmt.Errorf("%d metrics; want 1 to %d", len(d.Metrics), maxMetricsPerLine)
	}
	for _, m := range d.Metrics {
		if m.Name == "" || len(m.Name) > maxNameLen {
			return Line{}, fmt.Errorf("metric name %q: want 1 to %d characters", m.Name, maxNameLen)
		}
		if _, dup := l.Values[m.Name]; dup {
			return Line{}, fmt.Errorf("metric %q defined twice", m.Name)
		}
		if _, isDim := l.Dims[m.Name]; isDim {
			return Line{}, fmt.Errorf("metric %q is also a dimension", m.Name)
		}
		if m.Unit != nil && !units[*m.Unit] {
			return Line{}, fmt.Errorf("metric %q: unit %q is not a CloudWatch unit", m.Name, *m.Unit)
		}
		if m.StorageResolution != nil && *m.StorageResolution != 1 && *m.StorageResolution != 60 {
			return Line{}, fmt.Errorf("metric %q: StorageResolution %d; want 1 or 60", m.Name, *m.StorageResolution)
		}
		vals, err := values(root[m.Name])
		if err != nil {
			return Line{}, fmt.Errorf("metric %q: %w", m.Name, err)
		}
		l.Values[m.Name] = vals
		if m.Unit != nil {
			l.Units[m.Name] = *m.Unit
		}
	}
	return l, nil
}

// ErrNotEMF is Parse's answer to a line that is not an EMF document.
var ErrNotEMF = errors.New("not an EMF line")

func values(raw json.RawMessage) ([]float64, error) {
	if raw == nil {
		return nil, errors.New("no member of that name at the root")
	}
	var one float64
	if err := json.Unmarshal(raw, &one); err == nil {
		return []float64{one}, finite(one)
	}
	var many []float64
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("value is neither a number nor an array of numbers")
	}
	if len(many) == 0 || len(many) > MaxValues {
		return nil, fmt.Errorf("%d values; want 1 to %d", len(many), MaxValues)
	}
	for _, v := range many {
		if err := finite(v); err != nil {
			return nil, err
		}
	}
	return many, nil
}

func finite(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return errors.New("value is not finite")
	}
	return nil
}

// Sum adds up a metric's values (a counter's, over lines).
func (l Line) Sum(name string) float64 {
	var s float64
	for _, v := range l.Values[name] {
		s += v
	}
	return s
}
