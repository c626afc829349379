package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/promotion"
)

// This file reads what the CDK app deploys from the Copilot workspace (copilot/), through the
// project's own readers: internal/devstack/topology for the manifests and the tables their addons
// declare, internal/devstack/cfn for the addons' CloudFormation. The CDK app and Copilot deploy
// from the same files, so the two paths cannot drift on what those files say.

// workspace is the Copilot workspace as the CDK app needs it.
type workspace struct {
	Root     string // the repository root: the images' build context
	Topology *topology.Topology
	Services map[string]*service // by name
	// WAFTemplate is the environment addon with the rate limit (copilot/environments/addons/waf.yml);
	// WAFParams the values copilot/environments/addons/addons.parameters.yml passes it.
	WAFTemplate string
	WAFParams   map[string]any
}

// service is one manifest, with the settings the topology reader does not model, and its addons.
type service struct {
	*topology.Service
	Settings settings
	Addons   []*addon
	// AddonParams are the values the service's addons.parameters.yml passes its addons, as
	// written there (Copilot template expressions, decoded by cfn).
	AddonParams map[string]any
}

// settings are the manifest's values topology.Service leaves in Manifest.
type settings struct {
	HTTP struct {
		Path        string `yaml:"path"`
		HealthCheck struct {
			Path               string `yaml:"path"`
			SuccessCodes       string `yaml:"success_codes"`
			HealthyThreshold   int    `yaml:"healthy_threshold"`
			UnhealthyThreshold int    `yaml:"unhealthy_threshold"`
			Interval           string `yaml:"interval"`
			Timeout            string `yaml:"timeout"`
			GracePeriod        string `yaml:"grace_period"`
		} `yaml:"healthcheck"`
	} `yaml:"http"`
	CPU      int    `yaml:"cpu"`
	Memory   int    `yaml:"memory"`
	Platform string `yaml:"platform"`
	Count    struct {
		Range         string  `yaml:"range"`
		CPUPercentage float64 `yaml:"cpu_percentage"`
		Requests      float64 `yaml:"requests"`
		QueueDelay    struct {
			AcceptableLatency string `yaml:"acceptable_latency"`
			MsgProcessingTime string `yaml:"msg_processing_time"`
		} `yaml:"queue_delay"`
	} `yaml:"count"`
	Observability struct {
		Tracing string `yaml:"tracing"`
	} `yaml:"observability"`
	TaskdefOverrides []struct {
		Path  string    `yaml:"path"`
		Value yaml.Node `yaml:"value"`
	} `yaml:"taskdef_overrides"`
}

// loadWorkspace reads the workspace under root/copilot.
func loadWorkspace(root string) (*workspace, error) {
	top, err := topology.Load(os.DirFS(filepath.Join(root, "copilot")))
	if err != nil {
		return nil, err
	}
	ws := &workspace{Root: root, Topology: top, Services: map[string]*service{}}
	for _, s := range top.Services {
		svc := &service{Service: s}
		// The manifest as topology parsed it, decoded once more into the fields read here.
		b, err := yaml.Marshal(s.Manifest)
		if err != nil {
			return nil, fmt.Errorf("%s manifest: %w", s.Name, err)
		}
		if err := yaml.Unmarshal(b, &svc.Settings); err != nil {
			return nil, fmt.Errorf("%s manifest: %w", s.Name, err)
		}
		dir := filepath.Join(root, "copilot", s.Name, "addons")
		if svc.Addons, err = loadAddons(dir); err != nil {
			return nil, err
		}
		if svc.AddonParams, err = loadAddonParams(filepath.Join(dir, "addons.parameters.yml")); err != nil {
			return nil, err
		}
		ws.Services[s.Name] = svc
	}
	envAddons := filepath.Join(root, "copilot", "environments", "addons")
	ws.WAFTemplate = filepath.Join(envAddons, "waf.yml")
	if _, err := os.Stat(ws.WAFTemplate); err != nil {
		return nil, fmt.Errorf("the rate limit: %w", err)
	}
	if ws.WAFParams, err = loadAddonParams(filepath.Join(envAddons, "addons.parameters.yml")); err != nil {
		return nil, err
	}
	if err := ws.checkPromotionFilter(); err != nil {
		return nil, err
	}
	return ws, nil
}

// loadAddonParams reads an addons.parameters.yml: its Parameters, values as written.
func loadAddonParams(file string) (map[string]any, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := cfn.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	m, _ := v.(map[string]any)
	params, _ := m["Parameters"].(map[string]any)
	if params == nil {
		return nil, fmt.Errorf("%s: no Parameters", file)
	}
	return params, nil
}

