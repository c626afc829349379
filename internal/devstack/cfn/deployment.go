package cfn

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Deployment is what one deployer writes for one environment, every stack instantiated in a
// region and account: Copilot's render (Rendered.Deployment) or the AWS CDK's cloud assembly
// (Assembly.Deployment). The checks that must hold whichever tool deploys (test/rendered's,
// test/alarms', the IAM check's) read it, so each is written once for both.
type Deployment struct {
	Deployer                  string // "copilot" or "cdk"
	Dir                       string // where the templates are
	App, Env, Region, Account string
	Stacks                    map[string]*Stack // every stack, by its template's file name
	Workloads                 []*Workload
}

// Workload is one service of a deployment.
type Workload struct {
	Name, Type string // the manifest's name and type (Worker Service, ...)
	File       string // the file of the stack holding its task definition
	// Stacks are that stack and those nested in it (Copilot's addons), the ones its task role's
	// policies may be in.
	Stacks         []*Stack
	TaskDefinition string         // its logical id
	Container      map[string]any // the main container (named after the workload), as written
}

// Stack is the stack holding the workload's task definition.
func (w *Workload) Stack() *Stack { return w.Stacks[0] }

// Workload returns the workload named name, or nil.
func (d *Deployment) Workload(name string) *Workload {
	for _, w := range d.Workloads {
		if w.Name == name {
			return w
		}
	}
	return nil
}

// OfType returns the workloads of one manifest type.
func (d *Deployment) OfType(typ string) []*Workload {
	var out []*Workload
	for _, w := range d.Workloads {
		if w.Type == typ {
			out = append(out, w)
		}
	}
	return out
}

// Vars returns the main container's variables by name, as written (a string, or an intrinsic
// function).
func (w *Workload) Vars() (map[string]any, error) { return containerVars(w.File, w.Container) }

// containerVars reads a container definition's Environment, by name, as written; file names
// its template in errors.
func containerVars(file string, container map[string]any) (map[string]any, error) {
	vars := map[string]any{}
	list, _ := container["Environment"].([]any)
	for _, kv := range list {
		m, _ := kv.(map[string]any)
		name, _ := m["Name"].(string)
		if name == "" {
			return nil, fmt.Errorf("%s: an Environment entry without a Name: %v", file, kv)
		}
		if _, dup := vars[name]; dup {
			return nil, fmt.Errorf("%s: %s is set twice in the task definition", file, name)
		}
		vars[name] = m["Value"]
	}
	return vars, nil
}

// Env returns the main container's variables as the process sees them: each resolved in the
// workload's stack (what only a real deployment knows stays an Unresolved placeholder).
func (w *Workload) Env() (map[string]string, error) {
	vars, err := w.Vars()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for k, v := range vars {
		r, err := w.Stack().Resolve(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", w.File, k, err)
		}
		out[k] = fmt.Sprint(r)
	}
	return out, nil
}

// TaskRole returns the logical id of the task definition's task role (TaskRoleArn, a GetAtt of
// a role of the stack).
func (w *Workload) TaskRole() (string, error) {
	def := w.Stack().Template.Resources[w.TaskDefinition]
	role, attr, ok := GetAtt(def.Properties["TaskRoleArn"])
	if !ok || attr != "Arn" || w.Stack().Template.Resources[role].Type != "AWS::IAM::Role" {
		return "", fmt.Errorf("%s: task definition %s: TaskRoleArn %v; want GetAtt of a role of the stack", w.File, w.TaskDefinition, def.Properties["TaskRoleArn"])
	}
	return role, nil
}

// newWorkload finds the task definition of stack (file) whose container is named svc, after
// resolution (Copilot names it Ref WorkloadName).
func newWorkload(svc, typ, file string, stacks ...*Stack) (*Workload, error) {
	s := stacks[0]
	w := &Workload{Name: svc, Type: typ, File: file, Stacks: stacks}
	for _, id := range s.Template.OfType("AWS::ECS::TaskDefinition") {
		if !s.Has(id) {
			continue
		}
		containers, _ := s.Template.Resources[id].Properties["ContainerDefinitions"].([]any)
		for _, c := range containers {
			m, _ := c.(map[string]any)
			name, err := s.Resolve(m["Name"])
			if err != nil {
				return nil, fmt.Errorf("%s: %s: %w", file, id, err)
			}
			if name == svc {
				if w.Container != nil {
					return nil, fmt.Errorf("%s: two containers named %s", file, svc)
				}
				w.TaskDefinition, w.Container = id, m
			}
		}
	}
	if w.Container == nil {
		return nil, fmt.Errorf("%s: no task definition has a container named %s", file, svc)
	}
	return w, nil
}

// link sets every stack's Imports to the exports of all of them, as CloudFormation resolves
// Fn::ImportValue across the stacks of one region and account.
func (d *Deployment) link() error {
	exports := map[string]any{}
	for _, file := range slices.Sorted(maps.Keys(d.Stacks)) {
		s := d.Stacks[file]
		for name, o := range s.Template.Outputs {
			if o.Export == nil {
				continue
			}
			exp, err := s.Resolve(o.Export)
			if err != nil {
				return fmt.Errorf("%s: output %s: %w", file, name, err)
			}
			v, err := s.Resolve(o.Value)
			if err != nil {
				return fmt.Errorf("%s: output %s: %w", file, name, err)
			}
			exports[fmt.Sprint(exp)] = v
		}
	}
	for _, s := range d.Stacks {
		s.Imports = exports
	}
	return nil
}

