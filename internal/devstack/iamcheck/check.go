package iamcheck

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/pubsub-app/pubsub/internal/devstack/awscalls"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
)

// Service is one service's task role as a deployer's stacks define it,
// instantiated for one environment.
type Service struct {
	Name      string
	Grants    *Grants
	QueueKeys map[string]string // queue ARN → its KMS key ARN
}

// Roles are one deployer's task roles: Load returns service svc's as deployed to environment
// env in region and account, its resource names then those the emulator's topology uses
// (Copilot's names, without CloudFormation's random suffix).
type Roles struct {
	App   string // the application: its resources are named <App>-<env>-...
	Where string // the templates, for the report
	Load  func(env, svc, region, account string) (*Service, error)
}

// RenderedRoles are the task roles of the stacks Copilot renders (make render): each
// workload's role TaskRole, with its policies in the workload's stack and addons.
func RenderedRoles(r *cfn.Rendered) Roles {
	return Roles{App: r.Info.App, Where: r.Dir, Load: func(env, svc, region, account string) (*Service, error) {
		return LoadService(r, env, svc, region, account)
	}}
}

// AssemblyRoles are the task roles of the stacks the AWS CDK app synthesizes (make synth), the
// services given as name → manifest type: each service's task definition's role.
func AssemblyRoles(a *cfn.Assembly, services map[string]string) Roles {
	deployed := map[string]*cfn.Deployment{} // by env/region/account: each instantiated once
	return Roles{App: a.App, Where: a.Dir, Load: func(env, svc, region, account string) (*Service, error) {
		key := env + "/" + region + "/" + account
		d := deployed[key]
		if d == nil {
			var err error
			if d, err = a.Deployment(env, region, account, services); err != nil {
				return nil, err
			}
			deployed[key] = d
		}
		w := d.Workload(svc)
		if w == nil {
			return nil, fmt.Errorf("%s: no service %s", a.Dir, svc)
		}
		role, err := w.TaskRole()
		if err != nil {
			return nil, err
		}
		return serviceOf(svc, role, w.Stacks)
	}}
}

// LoadService instantiates workload svc of the render r as deployed to environment env, in
// region and account (cfn.Rendered.Instantiate).
func LoadService(r *cfn.Rendered, env, svc, region, account string) (*Service, error) {
	stack, addons, err := r.Instantiate(svc, env, region, account)
	if err != nil {
		return nil, err
	}
	stacks := []*cfn.Stack{stack}
	if addons != nil {
		stacks = append(stacks, addons)
	}
	return serviceOf(svc, "TaskRole", stacks)
}

