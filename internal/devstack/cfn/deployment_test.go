package cfn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An assembly as the CDK app writes it: literal names of environment "test", the topic's ARN
// exported by the publisher's stack and imported by the worker's.
var assemblyFixture = map[string]string{
	"app-test-data": `{"Resources": {"t": {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "app-test-worker-table"}}}}`,
	"app-test-publisher": `{"Resources": {
		"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "app-test-publisher-ordersTopic"}}},
		"Outputs": {"TopicOut": {"Value": {"Ref": "Topic"}, "Export": {"Name": "app-test-publisher:Topic"}},
			"Acl": {"Value": {"Fn::GetAtt": "Topic.TopicName"}}}}`,
	"app-test-worker": `{"Resources": {
		"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "app-test-worker-EventsQueue"}},
		"Sub": {"Type": "AWS::SNS::Subscription", "Properties": {"TopicArn": {"Fn::ImportValue": "app-test-publisher:Topic"}, "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}}},
		"Role": {"Type": "AWS::IAM::Role"},
		"Def": {"Type": "AWS::ECS::TaskDefinition", "Properties": {"TaskRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
			"ContainerDefinitions": [{"Name": "sidecar"}, {"Name": "worker", "Environment": [
				{"Name": "COPILOT_QUEUE_URI", "Value": {"Ref": "Queue"}},
				{"Name": "COPILOT_ENVIRONMENT_NAME", "Value": "test"},
				{"Name": "TABLE", "Value": "app-test-worker-table"}]}]}}}}`,
}

func writeAssembly(t *testing.T, templates map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range templates {
		if err := os.WriteFile(filepath.Join(dir, name+".template.json"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestAssemblyDeployment: an assembly deployed to another environment has every name of its
// own environment renamed, imports resolved across stacks, and its workloads found by their
// containers.
func TestAssemblyDeployment(t *testing.T) {
	a, err := LoadAssembly(writeAssembly(t, assemblyFixture), "app")
	if err != nil {
		t.Fatal(err)
	}
	if a.Env != "test" {
		t.Fatalf("Env = %q; want test (from app-test-data)", a.Env)
	}
	for _, env := range []string{"test", "e1"} {
		t.Run(env, func(t *testing.T) {
			d, err := a.Deployment(env, "eu-west-1", "111111111111", map[string]string{"worker": "Worker Service"})
			if err != nil {
				t.Fatal(err)
			}
			w := d.Workload("worker")
			if w == nil || w.File != "app-"+env+"-worker.template.json" || w.TaskDefinition != "Def" {
				t.Fatalf("workload %+v; want Def of app-%s-worker.template.json", w, env)
			}
			if role, err := w.TaskRole(); err != nil || role != "Role" {
				t.Errorf("TaskRole = %q, %v; want Role", role, err)
			}
			vars, err := w.Env()
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"COPILOT_QUEUE_URI":        "https://sqs.eu-west-1.amazonaws.com/111111111111/app-" + env + "-worker-EventsQueue",
				"COPILOT_ENVIRONMENT_NAME": "test", // not a name: left as written
				"TABLE":                    "app-" + env + "-worker-table",
			}
			for k, v := range want {
				if vars[k] != v {
					t.Errorf("%s = %q; want %q", k, vars[k], v)
				}
			}
			sub := w.Stack().Template.Resources["Sub"].Properties
			got, err := w.Stack().Resolve(sub["TopicArn"])
			if want := "arn:aws:sns:eu-west-1:111111111111:app-" + env + "-publisher-ordersTopic"; err != nil || got != want {
				t.Errorf("subscription TopicArn = %v, %v; want %s (the publisher's export)", got, err, want)
			}
			out, err := d.Stacks["app-"+env+"-publisher.template.json"].Outputs()
			if err != nil || out["Acl"] != "app-"+env+"-publisher-ordersTopic" {
				t.Errorf("outputs %v, %v; want Acl from the short GetAtt form", out, err)
			}
		})
	}
}

func TestLoadAssemblyRefuses(t *testing.T) {
	for name, templates := range map[string]map[string]string{
		"no templates":    {},
		"no data stack":   {"app-test-worker": `{"Resources": {}}`},
		"two data stacks": {"app-a-data": `{"Resources": {}}`, "app-b-data": `{"Resources": {}}`},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := LoadAssembly(writeAssembly(t, templates), "app"); err == nil {
				t.Error("LoadAssembly succeeded; want an error")
			}
		})
	}
	a, err := LoadAssembly(writeAssembly(t, assemblyFixture), "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Deployment("test", "r", "1", map[string]string{"nosuch": "Worker Service"}); err == nil || !strings.Contains(err.Error(), "no stack app-test-nosuch") {
		t.Errorf("Deployment of a service with no stack: %v; want no stack app-test-nosuch", err)
	}
}