// Deployment is the render deployed to environment env (Copilot's EnvName) in region and
// account: the environment's stack, each workload's stack and its addons (Instantiate).
func (r *Rendered) Deployment(env, region, account string) (*Deployment, error) {
	d := &Deployment{Deployer: "copilot", Dir: r.Dir, App: r.Info.App, Env: env, Region: region, Account: account, Stacks: map[string]*Stack{}}
	envStack, err := NewStack(r.Info.App+"-"+env, region, account, r.Env, r.EnvParams)
	if err != nil {
		return nil, fmt.Errorf("%s.env.yml: %w", r.Info.Env, err)
	}
	d.Stacks[r.Info.Env+".env.yml"] = envStack
	for _, w := range r.Info.Workloads {
		stack, addons, err := r.Instantiate(w.Name, env, region, account)
		if err != nil {
			return nil, err
		}
		file := filepath.Base(r.StackFile(w.Name))
		d.Stacks[file] = stack
		stacks := []*Stack{stack}
		if addons != nil {
			d.Stacks[w.Name+".addons.stack.yml"] = addons
			stacks = append(stacks, addons)
		}
		wl, err := newWorkload(w.Name, w.Type, file, stacks...)
		if err != nil {
			return nil, err
		}
		d.Workloads = append(d.Workloads, wl)
	}
	return d, d.link()
}

// Assembly is a cloud assembly the AWS CDK app (deploy/cdk) synthesized: one template per
// stack, <stack>.template.json, the stacks of one environment named <app>-<env>-<part>.
type Assembly struct {
	Dir       string
	App, Env  string               // the environment it was synthesized for
	Templates map[string]*Template // by stack name
}

// LoadAssembly reads the templates of the assembly in dir, synthesized for application app.
// The environment is the one whose data stack (<app>-<env>-data) it holds.
func LoadAssembly(dir, app string) (*Assembly, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.template.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		if _, err := os.Stat(dir); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("%s holds no *.template.json: not a cloud assembly (make synth)", dir)
	}
	a := &Assembly{Dir: dir, App: app, Templates: map[string]*Template{}}
	var envs []string
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".template.json")
		if a.Templates[name], err = Load(f); err != nil {
			return nil, err
		}
		if rest, ok := strings.CutPrefix(name, app+"-"); ok {
			if env, ok := strings.CutSuffix(rest, "-data"); ok {
				envs = append(envs, env)
			}
		}
	}
	if len(envs) != 1 {
		return nil, fmt.Errorf("%s: data stacks of environments %q; want one (%s-<env>-data)", dir, envs, app)
	}
	a.Env = envs[0]
	return a, nil
}

// Deployment is the assembly deployed to environment env in region and account, the services
// given as name → manifest type. The CDK app writes the environment's name into every name it
// gives (<app>-<env>-...: stacks, queues, tables, exports), literally; so the assembly of
// another environment is this one with <app>-<a.Env>- written <app>-<env>- throughout, which
// is how env other than a.Env is made (deploy/cdk's tests synthesize two environments and
// check the names follow).
func (a *Assembly) Deployment(env, region, account string, services map[string]string) (*Deployment, error) {
	if len(services) == 0 {
		return nil, errors.New("no services given")
	}
	rename := func(s string) string { return s }
	if env != a.Env {
		rename = strings.NewReplacer(a.App+"-"+a.Env+"-", a.App+"-"+env+"-").Replace
	}
	d := &Deployment{Deployer: "cdk", Dir: a.Dir, App: a.App, Env: env, Region: region, Account: account, Stacks: map[string]*Stack{}}
	byStack := map[string]*Stack{}
	for _, name := range slices.Sorted(maps.Keys(a.Templates)) {
		t := a.Templates[name]
		if env != a.Env {
			var err error
			if t, err = renamed(t, rename); err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
		}
		s, err := NewStack(rename(name), region, account, t, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		byStack[name] = s
		d.Stacks[rename(name)+".template.json"] = s
	}
	for _, svc := range slices.Sorted(maps.Keys(services)) {
		name := a.App + "-" + a.Env + "-" + svc
		s := byStack[name]
		if s == nil {
			return nil, fmt.Errorf("%s: no stack %s", a.Dir, name)
		}
		w, err := newWorkload(svc, services[svc], rename(name)+".template.json", s)
		if err != nil {
			return nil, err
		}
		d.Workloads = append(d.Workloads, w)
	}
	return d, d.link()
}

// renamed is t with rename applied to every string in it (keys too).
func renamed(t *Template, rename func(string) string) (*Template, error) {
	var walk func(v any) any
	walk = func(v any) any {
		switch v := v.(type) {
		case string:
			return rename(v)
		case []any:
			out := make([]any, len(v))
			for i, e := range v {
				out[i] = walk(e)
			}
			return out
		case map[string]any:
			out := make(map[string]any, len(v))
			for k, e := range v {
				out[rename(k)] = walk(e)
			}
			return out
		}
		return v
	}
	return fromRaw(walk(t.Raw).(map[string]any))
}