// serviceOf reads the grants of role, a role of stacks[0], from stacks.
func serviceOf(svc, role string, stacks []*cfn.Stack) (*Service, error) {
	g, keys, err := StackGrants(role, stacks...)
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

// Accepted is a finding the check lists but does not fail on: a grant of
// Copilot's own that the code rightly never uses, or that must be as wide
// as it is. It is matched on the statement the grant came from (its policy
// and Sid) and the action, never on a description, so the same action
// granted by another statement is still a finding.
type Accepted struct {
	Policy, Sid string // Statement.Policy and Statement.Sid
	// Action is the granted action. For a wide Resource it must be the
	// statement's only action.
	Action string
	// Wide is "" for an unused grant, else the wide part (Wide.What).
	Wide string
	Why  string
}

func (a Accepted) acceptsUnused(g Grant) bool {
	return a.Wide == "" && a.Policy == g.Statement.Policy && a.Sid == g.Statement.Sid && a.Action == g.Action
}

func (a Accepted) acceptsWide(w Wide) bool {
	if a.Wide == "" || a.Wide != w.What || a.Policy != w.Statement.Policy || a.Sid != w.Statement.Sid {
		return false
	}
	if w.Action != "" {
		return a.Action == w.Action
	}
	return slices.Equal(w.Statement.Actions, []string{a.Action}) && len(w.Statement.NotActions) == 0
}

// Check is the IAM check of one test run: every AWS call the services made,
// evaluated against their task roles in one deployer's stacks.
type Check struct {
	Roles  Roles // the deployer's task roles (RenderedRoles, AssemblyRoles)
	Region string
	// Services are the callers with a task role: each must have made calls
	// that were evaluated.
	Services []string
	// Tools are callers that no task runs (the dev tool provisioning the
	// emulator): their calls are counted, not evaluated. Any other caller,
	// or none, fails the check.
	Tools    []string
	Accepted []Accepted
	// Partial is set when only some tests ran (go test -run): unused grants
	// say nothing then and are not listed, and a service with no calls is
	// noted, not failed (some service still must have one).
	Partial bool
}

// Run evaluates calls and writes the report to w. It returns false when
// there is nothing to check, a call is unattributed, outside the app's
// resources or not allowed, or a grant of ours is unused or too broad
// (unless accepted).
func (c Check) Run(w io.Writer, calls []awscalls.Call) bool {
	ok := true
	failed := map[string]bool{} // each failure once, however many calls repeat it
	fail := func(format string, args ...any) {
		ok = false
		if msg := fmt.Sprintf("IAM check: "+format, args...); !failed[msg] {
			failed[msg] = true
			fmt.Fprintln(w, msg)
		}
	}
	if len(calls) == 0 {
		fail("FAILED: no AWS call was recorded, so nothing was checked (the binaries reach AWS through the recording proxy)")
		return false
	}
	// One emulator, one account: read it from the first queue URL or ARN.
	var account string
	for _, call := range calls {
		for _, r := range call.Resources {
			if account == "" && (strings.HasPrefix(r, "arn:") || strings.Contains(r, "://")) {
				account = accountOf(r)
			}
		}
	}
	type line struct{ svc, text string }
	var report []line
	services := map[string]*Service{}     // by svc/env
	allowed := map[string][]Request{}     // by svc
	allowedHere := map[string][]Request{} // by svc/env
	evaluated := map[string]int{}
	tools := map[string]int{}
	seen := map[string]bool{}
	generic := func(s, env string) string { return strings.ReplaceAll(s, "-"+env+"-", "-${Env}-") }
	for _, call := range calls {
		// A second process of a service (the chaos tests' fulfilment-b) runs
		// under the same task role.
		caller, _, _ := strings.Cut(call.Caller, "-")
		switch {
		case slices.Contains(c.Tools, caller):
			tools[caller]++
			continue
		case call.Caller == "":
			fail("unattributed call (no service name: the User-Agent has no app id, AWS_SDK_UA_APP_ID): %s", call)
			continue
		case !slices.Contains(c.Services, caller):
			fail("call by %q, neither a service (%s) nor a tool (%s): %s", call.Caller, strings.Join(c.Services, ", "), strings.Join(c.Tools, ", "), call)
			continue
		}
		call.Caller = caller
		if len(call.Resources) == 0 {
			fail("%s: no resource recorded", call)
			continue
		}
		env, err := c.envOf(call)
		if err != nil {
			fail("%s: %v", call, err)
			continue
		}
		key := caller + "/" + env
		svc := services[key]
		if svc == nil {
			if svc, err = c.Roles.Load(env, caller, c.Region, account); err != nil {
				fail("%v", err)
				return false
			}
			services[key] = svc
		}
		reqs, err := svc.Requests(call, c.Region, account)
		if err != nil {
			fail("%v", err)
			continue
		}
		evaluated[caller]++
		for _, r := range reqs {
			d := svc.Grants.Evaluate(r.Action, r.Resource)
			desc := generic(fmt.Sprintf("%s:%s → %s on %s", call.Service, call.API, r.Action, r.Resource), env)
			if r.Why != "" {
				desc += " (" + r.Why + ")"
			}
			if d.Allowed {
				allowed[caller] = append(allowed[caller], r)
				allowedHere[key] = append(allowedHere[key], r)
			}
			if seen[caller+desc] {
				continue
			}
			seen[caller+desc] = true
			if d.Allowed {
				report = append(report, line{caller, fmt.Sprintf("  allowed  %s\n           by %s", desc, generic(d.By.Source, env))})
				continue
			}
			ok = false
			why := d.Why
			if d.By != nil {
				why = "denied by " + d.By.String()
			}
			report = append(report, line{caller, fmt.Sprintf("  DENIED   %s\n           service %s, API %s, action %s, resource %s: %s", desc, call.Service, call.API, r.Action, r.Resource, why)})
		}
	}

	// Unused grants, per service, over every environment; wide ones, per
	// service, from any environment, with the calls they covered.
	type finding struct {
		what    string
		covered map[string]bool
		accept  string
	}
	unused := map[string]map[string]Grant{}
	wide := map[string]map[string]finding{}
	for _, key := range sortedKeys(services) {
		svc := services[key]
		name, env, _ := strings.Cut(key, "/")
		reqs := allowed[name]
		now := map[string]Grant{}
		for _, g := range svc.Unused(reqs) {
			d := generic(fmt.Sprintf("%s on %s, from %s", g.Action, g.Resource, g.Statement.Source), env)
			if prev, ok := unused[name]; !ok || prev[d].Statement != nil {
				now[d] = g
			}
		}
		unused[name] = now
		if wide[name] == nil {
			wide[name] = map[string]finding{}
		}
		for _, wd := range svc.Grants.Wide() {
			d := generic(wd.String(), env)
			f, ok := wide[name][d]
			if !ok {
				f = finding{what: generic(wd.What, env), covered: map[string]bool{}}
			}
			for _, r := range allowedHere[key] {
				if wd.Covers(r) {
					f.covered[generic(r.Action+" on "+r.Resource, env)] = true
				}
			}
			for _, a := range c.Accepted {
				if a.acceptsWide(wd) {
					f.accept = a.Why
				}
			}
			wide[name][d] = f
		}
	}

	var total int
	for _, n := range evaluated {
		total += n
	}
	var counts []string
	for _, name := range c.Services {
		counts = append(counts, fmt.Sprintf("%s %d", name, evaluated[name]))
	}
	for _, name := range sortedKeys(tools) {
		counts = append(counts, fmt.Sprintf("%s %d (a tool: not evaluated)", name, tools[name]))
	}
	fmt.Fprintf(w, "IAM check: %d calls recorded (%s), evaluated against the task roles in %s\n", len(calls), strings.Join(counts, ", "), c.Roles.Where)
	if c.Partial {
		fmt.Fprintln(w, "(a -run filter is set: grants that no call used are not listed)")
	}
	for _, name := range c.Services {
		fmt.Fprintf(w, "%s:\n", name)
		switch {
		case evaluated[name] > 0:
		case c.Partial:
			fmt.Fprintf(w, "  (no call of %s was evaluated: the tests run do not start it)\n", name)
		default:
			ok = false
			fmt.Fprintf(w, "  NO CALLS no call of %s was evaluated: its task role went unchecked\n", name)
		}
		for _, l := range report {
			if l.svc == name {
				fmt.Fprintln(w, l.text)
			}
		}
		for _, d := range sortedKeys(wide[name]) {
			f := wide[name][d]
			covered := "none (no call used it)"
			if len(f.covered) > 0 {
				covered = strings.Join(sortedKeys(f.covered), ", ")
			}
			text := fmt.Sprintf("%s\n           %s is wider than the calls it covers: %s", d, f.what, covered)
			if f.accept != "" {
				fmt.Fprintf(w, "  broad    %s\n           (accepted: %s)\n", text, f.accept)
				continue
			}
			ok = false
			fmt.Fprintf(w, "  TOO BROAD %s\n           grant only the actions and resources the calls use (least privilege)\n", text)
		}
		if c.Partial {
			continue // a -run filter leaves calls out: an unused grant says nothing then
		}
		for _, d := range sortedKeys(unused[name]) {
			g := unused[name][d]
			if i := slices.IndexFunc(c.Accepted, func(a Accepted) bool { return a.acceptsUnused(g) }); i >= 0 {
				fmt.Fprintf(w, "  unused   %s\n           (accepted: %s)\n", d, c.Accepted[i].Why)
				continue
			}
			ok = false
			fmt.Fprintf(w, "  UNUSED   %s\n           granted but no call used it: remove it (least privilege)\n", d)
		}
	}
	if total == 0 {
		fail("no call of %s was evaluated, so nothing was checked", strings.Join(c.Services, ", "))
	}
	if ok {
		fmt.Fprintf(w, "IAM check: passed: %d calls evaluated\n", total)
	} else {
		fmt.Fprintln(w, "IAM check: FAILED (see above)")
	}
	return ok
}

// envOf returns the environment of the app's resources a call names: each
// must be one of them (<app>-<env>-...), all of one environment.
func (c Check) envOf(call awscalls.Call) (string, error) {
	var env string
	for _, r := range call.Resources {
		e, ok := EnvOf(r, c.Roles.App)
		if !ok {
			return "", fmt.Errorf("resource %s is outside the %s-<env>- names of the deployed stacks", r, c.Roles.App)
		}
		if env != "" && e != env {
			return "", fmt.Errorf("resources of two environments, %s and %s", env, e)
		}
		env = e
	}
	return env, nil
}

// accountOf reads the account id from a queue URL (…/ACCOUNT/NAME) or an ARN.
func accountOf(resource string) string {
	if strings.HasPrefix(resource, "arn:") {
		if p := strings.Split(resource, ":"); len(p) > 4 {
			return p[4]
		}
	}
	p := strings.Split(resource, "/")
	if len(p) >= 2 {
		return p[len(p)-2]
	}
	return ""
}
