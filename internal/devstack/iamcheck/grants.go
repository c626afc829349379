package iamcheck

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
)

// StackGrants reads what the role with logical id role may do in a rendered
// service stack and the stacks nested in it: the role's inline policies, the
// managed policies it attaches (an addon's, through the nested stack's
// outputs) and the policies of any stack that name it (AWS::IAM::Policy and
// AWS::IAM::ManagedPolicy with Roles, AWS::IAM::RolePolicy with RoleName),
// plus every queue, topic and key policy. It also returns each queue's KMS
// key, by queue ARN.
//
// A policy names a role by its name, as IAM does. In an addons stack that name
// is a parameter the service stack binds to !Ref TaskRole (addons.parameters.yml
// passes it; the workers' table policies do this, so that the task role does
// not depend on the addons stack); the nested stack is instantiated with the
// parameter resolved in the service stack (LoadService), so its Roles resolve
// to the role's name and the policy applies to the role. A policy whose roles
// resolve to another role's name, or to an unbound parameter, does not.
func StackGrants(role string, stacks ...*cfn.Stack) (g *Grants, queueKeys map[string]string, err error) {
	svc := stacks[0]
	if !svc.Has(role) {
		return nil, nil, fmt.Errorf("stack %s has no resource %s", svc.Name, role)
	}
	roleARN, err := svc.Attr(role, "Arn")
	if err != nil {
		return nil, nil, err
	}
	roleName, _ := svc.Attr(role, "Ref")
	g = &Grants{Principal: fmt.Sprint(roleARN), Account: svc.Account, Resource: map[string][]Statement{}}
	queueKeys = map[string]string{}

	props, err := svc.Resolve(svc.Template.Resources[role].Properties)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", role, err)
	}
	p, _ := props.(map[string]any)
	for _, pol := range list(p["Policies"]) {
		m, _ := pol.(map[string]any)
		g.Identity = append(g.Identity, statements(fmt.Sprintf("%s policy %v", role, m["PolicyName"]), fmt.Sprint(m["PolicyName"]), m["PolicyDocument"])...)
	}
	attached := map[string]bool{}
	for _, arn := range list(p["ManagedPolicyArns"]) {
		attached[fmt.Sprint(arn)] = true
	}

	for _, s := range stacks {
		for _, logical := range sortedKeys(s.Template.Resources) {
			if !s.Has(logical) {
				continue
			}
			r := s.Template.Resources[logical]
			where := s.Name + " " + logical
			switch r.Type {
			case "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::RolePolicy":
				arn, _ := s.Attr(logical, "Ref")
				props, err := s.Resolve(r.Properties)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", where, err)
				}
				m, _ := props.(map[string]any)
				roles := list(m["Roles"])
				if r.Type == "AWS::IAM::RolePolicy" {
					roles = list(m["RoleName"])
				}
				if attached[fmt.Sprint(arn)] || slices.ContainsFunc(roles, func(r any) bool { return fmt.Sprint(r) == fmt.Sprint(roleName) }) {
					g.Identity = append(g.Identity, statements(where, logical, m["PolicyDocument"])...)
					delete(attached, fmt.Sprint(arn))
				}
			case "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy":
				props, err := s.Resolve(r.Properties)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", where, err)
				}
				m, _ := props.(map[string]any)
				targets := list(m["Topics"])
				for _, u := range list(m["Queues"]) {
					targets = append(targets, queueARN(fmt.Sprint(u)))
				}
				for _, t := range targets {
					g.Resource[fmt.Sprint(t)] = append(g.Resource[fmt.Sprint(t)], statements(where, logical, m["PolicyDocument"])...)
				}
			case "AWS::KMS::Key":
				props, err := s.Resolve(r.Properties)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", where, err)
				}
				m, _ := props.(map[string]any)
				arn, _ := s.Attr(logical, "Arn")
				g.Resource[fmt.Sprint(arn)] = append(g.Resource[fmt.Sprint(arn)], statements(where, logical, m["KeyPolicy"])...)
			case "AWS::SQS::Queue":
				key, ok := r.Properties["KmsMasterKeyId"]
				if !ok {
					continue
				}
				arn, _ := s.Attr(logical, "Arn")
				keyID, err := s.Resolve(key)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", where, err)
				}
				// A key of this stack is named by its logical id; see getAtt.
				if _, ok := s.Template.Resources[fmt.Sprint(keyID)]; ok {
					k, _ := s.Attr(fmt.Sprint(keyID), "Arn")
					queueKeys[fmt.Sprint(arn)] = fmt.Sprint(k)
				} else {
					queueKeys[fmt.Sprint(arn)] = fmt.Sprint(keyID)
				}
			}
		}
	}
	for arn := range attached {
		// An AWS managed policy, or one this test cannot see: it grants nothing here.
		g.Identity = append(g.Identity, Statement{Source: "managed policy " + arn + " (not in the rendered stacks; not evaluated)", Policy: arn, Effect: "Allow", Conditional: true})
	}
	return g, queueKeys, nil
}

// queueARN turns a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME,
// or an emulator's http://HOST/ACCOUNT/NAME) into the queue's ARN, the region
// taken from the URL's host where it has one.
func queueARN(u string) string {
	rest := u
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 {
		return u
	}
	region := ""
	if h := strings.Split(parts[0], "."); len(h) > 2 && h[0] == "sqs" {
		region = h[1]
	}
	return fmt.Sprintf("arn:aws:sqs:%s:%s:%s", region, parts[1], parts[2])
}

// QueueARN is queueARN with the region given, for emulators whose queue URLs
// do not carry one.
func QueueARN(u, region string) string {
	arn := queueARN(u)
	if strings.HasPrefix(arn, "arn:aws:sqs::") {
		arn = "arn:aws:sqs:" + region + arn[len("arn:aws:sqs:"):]
	}
	return arn
}

func list(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	}
	return []any{v}
}

func strs(v any) []string {
	var out []string
	for _, e := range list(v) {
		out = append(out, fmt.Sprint(e))
	}
	return out
}

// statements reads a resolved policy document, the policy named policy in
// its stack.
func statements(source, policy string, doc any) []Statement {
	d, _ := doc.(map[string]any)
	var out []Statement
	for _, st := range list(d["Statement"]) {
		m, _ := st.(map[string]any)
		s := Statement{
			Source:        source,
			Policy:        policy,
			Sid:           fmt.Sprint(orEmpty(m["Sid"])),
			Effect:        fmt.Sprint(m["Effect"]),
			Principals:    principals(m["Principal"]),
			NotPrincipals: principals(m["NotPrincipal"]),
			Actions:       strs(m["Action"]),
			NotActions:    strs(m["NotAction"]),
			Resources:     strs(m["Resource"]),
			NotResources:  strs(m["NotResource"]),
		}
		if c, ok := m["Condition"]; ok {
			s.Conditional = true
			s.Condition = map[string]map[string][]string{}
			ops, _ := c.(map[string]any)
			for op, entries := range ops {
				s.Condition[op] = map[string][]string{}
				keys, _ := entries.(map[string]any)
				for k, v := range keys {
					s.Condition[op][k] = strs(v)
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// principals reads a Principal or NotPrincipal: "*" or its AWS principals
// (a service principal is never the role).
func principals(v any) []string {
	switch p := v.(type) {
	case string:
		return []string{p}
	case map[string]any:
		return strs(p["AWS"])
	}
	return nil
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}
