package iamcheck

import (
	"fmt"
	"slices"
	"strings"
)

// Wide is a part of an Allow statement applying to the role that is wider
// than any set of calls can need. The actions a service defines and the
// resources of the stacks are finite and named, so the narrowest grant that
// lets given calls through names each action and resource they use: a
// wildcard in an action or in an identity policy's resource, a NotAction or
// NotResource (everything but), and a resource policy open to Principal "*"
// or to NotPrincipal (anyone but) grant more than the calls they cover.
type Wide struct {
	Statement *Statement
	// Attached is the resource a resource policy is attached to; "" for an
	// identity policy.
	Attached string
	// What names the wide part: `action "sqs:*"`, `Resource "*"`,
	// `NotAction`, `NotResource`, `Principal "*"`, `NotPrincipal`.
	What string
	// Action is the wildcard action What names, "" for the other kinds.
	Action string
}

func (w Wide) String() string {
	return fmt.Sprintf("%s in %s", w.What, w.Statement)
}

// Wide lists the wide parts of the Allow statements that apply to the role:
// its identity statements, and the resource policy statements that name it,
// "*" or a NotPrincipal. In a resource policy the resource is the one it is
// attached to (a key policy's "*" is the key), so there only its actions and
// principals can be wide. A statement that names the account root delegates
// to identity policies and grants the role nothing itself.
func (g *Grants) Wide() []Wide {
	var out []Wide
	check := func(s *Statement, attached string) {
		if s.Effect != "Allow" {
			return
		}
		add := func(what, action string) {
			out = append(out, Wide{Statement: s, Attached: attached, What: what, Action: action})
		}
		if len(s.NotActions) > 0 {
			add("NotAction", "")
		}
		for _, a := range s.Actions {
			if strings.ContainsAny(a, "*?") {
				add(fmt.Sprintf("action %q", a), a)
			}
		}
		if attached == "" {
			if len(s.NotResources) > 0 {
				add("NotResource", "")
			}
			for _, r := range s.Resources {
				if strings.ContainsAny(r, "*?") {
					add(fmt.Sprintf("Resource %q", r), "")
				}
			}
			return
		}
		if slices.Contains(s.Principals, "*") {
			add(`Principal "*"`, "")
		}
		if len(s.NotPrincipals) > 0 {
			add("NotPrincipal", "")
		}
	}
	for i := range g.Identity {
		check(&g.Identity[i], "")
	}
	for _, arn := range sortedKeys(g.Resource) {
		for i := range g.Resource[arn] {
			if s := &g.Resource[arn][i]; s.namesPrincipal(g.Principal) {
				check(s, arn)
			}
		}
	}
	return out
}

// Covers reports whether the wide statement matches the request (it let
// the call through, or would have but for another statement).
func (w Wide) Covers(r Request) bool {
	if w.Attached != "" && w.Attached != r.Resource {
		return false
	}
	return w.Statement.matchesAction(r.Action) && w.Statement.matchesResource(r.Resource)
}
