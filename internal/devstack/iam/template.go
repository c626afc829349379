package iam

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
)

// Unresolved is the value given to what only a real deployment knows (an
// export of another stack, an attribute nothing here models).
func Unresolved(what string) string { return "{unresolved:" + what + "}" }

// noValue stands for AWS::NoValue until the property holding it is dropped.
type noValue struct{}

// Stack is a template instantiated with its parameters: what resolving Ref,
// Fn::GetAtt and the other functions needs.
type Stack struct {
	Name            string // the stack name (AWS::StackName)
	Region, Account string
	Template        *cfn.Template
	Params          map[string]string
	conditions      map[string]bool
	NestedOutputs   map[string]map[string]any // logical id of a nested stack → its resolved outputs
}

// NewStack resolves the template's conditions with params (missing ones take
// their defaults).
func NewStack(name, region, account string, t *cfn.Template, params map[string]string) (*Stack, error) {
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
		if len(parts) != 2 {
			return nil, fmt.Errorf("Fn::GetAtt wants [resource, attribute]: %v", arg)
		}
		return s.getAtt(fmt.Sprint(parts[0]), fmt.Sprint(parts[1]))
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
	return s.getAtt(name, "Ref")
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

func (s *Stack) getAtt(logical, attr string) (any, error) {
	r, ok := s.Template.Resources[logical]
	if !ok {
		return nil, fmt.Errorf("no resource %s", logical)
	}
	arn := func(service, resource string) string {
		return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, s.Region, s.Account, resource)
	}
	switch r.Type {
	case "AWS::SQS::Queue":
		name, err := s.physicalName(logical, "QueueName")
		if err != nil {
			return nil, err
		}
		switch attr {
		case "Ref", "QueueUrl":
			return fmt.Sprintf("https://sqs.%s.amazonaws.com/%s/%s", s.Region, s.Account, name), nil
		case "Arn":
			return arn("sqs", name), nil
		case "QueueName":
			return name, nil
		}
	case "AWS::SNS::Topic":
		name, err := s.physicalName(logical, "TopicName")
		if err != nil {
			return nil, err
		}
		switch attr {
		case "Ref", "TopicArn":
			return arn("sns", name), nil
		case "TopicName":
			return name, nil
		}
	case "AWS::DynamoDB::Table":
		name, err := s.physicalName(logical, "TableName")
		if err != nil {
			return nil, err
		}
		switch attr {
		case "Ref":
			return name, nil
		case "Arn":
			return arn("dynamodb", "table/"+name), nil
		}
	case "AWS::IAM::Role":
		name, err := s.physicalName(logical, "RoleName")
		if err != nil {
			return nil, err
		}
		switch attr {
		case "Ref":
			return name, nil
		case "Arn":
			return fmt.Sprintf("arn:aws:iam::%s:role/%s", s.Account, name), nil
		}
	case "AWS::IAM::ManagedPolicy":
		name, err := s.physicalName(logical, "ManagedPolicyName")
		if err != nil {
			return nil, err
		}
		if attr == "Ref" || attr == "PolicyArn" {
			return fmt.Sprintf("arn:aws:iam::%s:policy/%s", s.Account, name), nil
		}
	case "AWS::KMS::Key":
		switch attr {
		case "Ref", "KeyId":
			return logical, nil
		case "Arn":
			return arn("kms", "key/"+logical), nil
		}
	case "AWS::CloudFormation::Stack":
		if out, ok := strings.CutPrefix(attr, "Outputs."); ok {
			if v, ok := s.NestedOutputs[logical][out]; ok {
				return v, nil
			}
		}
	}
	return Unresolved(logical + "." + attr), nil
}

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
			v, err = s.getAtt(res, attr)
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
