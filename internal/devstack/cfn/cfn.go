// Package cfn is the one reader of CloudFormation here: it reads templates, YAML or JSON, into
// plain Go values, with the short-form intrinsic functions of YAML (!Ref, !Sub, !GetAtt, !If,
// ...) turned into their long form ({"Ref": ...}, {"Fn::Sub": ...}, {"Fn::GetAtt": [resource,
// attribute]}), so code that reads a template sees one shape whichever way it was written;
// resolves them for one stack (Stack); and reads what Copilot renders (Rendered).
package cfn

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Template is a CloudFormation template. Values are what Decode returns: map[string]any,
// []any, string, int, float64, bool or nil, with intrinsic functions in long form.
type Template struct {
	Description string
	Metadata    map[string]any
	Parameters  map[string]Parameter
	Conditions  map[string]any
	Resources   map[string]Resource
	Outputs     map[string]Output
	// Raw is the whole template, for sections the fields above do not model.
	Raw map[string]any
}

// Parameter is one entry of Parameters.
type Parameter struct {
	Type    string
	Default any // nil when there is none
	Raw     map[string]any
}

// Resource is one entry of Resources.
type Resource struct {
	Type       string
	Condition  string
	DependsOn  []string
	Properties map[string]any
	Metadata   map[string]any
	Raw        map[string]any
}

// Output is one entry of Outputs.
type Output struct {
	Value     any
	Condition string
	Export    any // the Export's Name, nil when not exported
	Raw       map[string]any
}

// Load reads the template in file.
func Load(file string) (*Template, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	t, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return t, nil
}

// Parse reads a template. It checks the structure its fields rely on (sections are mappings,
// every resource has a Type), not what CloudFormation or cfn-lint would validate.
func Parse(b []byte) (*Template, error) {
	v, err := Decode(b)
	if err != nil {
		return nil, err
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template is a %s; want a mapping", kind(v))
	}
	return fromRaw(root)
}

// fromRaw reads a decoded template.
func fromRaw(root map[string]any) (*Template, error) {
	var err error
	t := &Template{Raw: root, Parameters: map[string]Parameter{}, Resources: map[string]Resource{}, Outputs: map[string]Output{}}
	if t.Description, err = optString(root, "Description"); err != nil {
		return nil, err
	}
	if t.Metadata, err = section(root, "Metadata"); err != nil {
		return nil, err
	}
	if t.Conditions, err = section(root, "Conditions"); err != nil {
		return nil, err
	}

	params, err := section(root, "Parameters")
	if err != nil {
		return nil, err
	}
	for name, p := range params {
		m, ok := p.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("parameter %s is a %s; want a mapping", name, kind(p))
		}
		typ, err := optString(m, "Type")
		if err != nil {
			return nil, fmt.Errorf("parameter %s: %w", name, err)
		}
		t.Parameters[name] = Parameter{Type: typ, Default: m["Default"], Raw: m}
	}

	resources, err := section(root, "Resources")
	if err != nil {
		return nil, err
	}
	for name, r := range resources {
		res, err := parseResource(r)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		t.Resources[name] = res
	}

	outputs, err := section(root, "Outputs")
	if err != nil {
		return nil, err
	}
	for name, o := range outputs {
		m, ok := o.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("output %s is a %s; want a mapping", name, kind(o))
		}
		cond, err := optString(m, "Condition")
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
		out := Output{Value: m["Value"], Condition: cond, Raw: m}
		if e, ok := m["Export"].(map[string]any); ok {
			out.Export = e["Name"]
		}
		t.Outputs[name] = out
	}
	return t, nil
}

func parseResource(r any) (Resource, error) {
	m, ok := r.(map[string]any)
	if !ok {
		return Resource{}, fmt.Errorf("a %s; want a mapping", kind(r))
	}
	res := Resource{Raw: m}
	var err error
	if res.Type, err = optString(m, "Type"); err != nil {
		return res, err
	}
	if res.Type == "" {
		return res, fmt.Errorf("no Type")
	}
	if res.Condition, err = optString(m, "Condition"); err != nil {
		return res, err
	}
	if res.Properties, err = section(m, "Properties"); err != nil {
		return res, err
	}
	if res.Metadata, err = section(m, "Metadata"); err != nil {
		return res, err
	}
	switch d := m["DependsOn"].(type) {
	case nil:
	case string:
		res.DependsOn = []string{d}
	case []any:
		for _, x := range d {
			s, ok := x.(string)
			if !ok {
				return res, fmt.Errorf("DependsOn has a %s; want resource names", kind(x))
			}
			res.DependsOn = append(res.DependsOn, s)
		}
	default:
		return res, fmt.Errorf("DependsOn is a %s; want a name or a list of names", kind(d))
	}
	return res, nil
}