// checkPromotionFilter refuses a promotion filter policy whose threshold is not
// promotion.Threshold: the filter is the gate, the code checks the rule again, and the two
// must be one number (test/deploy checks the manifest too; the CDK app will not synthesize a
// template that disagrees).
func (ws *workspace) checkPromotionFilter() error {
	p := ws.Topology.Service("promotion")
	if p == nil || len(p.Subscribes) != 1 {
		return errors.New("promotion: want one subscription")
	}
	var policy map[string][]struct {
		Numeric []any `json:"numeric"`
	}
	if err := json.Unmarshal([]byte(p.Subscribes[0].FilterPolicy), &policy); err != nil {
		return fmt.Errorf("promotion filter policy %s: %w", p.Subscribes[0].FilterPolicy, err)
	}
	cond := policy["amount"]
	if len(cond) != 1 || len(cond[0].Numeric) != 2 || cond[0].Numeric[0] != ">=" {
		return fmt.Errorf("promotion filter policy %s: want amount >= a number", p.Subscribes[0].FilterPolicy)
	}
	n, ok := cond[0].Numeric[1].(float64)
	want := float64(promotion.Threshold) / 100 // cents
	if !ok || n != want {
		return fmt.Errorf("promotion filter policy threshold %v; want promotion.Threshold %v", cond[0].Numeric[1], want)
	}
	return nil
}

// countRange reads count.range ("1-4").
func (s settings) countRange() (lo, hi int, err error) {
	a, b, ok := strings.Cut(s.Count.Range, "-")
	if ok {
		if lo, err = strconv.Atoi(a); err == nil {
			hi, err = strconv.Atoi(b)
		}
	}
	if !ok || err != nil || lo < 0 || hi < lo {
		return 0, 0, fmt.Errorf("count.range %q: want min-max", s.Count.Range)
	}
	return lo, hi, nil
}

// backlogPerTask is the queue_delay intent: each task keeps at most
// acceptable_latency / msg_processing_time messages waiting.
func (s settings) backlogPerTask() (int, error) {
	lat, err1 := time.ParseDuration(s.Count.QueueDelay.AcceptableLatency)
	proc, err2 := time.ParseDuration(s.Count.QueueDelay.MsgProcessingTime)
	if err := errors.Join(err1, err2); err != nil || proc <= 0 || lat < proc {
		return 0, fmt.Errorf("count.queue_delay %+v: want acceptable_latency >= msg_processing_time > 0 (%v)", s.Count.QueueDelay, err)
	}
	return int(lat / proc), nil
}

// overrides are the manifest's taskdef_overrides the CDK app applies: each one a setting of
// the service's container (ContainerDefinitions[0]) or of the tracing sidecar Copilot puts
// right after it (ContainerDefinitions[1]), as its comments in the manifests say. An override
// the app does not know stops the synthesis, so a new one cannot be silently left out.
type overrides struct {
	StopTimeout      time.Duration
	ReadonlyRoot     bool
	DependsOn        []struct{ ContainerName, Condition string }
	CollectorImage   string
	collectorPinned  bool
	stopTimeoutGiven bool
}

func (s settings) overrides() (overrides, error) {
	var o overrides
	for _, ov := range s.TaskdefOverrides {
		var err error
		switch ov.Path {
		case "ContainerDefinitions[0].StopTimeout":
			var sec int
			err = ov.Value.Decode(&sec)
			o.StopTimeout, o.stopTimeoutGiven = time.Duration(sec)*time.Second, true
		case "ContainerDefinitions[0].ReadonlyRootFilesystem":
			err = ov.Value.Decode(&o.ReadonlyRoot)
		case "ContainerDefinitions[0].DependsOn":
			var deps []struct {
				ContainerName string `yaml:"ContainerName"`
				Condition     string `yaml:"Condition"`
			}
			err = ov.Value.Decode(&deps)
			for _, d := range deps {
				o.DependsOn = append(o.DependsOn, struct{ ContainerName, Condition string }{d.ContainerName, d.Condition})
			}
		case "ContainerDefinitions[1].Image":
			err = ov.Value.Decode(&o.CollectorImage)
			o.collectorPinned = true
		default:
			return o, fmt.Errorf("taskdef_overrides: %s is not one the CDK app knows how to apply (deploy/cdk/workspace.go)", ov.Path)
		}
		if err != nil {
			return o, fmt.Errorf("taskdef_overrides %s: %w", ov.Path, err)
		}
	}
	if !o.stopTimeoutGiven {
		return o, errors.New("taskdef_overrides: no StopTimeout: the drain budget must be checked against one")
	}
	if s.Observability.Tracing == "awsxray" && !o.collectorPinned {
		return o, errors.New("taskdef_overrides: the tracing sidecar's image is not pinned (ContainerDefinitions[1].Image)")
	}
	return o, nil
}

// duration parses a manifest duration; "" is def.
func duration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	return time.ParseDuration(s)
}
