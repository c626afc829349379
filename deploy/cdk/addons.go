package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/cloudformationinclude"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
)

// The addons (copilot/<svc>/addons/*.yml) are CloudFormation Copilot deploys as a nested stack
// of each service. The CDK app deploys them two ways:
//
//   - an addon that declares DynamoDB tables or IAM policies (the table addons, the publisher's
//     read access to the workers' tables) is split: its tables go, property for property, into
//     the data stack, which holds nothing else, so that a running Copilot deployment's tables
//     can be imported into it (docs/cdk.md, "Moving over"); its policies go onto the service's
//     task role, naming the tables by their names (not by a reference across stacks), so the
//     service stacks can run before the tables are theirs;
//   - any other addon (the alarms) is included whole (cloudformationinclude) in the service's
//     stack, its parameters given the values addons.parameters.yml gives them under Copilot.

// addon is one addon template.
type addon struct {
	File     string
	Template *cfn.Template
	// The logical ids of its tables and IAM policies; an addon that has either has nothing else.
	Tables, Policies []string
}

// split reports whether the addon is split (tables and policies) rather than included whole.
func (a *addon) split() bool { return len(a.Tables)+len(a.Policies) > 0 }

func loadAddons(dir string) ([]*addon, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil {
		return nil, err
	}
	var out []*addon
	for _, f := range files {
		if filepath.Base(f) == "addons.parameters.yml" {
			continue
		}
		t, err := cfn.Load(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		a := &addon{File: f, Template: t}
		var other []string
		for _, id := range slices.Sorted(maps.Keys(t.Resources)) {
			switch t.Resources[id].Type {
			case "AWS::DynamoDB::Table":
				a.Tables = append(a.Tables, id)
			case "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy":
				a.Policies = append(a.Policies, id)
			default:
				other = append(other, id)
			}
		}
		if a.split() && len(other) > 0 {
			return nil, fmt.Errorf("%s: tables or policies beside %v: the CDK app deploys tables and policies apart from anything else (deploy/cdk/addons.go)", f, other)
		}
		out = append(out, a)
	}
	return out, nil
}

// resolver turns an addon's values into the CDK app's: its parameters by their values, its
// tables by their names and ARNs, the pseudo parameters (AWS::Region, ...) left to
// CloudFormation in an Fn::Sub. Anything else (a reference to another resource, a function
// other than Ref, Fn::GetAtt and Fn::Sub) is an error naming the addon.
type resolver struct {
	file   string
	params map[string]string
	// bools are the parameters that take 'true' or 'false' only: a property that is one of
	// them is given as a boolean (the addon's string is one CloudFormation coerces).
	bools  map[string]bool
	tables map[string]string // logical id → table name
}

// newResolver resolves addon a with the parameter values given, the others taking their
// defaults; a parameter with neither may not be used by anything resolved.
func newResolver(a *addon, values map[string]string) (*resolver, error) {
	r := &resolver{file: a.File, params: map[string]string{}, bools: map[string]bool{}, tables: map[string]string{}}
	for k, p := range a.Template.Parameters {
		if allowed, _ := p.Raw["AllowedValues"].([]any); len(allowed) == 2 &&
			slices.ContainsFunc(allowed, func(v any) bool { return fmt.Sprint(v) == "true" }) &&
			slices.ContainsFunc(allowed, func(v any) bool { return fmt.Sprint(v) == "false" }) {
			r.bools[k] = true
		}
		if v, ok := values[k]; ok {
			r.params[k] = v
		} else if p.Default != nil {
			r.params[k] = fmt.Sprint(p.Default)
		}
	}
	for _, id := range a.Tables {
		text, err := r.text(a.Template.Resources[id].Properties["TableName"])
		if err != nil {
			return nil, fmt.Errorf("%s: table %s: TableName: %w", a.File, id, err)
		}
		if text == "" || strings.Contains(text, "${") {
			return nil, fmt.Errorf("%s: table %s: TableName %q: want a name fixed by App, Env and Name", a.File, id, text)
		}
		r.tables[id] = text
	}
	return r, nil
}

// resolve returns v with its functions resolved.
func (r *resolver) resolve(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if name, ok := cfn.Ref(x); ok && r.bools[name] {
			if v, ok := r.params[name]; ok && (v == "true" || v == "false") {
				return v == "true", nil
			}
		}
		if fn, _, ok := cfn.Intrinsic(x); ok {
			text, err := r.text(x)
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", r.file, fn, err)
			}
			return finish(text), nil
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			var err error
			if out[k], err = r.resolve(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = r.resolve(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

// finish is the value of a resolved text: itself, or an Fn::Sub when pseudo parameters remain.
func finish(text string) string {
	if strings.Contains(text, "${") {
		return *awscdk.Fn_Sub(jsii.String(text), nil)
	}
	return text
}

var subVariable = regexp.MustCompile(`\$\{([^}]*)\}`)

// text is v as the text of an Fn::Sub: a literal, or with ${AWS::...} left in it.
func (r *resolver) text(v any) (string, error) {
	switch x := v.(type) {
	case string:
		if strings.Contains(x, "${") {
			return "", fmt.Errorf("literal %q looks like a substitution", x)
		}
		return x, nil
	case int, float64, bool:
		return fmt.Sprint(x), nil
	case map[string]any:
		fn, arg, ok := cfn.Intrinsic(x)
		if !ok {
			return "", fmt.Errorf("want text, have %v", x)
		}
		switch fn {
		case "Ref":
			name, _ := arg.(string)
			return r.variable(name)
		case "Fn::GetAtt":
			res, attr, _ := cfn.GetAtt(x)
			return r.variable(res + "." + attr)
		case "Fn::Sub":
			body, vars := arg, map[string]any{}
			if list, ok := arg.([]any); ok && len(list) == 2 {
				body = list[0]
				vars, _ = list[1].(map[string]any)
			}
			s, ok := body.(string)
			if !ok {
				return "", fmt.Errorf("Fn::Sub of %v", arg)
			}
			if strings.Contains(s, "${!") {
				return "", fmt.Errorf("Fn::Sub %q: literal ${! is not supported here", s)
			}
			var errs []error
			out := subVariable.ReplaceAllStringFunc(s, func(m string) string {
				name := m[2 : len(m)-1]
				if v, ok := vars[name]; ok {
					t, err := r.text(v)
					errs = append(errs, err)
					return t
				}
				t, err := r.variable(name)
				errs = append(errs, err)
				return t
			})
			return out, errors.Join(errs...)
		}
		return "", fmt.Errorf("%s is not supported here", fn)
	}
	return "", fmt.Errorf("want text, have %T", v)
}

// variable is what ${name} stands for.
func (r *resolver) variable(name string) (string, error) {
	switch name {
	case "AWS::Partition", "AWS::Region", "AWS::AccountId", "AWS::URLSuffix":
		return "${" + name + "}", nil
	}
	if v, ok := r.params[name]; ok {
		return v, nil
	}
	if t, ok := r.tables[name]; ok {
		return t, nil
	}
	if res, attr, ok := strings.Cut(name, "."); ok && attr == "Arn" {
		if t, ok := r.tables[res]; ok {
			return "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/" + t, nil
		}
	}
	return "", fmt.Errorf("${%s}: not a parameter with a value, nor a table of this addon", name)
}

// tableProperties is the table's Properties, resolved.
func (r *resolver) tableProperties(a *addon, id string) (map[string]any, error) {
	v, err := r.resolve(a.Template.Resources[id].Properties)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// policyStatements is the policy's statements, resolved: Sid, Effect, Action and Resource,
// nothing else (a condition, NotAction or NotResource would need reading here first).
func (r *resolver) policyStatements(a *addon, id string) ([]awsiam.PolicyStatement, error) {
	doc, _ := a.Template.Resources[id].Properties["PolicyDocument"].(map[string]any)
	list, _ := doc["Statement"].([]any)
	if len(list) == 0 {
		return nil, fmt.Errorf("%s: policy %s: no statements", a.File, id)
	}
	var out []awsiam.PolicyStatement
	for i, s := range list {
		st, _ := s.(map[string]any)
		for k := range st {
			if k != "Sid" && k != "Effect" && k != "Action" && k != "Resource" {
				return nil, fmt.Errorf("%s: policy %s statement %d: %s is not supported here", a.File, id, i, k)
			}
		}
		props := &awsiam.PolicyStatementProps{Effect: awsiam.Effect_ALLOW}
		if st["Effect"] == "Deny" {
			props.Effect = awsiam.Effect_DENY
		}
		if sid, ok := st["Sid"].(string); ok {
			props.Sid = jsii.String(sid)
		}
		actions, err := r.strings(st["Action"])
		if err != nil {
			return nil, fmt.Errorf("%s: policy %s statement %d: Action: %w", a.File, id, i, err)
		}
		resources, err := r.strings(st["Resource"])
		if err != nil {
			return nil, fmt.Errorf("%s: policy %s statement %d: Resource: %w", a.File, id, i, err)
		}
		props.Actions, props.Resources = jsii.Strings(actions...), jsii.Strings(resources...)
		out = append(out, awsiam.NewPolicyStatement(props))
	}
	return out, nil
}

// strings is a value that is one string or a list of them, each resolved.
func (r *resolver) strings(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	var out []string
	for _, e := range list {
		t, err := r.text(e)
		if err != nil {
			return nil, err
		}
		out = append(out, finish(t))
	}
	return out, nil
}

// copilotRefs are the CDK app's counterparts of the resources of Copilot's stacks that an
// addons.parameters.yml names (!Ref TaskRole, !GetAtt EventsQueue.QueueName, ...), by the
// name Copilot gives them (a Ref by the logical id, a GetAtt as Resource.Attribute), and the
// values of Copilot's conditions they are read under.
type copilotRefs struct {
	values     map[string]*string
	conditions map[string]bool
}

// value is the CDK value of an addons.parameters.yml value.
func (c copilotRefs) value(v any) (any, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case map[string]any:
		fn, arg, ok := cfn.Intrinsic(x)
		if !ok {
			break
		}
		switch fn {
		case "Ref":
			if s, ok := c.values[fmt.Sprint(arg)]; ok {
				return s, nil
			}
		case "Fn::GetAtt":
			res, attr, _ := cfn.GetAtt(x)
			if s, ok := c.values[res+"."+attr]; ok {
				return s, nil
			}
		case "Fn::If":
			if list, ok := arg.([]any); ok && len(list) == 3 {
				if cond, ok := c.conditions[fmt.Sprint(list[0])]; ok {
					if cond {
						return c.value(list[1])
					}
					return c.value(list[2])
				}
			}
		}
	}
	return nil, fmt.Errorf("%v: no counterpart in the CDK app (deploy/cdk/addons.go)", v)
}

// include adds addon a, whole, to scope, with its parameters given: each one that
// addons.parameters.yml passes (params, resolved with refs) and each one of values; the
// others keep their defaults, as CloudFormation parameters of the stack.
func include(scope constructs.Construct, id string, a *addon, params map[string]any, refs copilotRefs, values map[string]any) (cloudformationinclude.CfnInclude, error) {
	given := map[string]any{}
	for k, v := range params {
		if _, ok := a.Template.Parameters[k]; !ok {
			continue // for another addon of the folder
		}
		cv, err := refs.value(v)
		if err != nil {
			return nil, fmt.Errorf("%s: parameter %s: %w", a.File, k, err)
		}
		given[k] = cv
	}
	for k, v := range values {
		if _, ok := a.Template.Parameters[k]; ok {
			given[k] = v
		}
	}
	return cloudformationinclude.NewCfnInclude(scope, jsii.String(id), &cloudformationinclude.CfnIncludeProps{
		TemplateFile: jsii.String(a.File),
		Parameters:   &given,
	}), nil
}

// loadTemplate reads a CloudFormation template with the project's reader.
func loadTemplate(file string) (*cfn.Template, error) {
	t, err := cfn.Load(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return t, nil
}

// fileID is a construct id for an addon: its file name without the extension.
func fileID(file string) string {
	return strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
}

// jsonValue decodes JSON known to be valid (a filter policy topology has marshalled).
func jsonValue(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic(fmt.Sprintf("jsonValue(%q): %v", s, err))
	}
	return v
}
