package cfn

// This file resolves a template's intrinsic functions as CloudFormation would for one stack,
// as far as the stacks of this project need: Ref, Fn::GetAtt of the resource types they hold,
// Fn::Sub, Fn::If, Fn::Join, Fn::Split, Fn::Select and the conditions.

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Unresolved is the value given to what only a real deployment knows (an
// export of another stack, an attribute nothing here models).
func Unresolved(what string) string { return unresolvedPrefix + what + "}" }

const unresolvedPrefix = "{unresolved:"

// IsUnresolved reports whether s holds a value only a real deployment knows (Unresolved).
func IsUnresolved(s string) bool { return strings.Contains(s, unresolvedPrefix) }

// noValue stands for AWS::NoValue until the property holding it is dropped.
type noValue struct{}

// Stack is a template instantiated with its parameters: what resolving Ref,
// Fn::GetAtt and the other functions needs.
type Stack struct {
	Name            string // the stack name (AWS::StackName)
	Region, Account string
	Template        *Template
	Params          map[string]string
	conditions      map[string]bool
	NestedOutputs   map[string]map[string]any // logical id of a nested stack → its resolved outputs
	Imports         map[string]any            // export name → value, for Fn::ImportValue (Deployment sets it)
}

// NewStack resolves the template's conditions with params (missing ones take
// their defaults).
func NewStack(name, region, account string, t *Template, params map[string]string) (*Stack, error) {
	s := &Stack{Name: name, Region: region, Account: account, Template: t, Params: map[string]string{}, NestedOutputs: map[string]map[string]any{}}
	for k, p := range t.Parameters {
		if p.Default != nil {
			s.Params[k] = fmt.Sprint(p.Default)
		}
	}
	for k, v := range params {
		s.Params[k] = v
	}
	s.conditions = map[string]bool{}
	for name := range t.Conditions {
		if _, err := s.condition(name, 0); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Stack) condition(name string, depth int) (bool, error) {
	if v, ok := s.conditions[name]; ok {
		return v, nil
	}
	if depth > 20 {
		return false, fmt.Errorf("condition %s: too deep", name)
	}
	expr, ok := s.Template.Conditions[name]
	if !ok {
		return false, fmt.Errorf("no condition %s", name)
	}
	v, err := s.evalCondition(expr, depth+1)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	s.conditions[name] = v
	return v, nil
}

func (s *Stack) evalCondition(expr any, depth int) (bool, error) {
	m, ok := expr.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("not a condition: %v", expr)
	}
	for fn, arg := range m {
		args, _ := arg.([]any)
		switch fn {
		case "Condition":
			return s.condition(fmt.Sprint(arg), depth)
		case "Fn::Equals":
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals takes 2 values: %v", arg)
			}
			a, err := s.Resolve(args[0])
			if err != nil {
				return false, err
			}
			b, err := s.Resolve(args[1])
			if err != nil {
				return false, err
			}
			return fmt.Sprint(a) == fmt.Sprint(b), nil
		case "Fn::Not", "Fn::And", "Fn::Or":
			var vals []bool
			for _, a := range args {
				v, err := s.evalCondition(a, depth)
				if err != nil {
					return false, err
				}
				vals = append(vals, v)
			}
			switch fn {
			case "Fn::Not":
				return len(vals) == 1 && !vals[0], nil
			case "Fn::And":
				for _, v := range vals {
					if !v {
						return false, nil
					}
				}
				return true, nil
			default:
				for _, v := range vals {
					if v {
						return true, nil
					}
				}
				return false, nil
			}
		}
		return false, fmt.Errorf("unknown condition function %s", fn)
	}
	return false, nil
}

// Has reports whether the resource exists once conditions are applied.
func (s *Stack) Has(logical string) bool {
	r, ok := s.Template.Resources[logical]
	if !ok {
		return false
	}
	if r.Condition == "" {
		return true
	}
	v, _ := s.condition(r.Condition, 0)
	return v
}

// Resolve evaluates every intrinsic function in v; properties that resolve
// to AWS::NoValue are dropped.
func (s *Stack) Resolve(v any) (any, error) {
	out, err := s.resolve(v)
	if _, ok := out.(noValue); ok {
		return nil, err
	}
	return out, err
}

