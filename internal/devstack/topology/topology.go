// Package topology reads the application's AWS resources from the Copilot
// workspace (copilot/: manifests and DynamoDB addons) and creates the same
// resources on an emulator, so the local topology cannot drift from the
// deployed one.
package topology

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pubsub-app/pubsub/internal/copilot"
)

// Service types this package understands.
const (
	TypeLoadBalancedWeb = "Load Balanced Web Service"
	TypeWorker          = "Worker Service"
)

// Topology is every service of the application and what it declares.
type Topology struct {
	App      string
	Services []*Service // sorted by name
}

// Service is one manifest and its addons.
type Service struct {
	Name       string
	Type       string
	Dockerfile string // relative to the workspace root
	Port       int
	Publishes  []string // topic names
	Subscribes []Subscription
	Queue      Queue // the default queue of a worker service
	Tables     []Table
	// Variables are the manifest's variables as written; VariablesIn
	// interpolates them for an environment, as Copilot does on deploy.
	Variables map[string]string
	// Manifest is the manifest as parsed YAML, for checks this type does not model.
	Manifest map[string]any
}

// Subscription is one entry of subscribe.topics.
type Subscription struct {
	Topic   string
	Service string // the publishing service
	// FilterPolicy is the subscription's filter policy as JSON, or "".
	FilterPolicy string
}

// Queue is a worker's default queue.
type Queue struct {
	Delay, Retention, Timeout time.Duration
	DeadLetterTries           int // 0: no dead-letter queue
}

// Table is a DynamoDB table declared by an addon.
type Table struct {
	LogicalID    string // the resource name, e.g. ordersTable
	NamePattern  string // TableName, with ${App}, ${Env} and ${Name} unexpanded
	PartitionKey string
	KeyType      string // S, N or B
	// Output is the addon output that refers to the table (ordersTableName);
	// EnvVar the variable Copilot injects with the table's name from it
	// (copilot.OutputVariable: ORDERS_TABLE_NAME).
	Output, EnvVar string
	// Attributes maps every key attribute (table and indexes) to its type.
	Attributes map[string]string
	Indexes    []Index
}

// Index is a global secondary index of a table.
type Index struct {
	Name                  string
	PartitionKey, SortKey string
	Projection            string // ALL, KEYS_ONLY or INCLUDE
}