// OfType returns the names of the template's resources of type typ, sorted.
func (t *Template) OfType(typ string) []string {
	var out []string
	for name, r := range t.Resources {
		if r.Type == typ {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// section returns m[key] as a mapping; a missing or null section is an empty one.
func section(m map[string]any, key string) (map[string]any, error) {
	switch v := m[key].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		if _, _, ok := Intrinsic(v); !ok {
			return v, nil
		}
	}
	// A function in place of a whole section (Properties: !If ...) is not something these
	// readers can follow, so it is refused rather than read as a mapping of one key.
	return nil, fmt.Errorf("%s is a %s; want a mapping", key, kind(m[key]))
}

func optString(m map[string]any, key string) (string, error) {
	switch v := m[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fmt.Errorf("%s is a %s; want a string", key, kind(v))
	}
}

// Decode reads a YAML or JSON document into plain values, with short-form intrinsic
// functions in long form. Mapping keys must be strings and unique (CloudFormation rejects a
// duplicate; YAML parsers disagree on which one wins).
func Decode(b []byte) (any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind == 0 {
		return nil, fmt.Errorf("empty document")
	}
	return value(&doc)
}

func value(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return value(n.Content[0])
	case yaml.AliasNode:
		return value(n.Alias)
	}
	if fn, ok := shortForm(n.Tag); ok {
		return intrinsic(fn, n)
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key that is not a string", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", k.Line, k.Value)
			}
			x, err := value(v)
			if err != nil {
				return nil, err
			}
			m[k.Value] = x
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			x, err := value(c)
			if err != nil {
				return nil, err
			}
			s = append(s, x)
		}
		return s, nil
	case yaml.ScalarNode:
		var x any
		if err := n.Decode(&x); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return x, nil
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
}

// shortForm returns the long-form name of a short-form tag: !Ref → Ref, !Condition →
// Condition, any other !Name → Fn::Name. YAML's own tags (!!str, !!int, ...) and the
// non-specific "!" are not functions.
func shortForm(tag string) (string, bool) {
	name, ok := strings.CutPrefix(tag, "!")
	if !ok || name == "" || strings.HasPrefix(name, "!") {
		return "", false
	}
	switch name {
	case "Ref", "Condition":
		return name, true
	}
	return "Fn::" + name, true
}

// intrinsic decodes the node tagged with a short-form function as {fn: argument}.
func intrinsic(fn string, n *yaml.Node) (any, error) {
	untagged := *n
	untagged.Tag = ""
	if n.Kind == yaml.ScalarNode {
		// The argument of a tagged scalar is its text, whatever it looks like (!Ref 80 is the
		// name "80"), except !GetAtt's resource.attribute, which takes its long form's list.
		if fn == "Fn::GetAtt" {
			res, attr, ok := strings.Cut(n.Value, ".")
			if !ok || res == "" || attr == "" {
				return nil, fmt.Errorf("line %d: !GetAtt %q; want Resource.Attribute", n.Line, n.Value)
			}
			return map[string]any{fn: []any{res, attr}}, nil
		}
		return map[string]any{fn: n.Value}, nil
	}
	arg, err := value(&untagged)
	if err != nil {
		return nil, err
	}
	return map[string]any{fn: arg}, nil
}

// Intrinsic returns the function and argument of v when it is an intrinsic function in long
// form: a mapping with the single key Ref, Condition or Fn::<name>.
func Intrinsic(v any) (fn string, arg any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

// Ref returns the name v refers to when it is {"Ref": name}.
func Ref(v any) (string, bool) {
	fn, arg, ok := Intrinsic(v)
	if !ok || fn != "Ref" {
		return "", false
	}
	s, ok := arg.(string)
	return s, ok
}

// GetAtt returns the resource and attribute of v when it is {"Fn::GetAtt": [resource,
// attribute]} (or the "resource.attribute" string some JSON templates use).
func GetAtt(v any) (resource, attribute string, ok bool) {
	fn, arg, isFn := Intrinsic(v)
	if !isFn || fn != "Fn::GetAtt" {
		return "", "", false
	}
	switch a := arg.(type) {
	case []any:
		if len(a) != 2 {
			return "", "", false
		}
		r, ok1 := a[0].(string)
		at, ok2 := a[1].(string)
		return r, at, ok1 && ok2
	case string:
		return strings.Cut(a, ".")
	}
	return "", "", false
}

// kind names the shape of a decoded value, for errors.
func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		if fn, _, ok := Intrinsic(v); ok {
			return fn
		}
		return "mapping"
	case []any:
		return "list"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int, int64, uint64, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// Keys returns the keys of a mapping, sorted (for deterministic messages).
func Keys(m map[string]any) []string { return slices.Sorted(maps.Keys(m)) }

// LoadParams reads the parameters file `copilot svc package` writes beside a template
// ({"Parameters": {name: value}, "Tags": ...}).
func LoadParams(file string) (map[string]string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var p struct{ Parameters map[string]string }
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return p.Parameters, nil
}
