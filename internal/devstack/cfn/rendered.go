package cfn

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
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
	Stacks    map[string]*Template         // each workload's stack, by workload
	Params    map[string]map[string]string // its stack's parameter values
	Addons    map[string]*Template         // its addons stack, when it has addons
	Env       *Template                    // the environment's stack
	EnvParams map[string]string
}

// LoadRendered reads dir as tools/render leaves it. The file names are Copilot's own:
// <workload>-<env>.stack.yml and .params.json, <workload>.addons.stack.yml, <env>.env.yml and
// <env>.env.params.json.
func LoadRendered(dir string) (*Rendered, error) {
	r := &Rendered{Dir: dir, Stacks: map[string]*Template{}, Params: map[string]map[string]string{}, Addons: map[string]*Template{}}
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
	for _, w := range r.Info.Workloads {
		if r.Stacks[w.Name], err = Load(filepath.Join(dir, w.Name+"-"+r.Info.Env+".stack.yml")); err != nil {
			return nil, err
		}
		if r.Params[w.Name], err = LoadParams(filepath.Join(dir, w.Name+"-"+r.Info.Env+".params.json")); err != nil {
			return nil, err
		}
		addons := filepath.Join(dir, w.Name+".addons.stack.yml")
		if _, err := os.Stat(addons); err == nil {
			if r.Addons[w.Name], err = Load(addons); err != nil {
				return nil, err
			}
		}
	}
	if r.Env, err = Load(filepath.Join(dir, r.Info.Env+".env.yml")); err != nil {
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