func (s *Stack) resolve(v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, 0, len(v))
		for _, e := range v {
			r, err := s.resolve(e)
			if err != nil {
				return nil, err
			}
			if _, ok := r.(noValue); !ok {
				out = append(out, r)
			}
		}
		return out, nil
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				if fn == "Ref" || strings.HasPrefix(fn, "Fn::") {
					return s.function(fn, arg)
				}
			}
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			r, err := s.resolve(e)
			if err != nil {
				return nil, err
			}
			if _, ok := r.(noValue); !ok {
				out[k] = r
			}
		}
		return out, nil
	}
	return v, nil
}

func (s *Stack) function(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		return s.ref(fmt.Sprint(arg))
	case "Fn::GetAtt":
		parts, _ := arg.([]any)
		if dotted, ok := arg.(string); ok { // the short form's "Resource.Attribute"
			if res, attr, ok := strings.Cut(dotted, "."); ok {
				parts = []any{res, attr}
			}
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt wants [resource, attribute]: %v", arg)
		}
		return s.Attr(fmt.Sprint(parts[0]), fmt.Sprint(parts[1]))
	case "Fn::Sub":
		return s.sub(arg)
	case "Fn::If":
		args, _ := arg.([]any)
		if len(args) != 3 {
			return nil, fmt.Errorf("Fn::If wants 3 values: %v", arg)
		}
		c, err := s.condition(fmt.Sprint(args[0]), 0)
		if err != nil {
			return nil, err
		}
		if c {
			return s.resolve(args[1])
		}
		return s.resolve(args[2])
	}
	// The rest take resolved arguments.
	a, err := s.resolve(arg)
	if err != nil {
		return nil, err
	}
	args, _ := a.([]any)
	switch fn {
	case "Fn::Join":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::Join wants [separator, list]: %v", a)
		}
		list, _ := args[1].([]any)
		parts := make([]string, len(list))
		for i, p := range list {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, fmt.Sprint(args[0])), nil
	case "Fn::Split":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::Split wants [separator, string]: %v", a)
		}
		var out []any
		for _, p := range strings.Split(fmt.Sprint(args[1]), fmt.Sprint(args[0])) {
			out = append(out, p)
		}
		return out, nil
	case "Fn::Select":
		if len(args) != 2 {
			return nil, fmt.Errorf("Fn::Select wants [index, list]: %v", a)
		}
		i, err := strconv.Atoi(fmt.Sprint(args[0]))
		list, _ := args[1].([]any)
		if err != nil || i < 0 || i >= len(list) {
			return Unresolved(fmt.Sprintf("Select %v", a)), nil
		}
		return list[i], nil
	case "Fn::ImportValue":
		if v, ok := s.Imports[fmt.Sprint(a)]; ok {
			return v, nil
		}
		return Unresolved("import " + fmt.Sprint(a)), nil
	case "Fn::GetAZs":
		return []any{s.Region + "a", s.Region + "b"}, nil
	case "Fn::Base64", "Fn::FindInMap", "Fn::Cidr", "Fn::Transform", "Fn::Length", "Fn::ToJsonString":
		return Unresolved(fn), nil
	}
	return nil, fmt.Errorf("unknown function %s", fn)
}

func (s *Stack) ref(name string) (any, error) {
	switch name {
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::Region":
		return s.Region, nil
	case "AWS::AccountId":
		return s.Account, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::StackName":
		return s.Name, nil
	case "AWS::StackId":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/id", s.Region, s.Account, s.Name), nil
	}
	if v, ok := s.Params[name]; ok {
		return v, nil
	}
	if _, ok := s.Template.Parameters[name]; ok {
		return Unresolved("parameter " + name), nil
	}
	return s.Attr(name, "Ref")
}

// physicalName is the name CloudFormation gives a resource: the name
// property when the template sets one, else stack-logicalid (CloudFormation
// adds a random suffix, which the emulator's resources do not have).
func (s *Stack) physicalName(logical, prop string) (string, error) {
	r := s.Template.Resources[logical]
	if v, ok := r.Properties[prop]; ok {
		n, err := s.Resolve(v)
		if err != nil {
			return "", err
		}
		return fmt.Sprint(n), nil
	}
	return s.Name + "-" + logical, nil
}

