package topology_test

import (
	"encoding/json"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

const (
	publisherManifest = `name: publisher
type: Load Balanced Web Service
image:
  build: Dockerfile.publisher
  port: 5000
variables:
  LOG_LEVEL: info
publish:
  topics:
    - name: ordersTopic
`
	promotionManifest = `name: promotion
type: Worker Service
image:
  build:
    dockerfile: Dockerfile.promotion
    context: .
variables:
  WORKER_MAX_RECEIVES: "3"
subscribe:
  topics:
    - name: ordersTopic
      service: publisher
      filter_policy:
        amount:
          - numeric: [">=", 80]
  queue:
    retention: 96h
    timeout: 45s
    dead_letter:
      tries: 3
`
	ordersTable = `Parameters:
  App: {Type: String}
Resources:
  ordersTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub ${App}-${Env}-${Name}-ordersTable
      AttributeDefinitions:
        - {AttributeName: id, AttributeType: "S"}
        - {AttributeName: outbox, AttributeType: "S"}
        - {AttributeName: leaseUntil, AttributeType: "S"}
      KeySchema:
        - {AttributeName: id, KeyType: HASH}
      GlobalSecondaryIndexes:
        - IndexName: outbox
          KeySchema:
            - {AttributeName: outbox, KeyType: HASH}
            - {AttributeName: leaseUntil, KeyType: RANGE}
          Projection: {ProjectionType: KEYS_ONLY}
  ordersTableAccessPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      Description: not a table
Outputs:
  ordersTableName:
    Value: !Ref ordersTable
  ordersTableAccessPolicy:
    Value: !Ref ordersTableAccessPolicy
`
	couponsTable = `Resources:
  couponsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub ${App}-${Env}-${Name}-couponsTable
      AttributeDefinitions:
        - {AttributeName: orderId, AttributeType: "S"}
      KeySchema:
        - {AttributeName: orderId, KeyType: HASH}
Outputs:
  couponsTableName:
    Value: !Ref couponsTable
`
)

// workspace is a valid copilot/ folder: a publisher with a table and a
// topic, a worker subscribed to it with a table of its own.
func workspace() fstest.MapFS {
	return fstest.MapFS{
		".workspace":                             {Data: []byte("application: pubsub\n")},
		"environments/test/manifest.yml":         {Data: []byte("name: test\ntype: Environment\n")},
		"publisher/manifest.yml":                 {Data: []byte(publisherManifest)},
		"publisher/addons/ordersTable.yml":       {Data: []byte(ordersTable)},
		"publisher/addons/addons.parameters.yml": {Data: []byte("Parameters: {}\n")},
		"promotion/manifest.yml":                 {Data: []byte(promotionManifest)},
		"promotion/addons/couponsTable.yml":      {Data: []byte(couponsTable)},
		"promotion/overrides/cfn.patches.yml":    {Data: []byte("[]\n")},
		"scripts/README":                         {Data: []byte("a folder without a manifest is not a service\n")},
	}
}

func TestLoad(t *testing.T) {
	top, err := topology.Load(workspace())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := &topology.Topology{
		App: "pubsub",
		Services: []*topology.Service{
			{
				Name:       "promotion",
				Type:       topology.TypeWorker,
				Dockerfile: "Dockerfile.promotion",
				Subscribes: []topology.Subscription{{Topic: "ordersTopic", Service: "publisher", FilterPolicy: `{"amount":[{"numeric":[">=",80]}]}`}},
				Queue:      topology.Queue{Delay: 0, Retention: 96 * time.Hour, Timeout: 45 * time.Second, DeadLetterTries: 3},
				Tables: []topology.Table{{
					LogicalID:    "couponsTable",
					PartitionKey: "orderId", KeyType: "S", Output: "couponsTableName", EnvVar: "COUPONS_TABLE_NAME",
					Attributes: map[string]string{"orderId": "S"},
				}},
				Variables: map[string]string{"WORKER_MAX_RECEIVES": "3"},
			},
			{
				Name:       "publisher",
				Type:       topology.TypeLoadBalancedWeb,
				Dockerfile: "Dockerfile.publisher",
				Port:       5000,
				Publishes:  []string{"ordersTopic"},
				// A service without a queue gets the queue defaults all the same.
				Queue: topology.Queue{Retention: 96 * time.Hour, Timeout: 30 * time.Second},
				Tables: []topology.Table{{
					LogicalID:    "ordersTable",
					PartitionKey: "id", KeyType: "S", Output: "ordersTableName", EnvVar: "ORDERS_TABLE_NAME",
					Attributes: map[string]string{"id": "S", "outbox": "S", "leaseUntil": "S"},
					Indexes:    []topology.Index{{Name: "outbox", PartitionKey: "outbox", SortKey: "leaseUntil", Projection: "KEYS_ONLY"}},
				}},
				Variables: map[string]string{"LOG_LEVEL": "info"},
			},
		},
	}
	// A filter policy is compared as JSON: json.Marshal writes > as \u003e.
	asJSON := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".FilterPolicy" },
		cmp.Transformer("json", func(s string) any {
			var v any
			if err := json.Unmarshal([]byte(s), &v); err != nil {
				return "not JSON: " + s
			}
			return v
		}))
	ignore := cmp.Options{cmpopts.IgnoreFields(topology.Service{}, "Manifest"), cmpopts.IgnoreFields(topology.Topology{}, "Addons"), cmpopts.IgnoreUnexported(topology.Table{})}
	if diff := cmp.Diff(want, top, asJSON, ignore); diff != "" {
		t.Errorf("topology (-want +got):\n%s", diff)
	}
	var addons []string
	for _, a := range top.Addons {
		addons = append(addons, a.Workload+" "+a.Path+" "+strings.Join(a.Template.OfType("AWS::DynamoDB::Table"), ","))
	}
	if want := []string{"promotion promotion/addons/couponsTable.yml couponsTable", "publisher publisher/addons/ordersTable.yml ordersTable"}; !cmp.Equal(addons, want) {
		t.Errorf("Addons = %q; want %q", addons, want)
	}
	if got := top.Service("promotion").Manifest["type"]; got != topology.TypeWorker {
		t.Errorf("promotion Manifest[type] = %v; want the parsed manifest", got)
	}
	if got := top.Service("billing"); got != nil {
		t.Errorf("Service(billing) = %v; want nil", got)
	}
	if got := top.Services[1].Tables[0].TableName("pubsub", "test", "publisher"); got != "pubsub-test-publisher-ordersTable" {
		t.Errorf("TableName = %q; want pubsub-test-publisher-ordersTable", got)
	}
}

