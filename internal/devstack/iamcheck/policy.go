// Package iamcheck is the IAM check of a test run (Check): each AWS call the services made, as
// awscalls recorded it, is evaluated against the service's task role in the stacks Copilot
// renders (instantiated by cfn), and the grants no call used, or wider than the calls they
// cover, are listed. Its evaluator is the part of AWS's policy evaluation, within one account,
// that those stacks use: the role's identity policies and the resource policies that name it
// (queue, topic and key policies), Allow and Deny, action and ARN wildcards, NotAction,
// NotResource and NotPrincipal. Conditions are evaluated only so far as to err toward denied: a
// conditional Allow never allows, and a conditional Deny denies unless its condition is one
// conditions.go knows cannot hold for the role's own calls. Permission boundaries, SCPs and
// session policies are not modelled: a call allowed here is one the rendered policies allow.
package iamcheck

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// Statement is one policy statement, its values resolved to strings.
type Statement struct {
	Source string // where it was found, for messages: "TaskRole policy Publish2SNS"
	// Policy names the policy in its stack: the logical id of the policy,
	// queue policy or key, or an inline policy's PolicyName. With Sid it
	// identifies a statement in any environment (Accepted matches on them).
	Policy        string
	Sid           string
	Effect        string   // Allow or Deny
	Principals    []string // resource policies: the AWS principals ("*" for anyone)
	NotPrincipals []string
	Actions       []string
	NotActions    []string
	Resources     []string
	NotResources  []string
	// Condition is the statement's condition block: operator → key → values.
	Condition map[string]map[string][]string
	// A conditional statement never allows; a conditional Deny denies unless
	// its condition cannot hold (conditions.go).
	Conditional bool
}

func (s Statement) String() string {
	id := s.Source
	if s.Sid != "" {
		id += " (" + s.Sid + ")"
	}
	out := id + ": " + s.Effect
	if len(s.Principals) > 0 {
		out += " Principal " + strings.Join(s.Principals, ",")
	}
	if len(s.NotPrincipals) > 0 {
		out += " NotPrincipal " + strings.Join(s.NotPrincipals, ",")
	}
	if len(s.NotActions) > 0 {
		out += " NotAction " + strings.Join(s.NotActions, ",")
	} else {
		out += " " + strings.Join(s.Actions, ",")
	}
	if len(s.NotResources) > 0 {
		out += " on NotResource " + strings.Join(s.NotResources, ",")
	} else if len(s.Resources) > 0 {
		out += " on " + strings.Join(s.Resources, ",")
	}
	if s.Conditional {
		var conds []string
		for _, op := range sortedKeys(s.Condition) {
			for _, key := range sortedKeys(s.Condition[op]) {
				conds = append(conds, fmt.Sprintf("%s %s %s", op, key, strings.Join(s.Condition[op][key], ",")))
			}
		}
		out += " if " + strings.Join(conds, " and ")
		if len(conds) == 0 {
			out += "a condition not evaluated"
		}
	}
	return out
}

// matchesAction reports whether the statement covers action (IAM actions
// compare case-insensitively).
func (s Statement) matchesAction(action string) bool {
	if len(s.NotActions) > 0 {
		return !slices.ContainsFunc(s.NotActions, func(p string) bool { return wildcard(strings.ToLower(p), strings.ToLower(action)) })
	}
	return slices.ContainsFunc(s.Actions, func(p string) bool { return wildcard(strings.ToLower(p), strings.ToLower(action)) })
}

// matchesResource reports whether the statement covers resource. A
// resource policy statement without Resource covers the resource it is
// attached to; one with NotResource every resource it does not name.
func (s Statement) matchesResource(resource string) bool {
	if len(s.NotResources) > 0 {
		return !slices.ContainsFunc(s.NotResources, func(p string) bool { return wildcard(p, resource) })
	}
	if len(s.Resources) == 0 {
		return true
	}
	return slices.ContainsFunc(s.Resources, func(p string) bool { return wildcard(p, resource) })
}

// namesPrincipal reports whether a resource policy statement applies to
// principal: it names it or "*", or has a NotPrincipal that does not name it.
func (s Statement) namesPrincipal(principal string) bool {
	if len(s.NotPrincipals) > 0 {
		return !slices.Contains(s.NotPrincipals, principal)
	}
	return slices.ContainsFunc(s.Principals, func(p string) bool { return p == "*" || p == principal })
}

