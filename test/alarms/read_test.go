package alarms

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// alarm is one AWS::CloudWatch::Alarm of a template, as far as these tests read it.
type alarm struct {
	where     string // file and logical id, for messages
	namespace string
	metric    string
	dims      map[string]any // dimension name → value as written (a string or a function)
	props     map[string]any
}

// alarmsOf reads every alarm of t. An alarm must name one metric with literal strings (a
// metric math alarm, or a name computed by a function, could not be checked here).
func alarmsOf(file string, t *cfn.Template) ([]alarm, error) {
	var out []alarm
	for _, id := range t.OfType("AWS::CloudWatch::Alarm") {
		p := t.Resources[id].Properties
		a := alarm{where: file + " " + id, dims: map[string]any{}, props: p}
		if _, ok := p["Metrics"]; ok {
			return nil, fmt.Errorf("%s: a metric math alarm (Metrics); these tests read Namespace, MetricName and Dimensions only", a.where)
		}
		var ok1, ok2 bool
		a.namespace, ok1 = p["Namespace"].(string)
		a.metric, ok2 = p["MetricName"].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s: Namespace %v, MetricName %v; want both written as plain strings", a.where, p["Namespace"], p["MetricName"])
		}
		dims, _ := p["Dimensions"].([]any)
		for _, d := range dims {
			m, _ := d.(map[string]any)
			name, ok := m["Name"].(string)
			if !ok {
				return nil, fmt.Errorf("%s: dimension %v; want a plain Name", a.where, d)
			}
			if _, dup := a.dims[name]; dup {
				return nil, fmt.Errorf("%s: dimension %s twice", a.where, name)
			}
			a.dims[name] = m["Value"]
		}
		out = append(out, a)
	}
	return out, nil
}

// dimNames returns the alarm's dimension names, sorted.
func (a alarm) dimNames() []string {
	var out []string
	for k := range a.dims {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// addons lists copilot/*/addons/*.yml, as topology reads them.
func addons(t *testing.T) []topology.Addon {
	t.Helper()
	out := integration.LoadTopology(t).Addons
	if len(out) == 0 {
		t.Fatal("no addon templates under copilot/*/addons/")
	}
	return out
}

// describe writes a value for comparisons and messages: "Ref X", "GetAtt R.A", or its JSON.
func describe(v any) string {
	if name, ok := cfn.Ref(v); ok {
		return "Ref " + name
	}
	if r, a, ok := cfn.GetAtt(v); ok {
		return "GetAtt " + r + "." + a
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// findAll returns every value under v (a decoded template part) for which match is true.
func findAll(v any, match func(any) bool) []any {
	var out []any
	var walk func(any)
	walk = func(v any) {
		if match(v) {
			out = append(out, v)
		}
		switch v := v.(type) {
		case map[string]any:
			for _, k := range cfn.Keys(v) {
				walk(v[k])
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// lines joins items one a line, indented, for messages.
func lines(items []string) string {
	return "\n\t" + strings.Join(items, "\n\t")
}
