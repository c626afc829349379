package iam

import (
	"fmt"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"path/filepath"
	"slices"
	"strings"

	"github.com/pubsub-app/pubsub/internal/devstack/awscalls"
)

// Service is one service's task role as Copilot's rendered stacks define it,
// instantiated for one environment.
type Service struct {
	Name      string
	Grants    *Grants
	QueueKeys map[string]string // queue ARN → its KMS key ARN
}

// LoadService reads `copilot svc package`'s output in dir for service svc
// (rendered for environment "test": <svc>-test.stack.yml, its params and
// <svc>.addons.stack.yml) and instantiates it as deployed to environment
// env: the stack pubsub-<env>-<svc>, with its addons (as a deploy uploads
// them), in region and account. Resource names then match the ones the
// emulator's topology uses, which are Copilot's names without CloudFormation's
// random suffix.
func LoadService(dir, app, env, svc, region, account string) (*Service, error) {
	t, err := cfn.Load(filepath.Join(dir, svc+"-test.stack.yml"))
	if err != nil {
		return nil, err
	}
	params, err := cfn.LoadParams(filepath.Join(dir, svc+"-test.params.json"))
	if err != nil {
		return nil, err
	}
	params["EnvName"] = env
	params["AddonsTemplateURL"] = "https://stand-in/addons.yml" // a deploy uploads them
	stackName := fmt.Sprintf("%s-%s-%s", app, env, svc)
	s, err := NewStack(stackName, region, account, t, params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", svc, err)
	}
	stacks := []*Stack{s}
	if s.Has("AddonsStack") {
		at, err := cfn.Load(filepath.Join(dir, svc+".addons.stack.yml"))
		if err != nil {
			return nil, err
		}
		ap, err := s.Resolve(t.Resources["AddonsStack"].Properties["Parameters"])
		if err != nil {
			return nil, fmt.Errorf("%s AddonsStack parameters: %w", svc, err)
		}
		aparams := map[string]string{}
		for k, v := range ap.(map[string]any) {
			aparams[k] = fmt.Sprint(v)
		}
		as, err := NewStack(stackName+"-AddonsStack", region, account, at, aparams)
		if err != nil {
			return nil, fmt.Errorf("%s addons: %w", svc, err)
		}
		if s.NestedOutputs["AddonsStack"], err = as.Outputs(); err != nil {
			return nil, fmt.Errorf("%s addons: %w", svc, err)
		}
		stacks = append(stacks, as)
	}
	g, keys, err := StackGrants("TaskRole", stacks...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", svc, err)
	}
	return &Service{Name: svc, Grants: g, QueueKeys: keys}, nil
}

// Request is one permission a call needs.
type Request struct {
	Call     awscalls.Call
	Action   string
	Resource string
	Why      string // for a permission the call needs beyond its own action
}

// Requests returns the permissions a recorded call needs: its action on each
// resource it names (a DynamoDB index by its own ARN), and kms:Decrypt on the
// key of an SSE-KMS queue it receives from.
func (s *Service) Requests(c awscalls.Call, region, account string) ([]Request, error) {
	action, err := ActionFor(c.Service, c.API)
	if err != nil {
		return nil, err
	}
	var out []Request
	for _, r := range c.Resources {
		arn := r
		switch c.Service {
		case "sqs":
			arn = QueueARN(r, region)
		case "dynamodb":
			arn = fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", region, account, r)
			if c.Index != "" {
				arn += "/index/" + c.Index
			}
		}
		out = append(out, Request{Call: c, Action: action, Resource: arn})
		if key, ok := s.QueueKeys[arn]; ok && action == "sqs:ReceiveMessage" {
			out = append(out, Request{Call: c, Action: "kms:Decrypt", Resource: key, Why: "receiving from an SSE-KMS queue"})
		}
	}
	if len(c.Resources) == 0 {
		return nil, fmt.Errorf("%s: no resource recorded", c)
	}
	return out, nil
}

// Unused returns the grants that no allowed request matched.
func (s *Service) Unused(allowed []Request) []Grant {
	var out []Grant
	for _, gr := range s.Grants.Allowed() {
		if !slices.ContainsFunc(allowed, func(r Request) bool { return gr.Covers(r.Action, r.Resource) }) {
			out = append(out, gr)
		}
	}
	return out
}

// EnvOf returns the environment a resource of app belongs to, by Copilot's
// naming (<app>-<env>-<svc>-...; environment names have no '-').
func EnvOf(resource, app string) (string, bool) {
	name := resource
	if i := strings.LastIndexAny(name, ":/"); i >= 0 {
		name = name[i+1:]
	}
	rest, ok := strings.CutPrefix(name, app+"-")
	if !ok {
		return "", false
	}
	env, _, ok := strings.Cut(rest, "-")
	return env, ok && env != ""
}
