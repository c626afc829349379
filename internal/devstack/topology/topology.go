// Package topology reads the Copilot workspace (copilot/: the manifests, and the addons with
// cfn) into the application's services and AWS resources, and creates the same resources on
// an emulator, so the local topology cannot drift from the deployed one.
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
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
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
	// Addons are the CloudFormation templates of every addons folder, the services' and the
	// environments', sorted by path: the one list of them the tests read.
	Addons []Addon
}

// Addon is one CloudFormation template of an addons folder: <workload>/addons/*.yml but
// addons.parameters.yml, which is not a template.
type Addon struct {
	Workload string // the folder under copilot/: a service, or "environments"
	Path     string // relative to the workspace, e.g. publisher/addons/ordersTable.yml
	Template *cfn.Template
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
	PartitionKey string
	KeyType      string // S, N or B
	// Output is the addon output that refers to the table (ordersTableName);
	// EnvVar the variable Copilot injects with the table's name from it
	// (copilot.OutputVariable: ORDERS_TABLE_NAME).
	Output, EnvVar string
	// Attributes maps every key attribute (table and indexes) to its type.
	Attributes map[string]string
	Indexes    []Index
	addon      *cfn.Template // whose TableName TableName resolves
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
	if top.Addons, err = loadAddons(fsys); err != nil {
		return nil, err
	}
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
		svc, err := loadService(fsys, e.Name(), top.Addons)
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

func loadService(fsys fs.FS, dir string, addons []Addon) (*Service, error) {
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
	for _, a := range addons {
		if a.Workload != dir {
			continue
		}
		tables, err := addonTables(a)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", a.Path, err)
		}
		svc.Tables = append(svc.Tables, tables...)
	}
	slices.SortFunc(svc.Tables, func(a, b Table) int { return strings.Compare(a.LogicalID, b.LogicalID) })
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

// loadAddons reads every <workload>/addons/*.yml of the workspace but addons.parameters.yml.
func loadAddons(fsys fs.FS) ([]Addon, error) {
	files, err := fs.Glob(fsys, "*/addons/*.yml")
	if err != nil {
		return nil, err
	}
	var addons []Addon
	for _, file := range files {
		if path.Base(file) == "addons.parameters.yml" {
			continue
		}
		raw, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", file, err)
		}
		tpl, err := cfn.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		addons = append(addons, Addon{Workload: strings.SplitN(file, "/", 2)[0], Path: file, Template: tpl})
	}
	return addons, nil
}

// addonTables reads the DynamoDB tables an addon declares.
func addonTables(a Addon) ([]Table, error) {
	refs := map[string]string{} // logical id → output name
	for name, o := range a.Template.Outputs {
		if id, ok := cfn.Ref(o.Value); ok {
			refs[id] = name
		}
	}
	var tables []Table
	for _, id := range a.Template.OfType("AWS::DynamoDB::Table") {
		t, err := parseTable(a.Template, id, refs[id])
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", id, err)
		}
		tables = append(tables, t)
	}
	return tables, nil
}

type keyElement struct{ AttributeName, KeyType string }

func parseTable(addon *cfn.Template, id string, output string) (Table, error) {
	props := addon.Resources[id].Properties
	var p struct {
		AttributeDefinitions   []struct{ AttributeName, AttributeType string }
		KeySchema              []keyElement
		GlobalSecondaryIndexes []struct {
			IndexName  string
			KeySchema  []keyElement
			Projection struct{ ProjectionType string }
		}
	}
	// The properties as decoded are JSON's values: a round trip checks their shape.
	b, err := json.Marshal(props)
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		return Table{}, err
	}
	t := Table{LogicalID: id, Attributes: map[string]string{}, addon: addon}
	if props["TableName"] == nil {
		return Table{}, errors.New("no TableName")
	}
	if name, err := t.tableName("app0probe", "env0probe", "svc0probe"); err != nil || cfn.IsUnresolved(name) {
		return Table{}, fmt.Errorf("TableName %v does not resolve with the parameters Copilot passes (App, Env, Name): %q %v", props["TableName"], name, err)
	}
	for _, k := range p.KeySchema {
		if k.KeyType == "HASH" {
			t.PartitionKey = k.AttributeName
		} else {
			return Table{}, fmt.Errorf("key %s of type %s: only a partition key is supported", k.AttributeName, k.KeyType)
		}
	}
	for _, d := range p.AttributeDefinitions {
		t.Attributes[d.AttributeName] = d.AttributeType
	}
	t.KeyType = t.Attributes[t.PartitionKey]
	if t.PartitionKey == "" || t.KeyType == "" {
		return Table{}, errors.New("no defined partition key")
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
				return Table{}, fmt.Errorf("index %s: key %s has no attribute definition", g.IndexName, k.AttributeName)
			}
		}
		if ix.Name == "" || ix.PartitionKey == "" {
			return Table{}, errors.New("index without a name or partition key")
		}
		t.Indexes = append(t.Indexes, ix)
	}
	if output == "" {
		return Table{}, errors.New("no output refers to it, so no variable carries its name")
	}
	t.Output, t.EnvVar = output, copilot.OutputVariable(output)
	return t, nil
}

// TableName is the table's name in a deployment of service svc to environment env of app: its
// addon's TableName resolved with the parameters Copilot passes every addon (App, Env, Name).
func (t Table) TableName(app, env, svc string) string {
	name, _ := t.tableName(app, env, svc) // Load resolved it once
	return name
}

func (t Table) tableName(app, env, svc string) (string, error) {
	s, err := cfn.NewStack(app+"-"+env+"-"+svc+"-AddonsStack", "", "", t.addon, map[string]string{"App": app, "Env": env, "Name": svc})
	if err != nil {
		return "", err
	}
	v, err := s.Resolve(t.addon.Resources[t.LogicalID].Properties["TableName"])
	return fmt.Sprint(v), err
}