// wildcard matches s against an IAM pattern: * is any run of characters
// (including none and including '/' and ':'), ? any one character.
func wildcard(pattern, s string) bool {
	// path.Match's * stops at '/', IAM's does not: match without separators
	// by mapping '/' out of the way on both sides.
	const sep = "\x00"
	ok, err := path.Match(strings.ReplaceAll(escapeBrackets(pattern), "/", sep), strings.ReplaceAll(s, "/", sep))
	return err == nil && ok
}

// escapeBrackets keeps '[' and '\\', which IAM takes literally, from being
// read as path.Match syntax.
func escapeBrackets(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `[`, `\[`)
	return r.Replace(p)
}

// Grants are the statements that apply to one principal.
type Grants struct {
	Principal string // the role's ARN
	Account   string // its account id
	// Identity holds the statements of the role's inline and managed policies.
	Identity []Statement
	// Resource holds resource policy statements by the ARN of the resource
	// they are attached to (a queue, a key).
	Resource map[string][]Statement
}

// Decision is the outcome of one evaluation.
type Decision struct {
	Allowed bool
	// By is the statement that allowed the call, or the one that denied it.
	By *Statement
	// Why says what was missing when nothing allowed the call.
	Why string
}

// Evaluate decides whether the principal may perform action on resource:
// an explicit Deny in any applicable statement wins (a conditional one unless
// its condition cannot hold); otherwise an unconditional Allow in
// its identity policies or in the resource's policy suffices (one account).
// KMS is the exception: a key's policy must allow the principal itself, or
// the account (its root), in which case identity policies may grant it.
func (g *Grants) Evaluate(action, resource string) Decision {
	var allows []*Statement
	kms := strings.HasPrefix(strings.ToLower(action), "kms:")
	root := "arn:aws:iam::" + g.Account + ":root"
	keyDelegates := false
	for i := range g.Identity {
		s := &g.Identity[i]
		if !s.matchesAction(action) || !s.matchesResource(resource) {
			continue
		}
		if s.Effect == "Deny" {
			if s.Conditional && g.cannotHold(s.Condition) {
				continue
			}
			return Decision{By: s}
		}
		if !s.Conditional {
			allows = append(allows, s)
		}
	}
	var resourceAllows []*Statement
	for i := range g.Resource[resource] {
		s := &g.Resource[resource][i]
		if !s.matchesAction(action) || !s.matchesResource(resource) {
			continue
		}
		if s.Effect == "Deny" {
			if !s.namesPrincipal(g.Principal) || (s.Conditional && g.cannotHold(s.Condition)) {
				continue
			}
			return Decision{By: s}
		}
		if s.Conditional {
			continue
		}
		if kms && slices.Contains(s.Principals, root) {
			keyDelegates = true
		}
		if s.namesPrincipal(g.Principal) {
			resourceAllows = append(resourceAllows, s)
		}
	}
	switch {
	case len(resourceAllows) > 0:
		return Decision{Allowed: true, By: resourceAllows[0]}
	case kms && !keyDelegates:
		return Decision{Why: "the key policy neither allows the role nor delegates " + action + " to the account"}
	case len(allows) > 0:
		return Decision{Allowed: true, By: allows[0]}
	}
	return Decision{Why: "no statement allows " + action + " on " + resource}
}

// Grant is one allowed action on one resource pattern, as a statement
// writes it.
type Grant struct {
	Statement *Statement
	Action    string
	Resource  string
}

// Allowed lists every (action, resource) pair that the Allow statements
// applying to the principal grant: its identity statements, and resource
// policy statements that name the role or "*" (a statement with NotAction
// or NotResource lists no pair; Wide reports it).
func (g *Grants) Allowed() []Grant {
	var out []Grant
	add := func(s *Statement, attached string) {
		if s.Effect != "Allow" || len(s.NotResources) > 0 {
			return
		}
		res := s.Resources
		if len(res) == 0 {
			res = []string{attached}
		}
		for _, a := range s.Actions {
			for _, r := range res {
				if r == "*" && attached != "" {
					r = attached
				}
				out = append(out, Grant{Statement: s, Action: a, Resource: r})
			}
		}
	}
	for i := range g.Identity {
		add(&g.Identity[i], "")
	}
	for _, arn := range sortedKeys(g.Resource) {
		for i := range g.Resource[arn] {
			if s := &g.Resource[arn][i]; s.namesPrincipal(g.Principal) {
				add(s, arn)
			}
		}
	}
	return out
}

// Covers reports whether the grant's patterns match action on resource.
func (gr Grant) Covers(action, resource string) bool {
	return wildcard(strings.ToLower(gr.Action), strings.ToLower(action)) && wildcard(gr.Resource, resource)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