// Service returns the named service, or nil.
func (t *Topology) Service(name string) *Service {
	for _, s := range t.Services {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// VariablesIn returns the manifest's variables as Copilot sets them in the
// container in environment env of application app: with
// ${COPILOT_APPLICATION_NAME} and ${COPILOT_ENVIRONMENT_NAME} interpolated
// (Load has checked that no value interpolates any other variable).
func (s *Service) VariablesIn(app, env string) map[string]string {
	out := make(map[string]string, len(s.Variables))
	for k, v := range s.Variables {
		out[k], _ = copilot.Interpolate(v, app, env)
	}
	return out
}

// Load reads the workspace rooted at fsys (the copilot/ folder).
func Load(fsys fs.FS) (*Topology, error) {
	ws, err := fs.ReadFile(fsys, ".workspace")
	if err != nil {
		return nil, fmt.Errorf("read workspace: %w", err)
	}
	var w struct {
		Application string `yaml:"application"`
	}
	if err := yaml.Unmarshal(ws, &w); err != nil || w.Application == "" {
		return nil, fmt.Errorf("read workspace: no application name in .workspace (%v)", err)
	}
	top := &Topology{App: w.Application}
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read workspace: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "environments" {
			continue
		}
		if _, err := fs.Stat(fsys, path.Join(e.Name(), "manifest.yml")); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		svc, err := loadService(fsys, e.Name())
		if err != nil {
			return nil, err
		}
		top.Services = append(top.Services, svc)
	}
	if err := top.validate(); err != nil {
		return nil, err
	}
	return top, nil
}

type manifest struct {
	Name  string `yaml:"name"`
	Type  string `yaml:"type"`
	Image struct {
		Build yaml.Node `yaml:"build"`
		Port  int       `yaml:"port"`
	} `yaml:"image"`
	Variables map[string]string `yaml:"variables"`
	Publish   struct {
		Topics []struct {
			Name string `yaml:"name"`
		} `yaml:"topics"`
	} `yaml:"publish"`
	Subscribe struct {
		Topics []struct {
			Name         string `yaml:"name"`
			Service      string `yaml:"service"`
			FilterPolicy any    `yaml:"filter_policy"`
		} `yaml:"topics"`
		Queue struct {
			Delay      string `yaml:"delay"`
			Retention  string `yaml:"retention"`
			Timeout    string `yaml:"timeout"`
			DeadLetter struct {
				Tries int `yaml:"tries"`
			} `yaml:"dead_letter"`
		} `yaml:"queue"`
	} `yaml:"subscribe"`
}

func loadService(fsys fs.FS, dir string) (*Service, error) {
	file := path.Join(dir, "manifest.yml")
	raw, err := fs.ReadFile(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	var m manifest
	if err := yaml.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	svc := &Service{Name: m.Name, Type: m.Type, Port: m.Image.Port, Variables: m.Variables}
	if err := yaml.Unmarshal(raw, &svc.Manifest); err != nil {
		return nil, fmt.Errorf("parse %s: %w", file, err)
	}
	if svc.Name != dir {
		return nil, fmt.Errorf("%s: name %q does not match its folder", file, svc.Name)
	}
	switch m.Image.Build.Kind {
	case yaml.ScalarNode:
		svc.Dockerfile = m.Image.Build.Value
	case yaml.MappingNode:
		var b struct {
			Dockerfile string `yaml:"dockerfile"`
		}
		if err := m.Image.Build.Decode(&b); err != nil {
			return nil, fmt.Errorf("%s: image.build: %w", file, err)
		}
		svc.Dockerfile = b.Dockerfile
	}
	for _, t := range m.Publish.Topics {
		svc.Publishes = append(svc.Publishes, t.Name)
	}
	for _, t := range m.Subscribe.Topics {
		sub := Subscription{Topic: t.Name, Service: t.Service}
		if t.FilterPolicy != nil {
			b, err := json.Marshal(t.FilterPolicy)
			if err != nil {
				return nil, fmt.Errorf("%s: filter_policy of %s: %w", file, t.Name, err)
			}
			sub.FilterPolicy = string(b)
		}
		svc.Subscribes = append(svc.Subscribes, sub)
	}
	q := m.Subscribe.Queue
	svc.Queue.DeadLetterTries = q.DeadLetter.Tries
	for _, d := range []struct {
		field string
		text  string
		dst   *time.Duration
		def   time.Duration
	}{
		{"delay", q.Delay, &svc.Queue.Delay, 0},
		{"retention", q.Retention, &svc.Queue.Retention, 96 * time.Hour},
		{"timeout", q.Timeout, &svc.Queue.Timeout, 30 * time.Second},
	} {
		*d.dst = d.def
		if d.text == "" {
			continue
		}
		v, err := time.ParseDuration(d.text)
		if err != nil {
			return nil, fmt.Errorf("%s: subscribe.queue.%s: %w", file, d.field, err)
		}
		*d.dst = v
	}
	if svc.Tables, err = loadAddons(fsys, dir); err != nil {
		return nil, err
	}
	return svc, nil
}

func (t *Topology) validate() error {
	if len(t.Services) == 0 {
		return errors.New("workspace declares no services")
	}
	slices.SortFunc(t.Services, func(a, b *Service) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range t.Services {
		for _, sub := range s.Subscribes {
			pub := t.Service(sub.Service)
			if pub == nil || !slices.Contains(pub.Publishes, sub.Topic) {
				return fmt.Errorf("%s subscribes to %s:%s, which no manifest publishes", s.Name, sub.Service, sub.Topic)
			}
		}
		if err := t.checkVariables(s); err != nil {
			return err
		}
	}
	return nil
}

// checkVariables checks that each of the manifest's variables interpolates
// as Copilot would without the deployer's shell, and that a variable named
// like another service's table variable (the publisher's
// FULFILMENTS_TABLE_NAME, which the order page reads) names exactly the table
// that service's addon creates, in every environment: the name is written
// once, in the manifest, and checked here against the addon.
func (t *Topology) checkVariables(s *Service) error {
	// A stand-in environment name: a value that hard-codes one fails.
	const probeEnv = "env0probe"
	for _, k := range slices.Sorted(maps.Keys(s.Variables)) {
		v := s.Variables[k]
		got, err := copilot.Interpolate(v, t.App, probeEnv)
		if err != nil {
			return fmt.Errorf("%s/manifest.yml: variables.%s: %w", s.Name, k, err)
		}
		for _, o := range t.Services {
			for _, tbl := range o.Tables {
				if tbl.EnvVar != k || o == s {
					continue
				}
				if want := tbl.TableName(t.App, probeEnv, o.Name); got != want {
					pattern := tbl.TableName("${"+copilot.EnvApplication+"}", "${"+copilot.EnvEnvironment+"}", o.Name)
					return fmt.Errorf("%s/manifest.yml: variables.%s = %q; want %q, the table of %s's addon (%s)", s.Name, k, v, pattern, o.Name, tbl.LogicalID)
				}
			}
		}
	}
	return nil
}

// addon is the part of a CloudFormation template read here; tagged values
// (!Ref, !Sub) are kept as nodes.
type addon struct {
	Resources map[string]struct {
		Type       string    `yaml:"Type"`
		Properties yaml.Node `yaml:"Properties"`
	} `yaml:"Resources"`
	Outputs map[string]struct {
		Value yaml.Node `yaml:"Value"`
	} `yaml:"Outputs"`
}

type tableProps struct {
	TableName            yaml.Node `yaml:"TableName"`
	AttributeDefinitions []struct {
		AttributeName string `yaml:"AttributeName"`
		AttributeType string `yaml:"AttributeType"`
	} `yaml:"AttributeDefinitions"`
	KeySchema              []keyElement `yaml:"KeySchema"`
	GlobalSecondaryIndexes []struct {
		IndexName  string       `yaml:"IndexName"`
		KeySchema  []keyElement `yaml:"KeySchema"`
		Projection struct {
			ProjectionType string `yaml:"ProjectionType"`
		} `yaml:"Projection"`
	} `yaml:"GlobalSecondaryIndexes"`
}

type keyElement struct {
	AttributeName string `yaml:"AttributeName"`
	KeyType       string `yaml:"KeyType"`
}

func loadAddons(fsys fs.FS, dir string) ([]Table, error) {
	files, err := fs.Glob(fsys, path.Join(dir, "addons", "*.yml"))
	if err != nil {
		return nil, err
	}
	var tables []Table
	for _, file := range files {
		if path.Base(file) == "addons.parameters.yml" {
			continue
		}
		raw, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		var a addon
		if err := yaml.Unmarshal(raw, &a); err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		refs := map[string]string{} // logical id → output name
		for name, o := range a.Outputs {
			if o.Value.Tag == "!Ref" {
				refs[o.Value.Value] = name
			}
		}
		for id, r := range a.Resources {
			if r.Type != "AWS::DynamoDB::Table" {
				continue
			}
			t, err := parseTable(id, r.Properties, refs[id])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", file, err)
			}
			tables = append(tables, t)
		}
	}
	slices.SortFunc(tables, func(a, b Table) int { return strings.Compare(a.LogicalID, b.LogicalID) })
	return tables, nil
}

func parseTable(id string, node yaml.Node, output string) (Table, error) {
	var p tableProps
	if err := node.Decode(&p); err != nil {
		return Table{}, fmt.Errorf("table %s: %w", id, err)
	}
	t := Table{LogicalID: id, NamePattern: p.TableName.Value, Attributes: map[string]string{}}
	if t.NamePattern == "" {
		return Table{}, fmt.Errorf("table %s: no TableName", id)
	}
	for _, k := range p.KeySchema {
		if k.KeyType == "HASH" {
			t.PartitionKey = k.AttributeName
		} else {
			return Table{}, fmt.Errorf("table %s: key %s of type %s: only a partition key is supported", id, k.AttributeName, k.KeyType)
		}
	}
	for _, d := range p.AttributeDefinitions {
		t.Attributes[d.AttributeName] = d.AttributeType
	}
	t.KeyType = t.Attributes[t.PartitionKey]
	if t.PartitionKey == "" || t.KeyType == "" {
		return Table{}, fmt.Errorf("table %s: no defined partition key", id)
	}
	for _, g := range p.GlobalSecondaryIndexes {
		ix := Index{Name: g.IndexName, Projection: g.Projection.ProjectionType}
		for _, k := range g.KeySchema {
			switch k.KeyType {
			case "HASH":
				ix.PartitionKey = k.AttributeName
			case "RANGE":
				ix.SortKey = k.AttributeName
			}
			if t.Attributes[k.AttributeName] == "" {
				return Table{}, fmt.Errorf("table %s: index %s: key %s has no attribute definition", id, g.IndexName, k.AttributeName)
			}
		}
		if ix.Name == "" || ix.PartitionKey == "" {
			return Table{}, fmt.Errorf("table %s: index without a name or partition key", id)
		}
		t.Indexes = append(t.Indexes, ix)
	}
	if output == "" {
		return Table{}, fmt.Errorf("table %s: no output refers to it, so no variable carries its name", id)
	}
	t.Output, t.EnvVar = output, copilot.OutputVariable(output)
	return t, nil
}

// TableName expands a table's name for an application, environment and service.
func (t Table) TableName(app, env, svc string) string {
	return strings.NewReplacer("${App}", app, "${Env}", env, "${Name}", svc).Replace(t.NamePattern)
}
