package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Copilot's workload types; jobs are packaged with `copilot job package`, the rest with
// `copilot svc package`.
const (
	typeLoadBalancedWeb = "Load Balanced Web Service"
	typeScheduledJob    = "Scheduled Job"
)

// workspace is what the render needs to know of a Copilot workspace: what Copilot itself
// reads from copilot/.workspace and the manifests' name and type. Copilot is the judge of
// everything else in them, so nothing else is interpreted here.
type workspace struct {
	Root      string // the folder holding copilot/
	App       string
	Workloads []workload // sorted by name
	Envs      []string   // the environments with a manifest, sorted
}

// workload is one manifest under copilot/<name>/.
type workload struct {
	Name   string
	Type   string
	Topics []string // publish.topics names: the topics its deployed stack would have created
}

// isJob reports whether the workload is packaged as a job rather than a service.
func (w workload) isJob() bool { return w.Type == typeScheduledJob }

// findRoot returns the nearest folder at or above dir that holds copilot/.workspace.
func findRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "copilot", ".workspace")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no copilot/.workspace in %s or above it; run from the repository, or pass -root", dir)
		}
	}
}

// readWorkspace reads the copilot/ folder of root.
func readWorkspace(root string) (*workspace, error) {
	fsys := os.DirFS(filepath.Join(root, "copilot"))
	b, err := fs.ReadFile(fsys, ".workspace")
	if err != nil {
		return nil, fmt.Errorf("read copilot/.workspace: %w", err)
	}
	var w struct {
		Application string `yaml:"application"`
	}
	if err := yaml.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("parse copilot/.workspace: %w", err)
	}
	if w.Application == "" {
		return nil, errors.New("copilot/.workspace names no application")
	}
	ws := &workspace{Root: root, App: w.Application}

	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read copilot/: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "environments" {
			continue
		}
		file := path.Join(e.Name(), "manifest.yml")
		b, err := fs.ReadFile(fsys, file)
		if errors.Is(err, fs.ErrNotExist) {
			continue // a folder without a manifest is no workload (Copilot skips it too)
		}
		if err != nil {
			return nil, fmt.Errorf("read copilot/%s: %w", file, err)
		}
		var m struct {
			Name    string `yaml:"name"`
			Type    string `yaml:"type"`
			Publish struct {
				Topics []struct {
					Name string `yaml:"name"`
				} `yaml:"topics"`
			} `yaml:"publish"`
		}
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("parse copilot/%s: %w", file, err)
		}
		// Copilot finds a workload by its folder and checks the two agree.
		if m.Name != e.Name() || m.Type == "" {
			return nil, fmt.Errorf("copilot/%s: name %q, type %q; want name %q and a type", file, m.Name, m.Type, e.Name())
		}
		wl := workload{Name: m.Name, Type: m.Type}
		for _, t := range m.Publish.Topics {
			wl.Topics = append(wl.Topics, t.Name)
		}
		ws.Workloads = append(ws.Workloads, wl)
	}
	if len(ws.Workloads) == 0 {
		return nil, errors.New("copilot/ has no workload manifest (copilot/<name>/manifest.yml)")
	}

	envs, err := fs.Glob(fsys, "environments/*/manifest.yml")
	if err != nil {
		return nil, fmt.Errorf("list copilot/environments: %w", err)
	}
	for _, m := range envs {
		ws.Envs = append(ws.Envs, path.Base(path.Dir(m)))
	}
	slices.Sort(ws.Envs)
	return ws, nil
}

// loadBalanced lists the workloads behind the environment's public load balancer, as the
// environment stack's ALBWorkloads parameter does.
func (ws *workspace) loadBalanced() []string {
	var out []string
	for _, w := range ws.Workloads {
		if w.Type == typeLoadBalancedWeb {
			out = append(out, w.Name)
		}
	}
	return out
}

// names lists the workloads' names.
func (ws *workspace) names() []string {
	var out []string
	for _, w := range ws.Workloads {
		out = append(out, w.Name)
	}
	return out
}

// copyTo copies what Copilot reads when packaging into dst: copilot/ and the Dockerfiles at
// the root (the manifests' image.build points at them). Copilot runs in the copy, so nothing it
// might write lands in the repository.
func (ws *workspace) copyTo(dst string) error {
	if err := os.CopyFS(filepath.Join(dst, "copilot"), os.DirFS(filepath.Join(ws.Root, "copilot"))); err != nil {
		return fmt.Errorf("copy copilot/: %w", err)
	}
	dockerfiles, err := filepath.Glob(filepath.Join(ws.Root, "Dockerfile*"))
	if err != nil {
		return err
	}
	for _, f := range dockerfiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("copy %s: %w", filepath.Base(f), err)
		}
		if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
			return fmt.Errorf("copy %s: %w", filepath.Base(f), err)
		}
	}
	return nil
}

// checkEnv returns an error naming the environments there are when env has no manifest.
func (ws *workspace) checkEnv(env string) error {
	if slices.Contains(ws.Envs, env) {
		return nil
	}
	return fmt.Errorf("no environment %q in copilot/environments (have: %s)", env, strings.Join(ws.Envs, ", "))
}