// Attr is Fn::GetAtt of a resource of the stack, or with attr "Ref" its Ref: names and ARNs as
// CloudFormation would make them (see physicalName) for the types in named, the resolved
// outputs of a nested stack (NestedOutputs), Unresolved for anything else.
func (s *Stack) Attr(logical, attr string) (any, error) {
	r, ok := s.Template.Resources[logical]
	if !ok {
		return nil, fmt.Errorf("no resource %s", logical)
	}
	if n, ok := named[r.Type]; ok {
		if format, ok := n.attrs[attr]; ok {
			name := logical
			if n.nameProp != "" {
				var err error
				if name, err = s.physicalName(logical, n.nameProp); err != nil {
					return nil, err
				}
			}
			return fmt.Sprintf(format, s.Region, s.Account, name), nil
		}
	}
	if out, ok := strings.CutPrefix(attr, "Outputs."); ok && r.Type == "AWS::CloudFormation::Stack" {
		if v, ok := s.NestedOutputs[logical][out]; ok {
			return v, nil
		}
	}
	return Unresolved(logical + "." + attr), nil
}

// named are the resource types whose names and ARNs Attr makes: the property that names one
// (none: a key is named by its logical id), and each attribute (Ref for Ref) as a format of
// the region, the account and the name.
var named = map[string]struct {
	nameProp string
	attrs    map[string]string
}{
	"AWS::SQS::Queue":         {"QueueName", map[string]string{"Ref": sqsURL, "QueueUrl": sqsURL, "Arn": "arn:aws:sqs:%[1]s:%[2]s:%[3]s", "QueueName": "%[3]s"}},
	"AWS::SNS::Topic":         {"TopicName", map[string]string{"Ref": snsARN, "TopicArn": snsARN, "TopicName": "%[3]s"}},
	"AWS::DynamoDB::Table":    {"TableName", map[string]string{"Ref": "%[3]s", "Arn": "arn:aws:dynamodb:%[1]s:%[2]s:table/%[3]s"}},
	"AWS::IAM::Role":          {"RoleName", map[string]string{"Ref": "%[3]s", "Arn": "arn:aws:iam::%[2]s:role/%[3]s"}},
	"AWS::IAM::ManagedPolicy": {"ManagedPolicyName", map[string]string{"Ref": policyARN, "PolicyArn": policyARN}},
	"AWS::KMS::Key":           {"", map[string]string{"Ref": "%[3]s", "KeyId": "%[3]s", "Arn": "arn:aws:kms:%[1]s:%[2]s:key/%[3]s"}},
}

const (
	sqsURL    = "https://sqs.%[1]s.amazonaws.com/%[2]s/%[3]s"
	snsARN    = "arn:aws:sns:%[1]s:%[2]s:%[3]s"
	policyARN = "arn:aws:iam::%[2]s:policy/%[3]s"
)

var subVar = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

func (s *Stack) sub(arg any) (any, error) {
	var text string
	vars := map[string]any{}
	switch a := arg.(type) {
	case string:
		text = a
	case []any:
		if len(a) != 2 {
			return nil, fmt.Errorf("Fn::Sub wants a string or [string, variables]: %v", arg)
		}
		text = fmt.Sprint(a[0])
		m, _ := a[1].(map[string]any)
		for k, v := range m {
			r, err := s.Resolve(v)
			if err != nil {
				return nil, err
			}
			vars[k] = r
		}
	default:
		return nil, fmt.Errorf("Fn::Sub wants a string: %v", arg)
	}
	var firstErr error
	out := subVar.ReplaceAllStringFunc(text, func(m string) string {
		name := m[2 : len(m)-1]
		if v, ok := vars[name]; ok {
			return fmt.Sprint(v)
		}
		var v any
		var err error
		if res, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
			v, err = s.Attr(res, attr)
		} else {
			v, err = s.ref(name)
		}
		if err != nil && firstErr == nil {
			firstErr = err
		}
		return fmt.Sprint(v)
	})
	return strings.ReplaceAll(out, "${!", "${"), firstErr
}

// Outputs resolves the template's outputs.
func (s *Stack) Outputs() (map[string]any, error) {
	out := map[string]any{}
	for k, o := range s.Template.Outputs {
		if o.Condition != "" {
			if v, _ := s.condition(o.Condition, 0); !v {
				continue
			}
		}
		v, err := s.Resolve(o.Value)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}