func TestLoadDefaults(t *testing.T) {
	fsys := workspace()
	edit(t, fsys, "promotion/manifest.yml", "  queue:\n    retention: 96h\n    timeout: 45s\n    dead_letter:\n      tries: 3\n", "  queue:\n    delay: 5s\n")
	top, err := topology.Load(fsys)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := topology.Queue{Delay: 5 * time.Second, Retention: 96 * time.Hour, Timeout: 30 * time.Second}
	if got := top.Service("promotion").Queue; got != want {
		t.Errorf("queue = %+v; want %+v (Copilot's defaults, no dead-letter queue)", got, want)
	}
}

// TestVariablesIn: a manifest variable may name another service's table as
// Copilot names it, interpolated per environment as Copilot does on deploy.
func TestVariablesIn(t *testing.T) {
	fsys := workspace()
	edit(t, fsys, "publisher/manifest.yml", "  LOG_LEVEL: info\n",
		"  LOG_LEVEL: info\n  COUPONS_TABLE_NAME: ${COPILOT_APPLICATION_NAME}-${COPILOT_ENVIRONMENT_NAME}-promotion-couponsTable\n")
	top, err := topology.Load(fsys)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	pub := top.Service("publisher")
	want := map[string]string{"LOG_LEVEL": "info", "COUPONS_TABLE_NAME": "pubsub-local-promotion-couponsTable"}
	if diff := cmp.Diff(want, pub.VariablesIn("pubsub", "local")); diff != "" {
		t.Errorf("VariablesIn (-want +got):\n%s", diff)
	}
	if got := pub.Variables["COUPONS_TABLE_NAME"]; !strings.HasPrefix(got, "${COPILOT_APPLICATION_NAME}") {
		t.Errorf("Variables[COUPONS_TABLE_NAME] = %q; want the manifest's text, uninterpolated", got)
	}
}

// edit replaces old, which must occur once, with new in the named file.
func edit(t *testing.T, fsys fstest.MapFS, name, old, new string) {
	t.Helper()
	data := string(fsys[name].Data)
	if strings.Count(data, old) != 1 {
		t.Fatalf("%s does not contain %q exactly once", name, old)
	}
	fsys[name] = &fstest.MapFile{Data: []byte(strings.Replace(data, old, new, 1))}
}

