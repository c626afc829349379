package cfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
)

// Rendered is one render of the application by Copilot (tools/render): render.json and the
// templates it lists, parsed.
type Rendered struct {
	Dir  string
	Info struct {
		Copilot, App, Env, Region string
		Workloads                 []struct{ Name, Type string }
		Files                     []string
	}
	Templates map[string]*Template         // every template render.json lists, by file name
	Stacks    map[string]*Template         // each workload's stack, by workload
	Params    map[string]map[string]string // its stack's parameter values
	Addons    map[string]*Template         // its addons stack, when it has addons
	Env       *Template                    // the environment's stack
	EnvParams map[string]string
}

// LoadRendered reads dir as tools/render leaves it. The file names are Copilot's own:
// <workload>-<env>.stack.yml and .params.json, <workload>.addons.stack.yml, <env>.env.yml and
// <env>.env.params.json, env.addons.yml.
func LoadRendered(dir string) (*Rendered, error) {
	r := &Rendered{Dir: dir, Templates: map[string]*Template{}, Stacks: map[string]*Template{}, Params: map[string]map[string]string{}, Addons: map[string]*Template{}}
	b, err := os.ReadFile(filepath.Join(dir, "render.json"))
	if err != nil {
		return nil, fmt.Errorf("%w: not a folder tools/render wrote (make render)", err)
	}
	if err := json.Unmarshal(b, &r.Info); err != nil {
		return nil, fmt.Errorf("render.json: %w", err)
	}
	if len(r.Info.Workloads) == 0 || r.Info.Env == "" {
		return nil, errors.New("render.json names no workload or no environment")
	}
	for _, f := range r.Info.Files {
		if strings.HasSuffix(f, ".yml") {
			if r.Templates[f], err = Load(filepath.Join(dir, f)); err != nil {
				return nil, err
			}
		}
	}
	stack := func(file string) (*Template, error) {
		if t := r.Templates[file]; t != nil {
			return t, nil
		}
		return nil, fmt.Errorf("render.json lists no %s", file)
	}
	for _, w := range r.Info.Workloads {
		if r.Stacks[w.Name], err = stack(w.Name + "-" + r.Info.Env + ".stack.yml"); err != nil {
			return nil, err
		}
		if r.Params[w.Name], err = LoadParams(filepath.Join(dir, w.Name+"-"+r.Info.Env+".params.json")); err != nil {
			return nil, err
		}
		if a := r.Templates[w.Name+".addons.stack.yml"]; a != nil {
			r.Addons[w.Name] = a
		}
	}
	if r.Env, err = stack(r.Info.Env + ".env.yml"); err != nil {
		return nil, err
	}
	if r.EnvParams, err = LoadParams(filepath.Join(dir, r.Info.Env+".env.params.json")); err != nil {
		return nil, err
	}
	return r, nil
}

// Workloads lists the rendered workloads of one Copilot type.
func (r *Rendered) Workloads(typ string) []string {
	var out []string
	for _, w := range r.Info.Workloads {
		if w.Type == typ {
			out = append(out, w.Name)
		}
	}
	return out
}

// StackFile names a workload's rendered stack in messages.
func (r *Rendered) StackFile(svc string) string {
	return filepath.Join(filepath.Base(r.Dir), svc+"-"+r.Info.Env+".stack.yml")
}

// Instantiate is workload svc deployed to environment env in region and account: its stack,
// named <app>-<env>-<svc> as Copilot names it, and, when it has addons, the addons stack nested
// in it (nil otherwise), given the parameters the workload's stack passes it, its outputs
// visible to that stack. A deploy uploads the addons, so the stack's AddonsTemplateURL is set.
func (r *Rendered) Instantiate(svc, env, region, account string) (stack, addons *Stack, err error) {
	t := r.Stacks[svc]
	if t == nil {
		return nil, nil, fmt.Errorf("no rendered stack for %s", svc)
	}
	params := map[string]string{}
	maps.Copy(params, r.Params[svc])
	params["EnvName"] = env
	params["AddonsTemplateURL"] = "https://stand-in/addons.yml"
	name := r.Info.App + "-" + env + "-" + svc
	if stack, err = NewStack(name, region, account, t, params); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", svc, err)
	}
	if !stack.Has("AddonsStack") {
		return stack, nil, nil
	}
	if r.Addons[svc] == nil {
		return nil, nil, fmt.Errorf("%s has an AddonsStack, and no %s.addons.stack.yml was rendered", svc, svc)
	}
	given, err := stack.Resolve(t.Resources["AddonsStack"].Properties["Parameters"])
	if err != nil {
		return nil, nil, fmt.Errorf("%s AddonsStack parameters: %w", svc, err)
	}
	aparams := map[string]string{}
	m, _ := given.(map[string]any)
	for k, v := range m {
		aparams[k] = fmt.Sprint(v)
	}
	if addons, err = NewStack(name+"-AddonsStack", region, account, r.Addons[svc], aparams); err != nil {
		return nil, nil, fmt.Errorf("%s addons: %w", svc, err)
	}
	if stack.NestedOutputs["AddonsStack"], err = addons.Outputs(); err != nil {
		return nil, nil, fmt.Errorf("%s addons: %w", svc, err)
	}
	return stack, addons, nil
}

// Container returns the main container of workload svc's task definition, the one named after
// the workload (Ref WorkloadName), and its variables by name as rendered (a string, or an
// intrinsic function).
func (r *Rendered) Container(svc string) (container, vars map[string]any, err error) {
	stack := r.Stacks[svc]
	if stack == nil {
		return nil, nil, fmt.Errorf("no rendered stack for %s", svc)
	}
	defs := stack.OfType("AWS::ECS::TaskDefinition")
	if len(defs) != 1 {
		return nil, nil, fmt.Errorf("%s: task definitions %q; want one", r.StackFile(svc), defs)
	}
	containers, _ := stack.Resources[defs[0]].Properties["ContainerDefinitions"].([]any)
	for _, c := range containers {
		m, _ := c.(map[string]any)
		if ref, ok := Ref(m["Name"]); (ok && ref == "WorkloadName") || m["Name"] == svc {
			container = m
		}
	}
	if container == nil {
		return nil, nil, fmt.Errorf("%s: task definition %s has no container named after the workload (Ref WorkloadName)", r.StackFile(svc), defs[0])
	}
	vars, err = containerVars(r.StackFile(svc), container)
	return container, vars, err
}

// Services returns the rendered workloads' types by name.
func (r *Rendered) Services() map[string]string {
	out := map[string]string{}
	for _, w := range r.Info.Workloads {
		out[w.Name] = w.Type
	}
	return out
}

// Account is the account the application was rendered for: the one in the ARN of its artifact
// key, a parameter of every workload stack (LoadRendered requires a workload).
func (r *Rendered) Account() (string, error) {
	svc := r.Info.Workloads[0].Name
	arn := r.Params[svc]["ArtifactKeyARN"]
	if parts := strings.Split(arn, ":"); len(parts) >= 6 && len(parts[4]) == 12 {
		return parts[4], nil
	}
	return "", fmt.Errorf("%s: ArtifactKeyARN %q names no account", r.StackFile(svc), arn)
}
