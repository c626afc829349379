package rendered

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
)

// TestRenderedRateLimitCountsEverySpelling: the environment addon's rate-based rule (waf.yml,
// as Copilot packages it: env.addons.yml) counts a POST that places an order however its path
// is written. Go's server routes /%6Frders to POST /orders (it decodes each segment), and
// redirects //orders and /./orders there with a 307, which a client follows with its POST; a
// rule matching the raw path /orders counts none of them (nor /%2e/orders, which a proxy may
// decode on the way). The publisher refuses those spellings
// now (internal/web), and the rule must not depend on it: it counts every POST, or inspects the
// path only after URL_DECODE then NORMALIZE_PATH. Its scope-down statement is evaluated here as
// WAF documents each statement and transformation; GETs (the form, order pages, the health
// check) stay uncounted.
func TestRenderedRateLimitCountsEverySpelling(t *testing.T) {
	r := integration.Rendered(t)
	const file = "env.addons.yml"
	addons := r.Templates[file]
	if addons == nil {
		t.Fatalf("render.json lists no env.addons.yml (files %q): the environment has no addons; want copilot/environments/addons/waf.yml rendered", r.Info.Files)
	}
	rule, where := rateRule(t, addons)
	scope, ok := rule["ScopeDownStatement"].(map[string]any)
	if !ok {
		t.Fatalf("%s: %s has no ScopeDownStatement: it would count every request, the form and order pages too; want POSTs only", file, where)
	}
	if agg := rule["AggregateKeyType"]; agg != "IP" {
		t.Errorf("%s: %s AggregateKeyType %v; want IP (per client address)", file, where, agg)
	}
	for _, p := range []string{
		"/orders", "/%6Frders", "/%6frders", "/orde%72s", "/%2e/orders", "/./orders",
		"//orders", "/x/../orders",
	} {
		if !counts(t, scope, "POST", p) {
			t.Errorf("%s: %s does not count POST %s, a spelling of /orders; the rate limit is bypassed by it", file, where, p)
		}
	}
	for _, p := range []string{"/", "/orders/f47ac10b-58cc-4372-a567-0e02b2c3d479", "/healthz", "/static/style.css"} {
		if counts(t, scope, "GET", p) {
			t.Errorf("%s: %s counts GET %s; want only POSTs (placing orders) counted", file, where, p)
		}
	}
}

// rateRule returns the one rate-based rule of the addon's one web ACL.
func rateRule(t *testing.T, addons *cfn.Template) (rule map[string]any, where string) {
	t.Helper()
	acls := addons.OfType("AWS::WAFv2::WebACL")
	if len(acls) != 1 {
		t.Fatalf("env.addons.yml: web ACLs %q; want one", acls)
	}
	rules, _ := addons.Resources[acls[0]].Properties["Rules"].([]any)
	for _, x := range rules {
		m, _ := x.(map[string]any)
		st, _ := m["Statement"].(map[string]any)
		if rb, ok := st["RateBasedStatement"].(map[string]any); ok {
			if rule != nil {
				t.Fatalf("env.addons.yml: %s has more than one rate-based rule; this test knows one", acls[0])
			}
			rule, where = rb, fmt.Sprintf("%s rule %v", acls[0], m["Name"])
		}
	}
	if rule == nil {
		t.Fatalf("env.addons.yml: %s has no rate-based rule", acls[0])
	}
	return rule, where
}

// counts evaluates a WAF statement on a request with method and raw path (as sent, escapes
// and all). It knows the statements and transformations a path or method rule uses, and fails
// the test on any other, rather than guess.
func counts(t *testing.T, st map[string]any, method, rawPath string) bool {
	t.Helper()
	if len(st) != 1 {
		t.Fatalf("statement %v: want exactly one statement type", st)
	}
	for kind, v := range st {
		body, _ := v.(map[string]any)
		switch kind {
		case "AndStatement", "OrStatement":
			list, _ := body["Statements"].([]any)
			all := kind == "AndStatement"
			for _, x := range list {
				m, _ := x.(map[string]any)
				if counts(t, m, method, rawPath) != all {
					return !all
				}
			}
			return all
		case "NotStatement":
			m, _ := body["Statement"].(map[string]any)
			return !counts(t, m, method, rawPath)
		case "ByteMatchStatement":
			return byteMatch(t, body, method, rawPath)
		default:
			t.Fatalf("%s: this test cannot evaluate it; extend counts", kind)
		}
	}
	return false
}

func byteMatch(t *testing.T, st map[string]any, method, rawPath string) bool {
	t.Helper()
	field, _ := st["FieldToMatch"].(map[string]any)
	var v string
	switch {
	case field["Method"] != nil:
		v = method
	case field["UriPath"] != nil:
		v = rawPath
	default:
		t.Fatalf("ByteMatchStatement on %v: this test knows Method and UriPath only", field)
	}
	trs, _ := st["TextTransformations"].([]any)
	trs = slices.Clone(trs)
	slices.SortFunc(trs, func(a, b any) int { return priority(a) - priority(b) })
	var applied []string
	for _, x := range trs {
		tr, _ := x.(map[string]any)
		typ, _ := tr["Type"].(string)
		applied = append(applied, typ)
		switch typ {
		case "NONE":
		case "URL_DECODE", "URL_DECODE_UNI":
			if d, err := url.PathUnescape(v); err == nil {
				v = d
			}
		case "NORMALIZE_PATH", "NORMALIZE_PATH_WIN":
			// Multiple slashes, "." and ".." segments removed, as WAF documents it.
			if typ == "NORMALIZE_PATH_WIN" {
				v = strings.ReplaceAll(v, `\`, "/")
			}
			trailing := strings.HasSuffix(v, "/") && v != "/"
			v = path.Clean(v)
			if trailing {
				v += "/"
			}
		case "LOWERCASE":
			v = strings.ToLower(v)
		default:
			t.Fatalf("text transformation %s: this test cannot apply it; extend byteMatch", typ)
		}
	}
	if field["UriPath"] != nil && !inOrder(applied, "URL_DECODE", "NORMALIZE_PATH") && !t.Failed() {
		t.Errorf("a match on UriPath has transformations %q; want URL_DECODE then NORMALIZE_PATH, or a path written another way escapes it", applied)
	}
	want, _ := st["SearchString"].(string)
	switch c, _ := st["PositionalConstraint"].(string); c {
	case "EXACTLY":
		return v == want
	case "STARTS_WITH":
		return strings.HasPrefix(v, want)
	case "ENDS_WITH":
		return strings.HasSuffix(v, want)
	case "CONTAINS":
		return strings.Contains(v, want)
	default:
		t.Fatalf("PositionalConstraint %q: this test cannot evaluate it; extend byteMatch", c)
	}
	return false
}

func priority(x any) int {
	m, _ := x.(map[string]any)
	n, _ := m["Priority"].(int)
	return n
}

// inOrder reports whether want appear in got in that order (with anything between; the
// _UNI and _WIN variants count).
func inOrder(got []string, want ...string) bool {
	i := 0
	for _, g := range got {
		if i < len(want) && strings.HasPrefix(g, want[i]) {
			i++
		}
	}
	return i == len(want)
}