// TestLoadRejects breaks the valid workspace one way at a time: Load must
// fail, and its error must name the file and what is wrong.
func TestLoadRejects(t *testing.T) {
	type change struct{ file, old, new string }
	for _, tc := range []struct {
		name    string
		remove  []string
		changes []change
		want    []string // each must be in the error
	}{
		{
			name:   "no .workspace",
			remove: []string{".workspace"},
			want:   []string{"read workspace"},
		},
		{
			name:    "no application name",
			changes: []change{{".workspace", "application: pubsub", "app: pubsub"}},
			want:    []string{"no application name in .workspace"},
		},
		{
			name:    ".workspace not YAML",
			changes: []change{{".workspace", "application: pubsub", "application: [pubsub"}},
			want:    []string{"no application name in .workspace"},
		},
		{
			name:    "manifest not YAML",
			changes: []change{{"promotion/manifest.yml", "name: promotion\n", "name: [promotion\n"}},
			want:    []string{"parse promotion/manifest.yml"},
		},
		{
			name:    "manifest without a name",
			changes: []change{{"promotion/manifest.yml", "name: promotion\n", ""}},
			want:    []string{"promotion/manifest.yml", `name "" does not match its folder`},
		},
		{
			name:    "name other than its folder",
			changes: []change{{"promotion/manifest.yml", "name: promotion\n", "name: promo\n"}},
			want:    []string{"promotion/manifest.yml", `name "promo" does not match its folder`},
		},
		{
			name:    "image.build of the wrong shape",
			changes: []change{{"promotion/manifest.yml", "dockerfile: Dockerfile.promotion", "dockerfile: [Dockerfile.promotion]"}},
			want:    []string{"promotion/manifest.yml", "image.build"},
		},
		{
			name:    "queue timeout not a duration",
			changes: []change{{"promotion/manifest.yml", "timeout: 45s", "timeout: 45 seconds"}},
			want:    []string{"promotion/manifest.yml", "subscribe.queue.timeout", "45 seconds"},
		},
		{
			name:    "queue retention not a duration",
			changes: []change{{"promotion/manifest.yml", "retention: 96h", "retention: 4d"}},
			want:    []string{"promotion/manifest.yml", "subscribe.queue.retention", "4d"},
		},
		{
			name:    "queue delay not a duration",
			changes: []change{{"promotion/manifest.yml", "retention: 96h", "retention: 96h\n    delay: soon"}},
			want:    []string{"promotion/manifest.yml", "subscribe.queue.delay", "soon"},
		},
		{
			name:    "dead-letter tries not a number",
			changes: []change{{"promotion/manifest.yml", "tries: 3", "tries: three"}},
			want:    []string{"parse promotion/manifest.yml", "three", "int"},
		},
		{
			name:    "filter policy that is not JSON",
			changes: []change{{"promotion/manifest.yml", "        amount:\n", "        80:\n"}},
			want:    []string{"promotion/manifest.yml", "filter_policy of ordersTopic"},
		},
		{
			name:    "subscription to a topic nobody publishes",
			changes: []change{{"promotion/manifest.yml", "    - name: ordersTopic\n      service: publisher", "    - name: paymentsTopic\n      service: publisher"}},
			want:    []string{"promotion subscribes to publisher:paymentsTopic, which no manifest publishes"},
		},
		{
			name:    "subscription to an unknown service",
			changes: []change{{"promotion/manifest.yml", "service: publisher", "service: billing"}},
			want:    []string{"promotion subscribes to billing:ordersTopic, which no manifest publishes"},
		},
		{
			name:   "no services",
			remove: []string{"publisher/manifest.yml", "promotion/manifest.yml"},
			want:   []string{"workspace declares no services"},
		},
		{
			name:    "addon not YAML",
			changes: []change{{"promotion/addons/couponsTable.yml", "Resources:\n", "Resources: [\n"}},
			want:    []string{"parse promotion/addons/couponsTable.yml"},
		},
		{
			name:    "table without TableName",
			changes: []change{{"promotion/addons/couponsTable.yml", "      TableName: !Sub ${App}-${Env}-${Name}-couponsTable\n", ""}},
			want:    []string{"promotion/addons/couponsTable.yml", "table couponsTable: no TableName"},
		},
		{
			name:    "table named with a parameter Copilot does not pass",
			changes: []change{{"promotion/addons/couponsTable.yml", "${Name}-couponsTable", "${Service}-couponsTable"}},
			want:    []string{"promotion/addons/couponsTable.yml", "table couponsTable: TableName", "does not resolve"},
		},
		{
			name:    "table with a sort key",
			changes: []change{{"promotion/addons/couponsTable.yml", "        - {AttributeName: orderId, KeyType: HASH}\n", "        - {AttributeName: orderId, KeyType: HASH}\n        - {AttributeName: code, KeyType: RANGE}\n"}},
			want:    []string{"promotion/addons/couponsTable.yml", "table couponsTable: key code of type RANGE: only a partition key is supported"},
		},
		{
			name:    "table without a key schema",
			changes: []change{{"promotion/addons/couponsTable.yml", "      KeySchema:\n        - {AttributeName: orderId, KeyType: HASH}\n", ""}},
			want:    []string{"promotion/addons/couponsTable.yml", "table couponsTable: no defined partition key"},
		},
		{
			name:    "partition key without an attribute definition",
			changes: []change{{"promotion/addons/couponsTable.yml", "{AttributeName: orderId, AttributeType: \"S\"}", "{AttributeName: code, AttributeType: \"S\"}"}},
			want:    []string{"promotion/addons/couponsTable.yml", "table couponsTable: no defined partition key"},
		},
		{
			name:    "table properties of the wrong shape",
			changes: []change{{"promotion/addons/couponsTable.yml", "      KeySchema:\n        - {AttributeName: orderId, KeyType: HASH}\n", "      KeySchema: orderId\n"}},
			want:    []string{"promotion/addons/couponsTable.yml", "table couponsTable:"},
		},
		{
			name:    "index key without an attribute definition",
			changes: []change{{"publisher/addons/ordersTable.yml", "        - {AttributeName: leaseUntil, AttributeType: \"S\"}\n", ""}},
			want:    []string{"publisher/addons/ordersTable.yml", "table ordersTable: index outbox: key leaseUntil has no attribute definition"},
		},
		{
			name:    "index without a name",
			changes: []change{{"publisher/addons/ordersTable.yml", "        - IndexName: outbox\n          KeySchema:", "        - KeySchema:"}},
			want:    []string{"publisher/addons/ordersTable.yml", "table ordersTable: index without a name or partition key"},
		},
		{
			name:    "index without a partition key",
			changes: []change{{"publisher/addons/ordersTable.yml", "            - {AttributeName: outbox, KeyType: HASH}\n", ""}},
			want:    []string{"publisher/addons/ordersTable.yml", "table ordersTable: index without a name or partition key"},
		},
		{
			name:    "table no output refers to",
			changes: []change{{"promotion/addons/couponsTable.yml", "Outputs:\n  couponsTableName:\n    Value: !Ref couponsTable\n", ""}},
			want:    []string{"promotion/addons/couponsTable.yml", "table couponsTable: no output refers to it"},
		},
		{
			name:    "variable the deployer's shell would set",
			changes: []change{{"publisher/manifest.yml", "  LOG_LEVEL: info\n", "  LOG_LEVEL: ${LEVEL}\n"}},
			want:    []string{"publisher/manifest.yml: variables.LOG_LEVEL", "${LEVEL}"},
		},
		{
			name:    "another service's table variable with a hard-coded environment",
			changes: []change{{"publisher/manifest.yml", "  LOG_LEVEL: info\n", "  LOG_LEVEL: info\n  COUPONS_TABLE_NAME: pubsub-test-promotion-couponsTable\n"}},
			want:    []string{"publisher/manifest.yml: variables.COUPONS_TABLE_NAME", "${COPILOT_APPLICATION_NAME}-${COPILOT_ENVIRONMENT_NAME}-promotion-couponsTable", "promotion's addon (couponsTable)"},
		},
		{
			name:    "another service's table variable naming another table",
			changes: []change{{"publisher/manifest.yml", "  LOG_LEVEL: info\n", "  LOG_LEVEL: info\n  COUPONS_TABLE_NAME: ${COPILOT_APPLICATION_NAME}-${COPILOT_ENVIRONMENT_NAME}-promotion-coupons\n"}},
			want:    []string{"publisher/manifest.yml: variables.COUPONS_TABLE_NAME"},
		},
		{
			name:    "output that names the table without !Ref",
			changes: []change{{"promotion/addons/couponsTable.yml", "Value: !Ref couponsTable", "Value: couponsTable"}},
			want:    []string{"promotion/addons/couponsTable.yml", "table couponsTable: no output refers to it"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fsys := workspace()
			for _, name := range tc.remove {
				delete(fsys, name)
			}
			for _, c := range tc.changes {
				edit(t, fsys, c.file, c.old, c.new)
			}
			top, err := topology.Load(fsys)
			if err == nil {
				t.Fatalf("Load = %d services, nil error; want an error", len(top.Services))
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Load error %q; want it to contain %q", err, want)
				}
			}
		})
	}
}
