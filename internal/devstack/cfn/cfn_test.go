package cfn

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeShortForms(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       any
	}{
		{"Ref", `!Ref AppName`, map[string]any{"Ref": "AppName"}},
		{"Ref to a pseudo parameter", `!Ref AWS::NoValue`, map[string]any{"Ref": "AWS::NoValue"}},
		{"Ref keeps a number-like name as text", `!Ref 80`, map[string]any{"Ref": "80"}},
		{"Sub string", `!Sub '${AppName}-x'`, map[string]any{"Fn::Sub": "${AppName}-x"}},
		{"Sub with variables", "!Sub\n  - ${T}/index/*\n  - { T: !Ref ordersTable }",
			map[string]any{"Fn::Sub": []any{"${T}/index/*", map[string]any{"T": map[string]any{"Ref": "ordersTable"}}}}},
		{"GetAtt dotted", `!GetAtt Queue.Arn`, map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}},
		{"GetAtt nested attribute", `!GetAtt AddonsStack.Outputs.tableName`,
			map[string]any{"Fn::GetAtt": []any{"AddonsStack", "Outputs.tableName"}}},
		{"GetAtt list", `!GetAtt [Queue, Arn]`, map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}},
		{"If", `!If [HasX, !Ref X, !Ref AWS::NoValue]`,
			map[string]any{"Fn::If": []any{"HasX", map[string]any{"Ref": "X"}, map[string]any{"Ref": "AWS::NoValue"}}}},
		{"Join", `!Join ['', [a, !Ref B]]`, map[string]any{"Fn::Join": []any{"", []any{"a", map[string]any{"Ref": "B"}}}}},
		{"Select and Split", `!Select [0, !Split [',', !ImportValue subnets]]`,
			map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::ImportValue": "subnets"}}}}}},
		{"Condition inside And", `!And [!Condition A, !Equals [!Ref P, true]]`,
			map[string]any{"Fn::And": []any{map[string]any{"Condition": "A"}, map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "P"}, true}}}}},
		{"long form untouched", `{"Fn::GetAtt": [Queue, Arn]}`, map[string]any{"Fn::GetAtt": []any{"Queue", "Arn"}}},
		{"YAML's own tags are not functions", `!!str 3`, "3"},
		{"plain scalars keep their types", `[1, 2.5, true, null, text]`, []any{1, 2.5, true, nil, "text"}},
		{"anchors and aliases", "a: &x {k: !Ref V}\nb: *x", map[string]any{
			"a": map[string]any{"k": map[string]any{"Ref": "V"}}, "b": map[string]any{"k": map[string]any{"Ref": "V"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode([]byte(tc.yaml))
			if err != nil {
				t.Fatalf("Decode(%q): %v", tc.yaml, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decode(%q) (-want +got):\n%s", tc.yaml, diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"duplicate key", "a: 1\na: 2", `duplicate key "a"`},
		{"GetAtt without attribute", "!GetAtt Queue", "want Resource.Attribute"},
		{"empty", "", "empty document"},
		{"not YAML", "a: [", "yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Decode(%q) error = %v; want one containing %q", tc.yaml, err, tc.want)
			}
		})
	}
}

const sample = `
AWSTemplateFormatVersion: 2010-09-09
Description: A queue and its consumer's variable.
Parameters:
  AppName: {Type: String}
  Retention: {Type: Number, Default: 345600}
Conditions:
  HasAddons: !Not [!Equals [!Ref AddonsTemplateURL, ""]]
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 30
      RedrivePolicy: {deadLetterTargetArn: !GetAtt DLQ.Arn, maxReceiveCount: 3}
  DLQ:
    Type: AWS::SQS::Queue
  AddonsStack:
    Type: AWS::CloudFormation::Stack
    Condition: HasAddons
    DependsOn: Queue
Outputs:
  QueueURL:
    Value: !Ref Queue
    Export: {Name: !Sub '${AWS::StackName}-QueueURL'}
`

func TestParse(t *testing.T) {
	tpl, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tpl.OfType("AWS::SQS::Queue"), []string{"DLQ", "Queue"}; !cmp.Equal(got, want) {
		t.Errorf("OfType(AWS::SQS::Queue) = %q; want %q", got, want)
	}
	q := tpl.Resources["Queue"]
	redrive, _ := q.Properties["RedrivePolicy"].(map[string]any)
	if res, attr, ok := GetAtt(redrive["deadLetterTargetArn"]); !ok || res != "DLQ" || attr != "Arn" {
		t.Errorf("deadLetterTargetArn = %v; want GetAtt DLQ.Arn", redrive["deadLetterTargetArn"])
	}
	if got := redrive["maxReceiveCount"]; got != 3 {
		t.Errorf("maxReceiveCount = %#v; want the int 3", got)
	}
	if a := tpl.Resources["AddonsStack"]; a.Condition != "HasAddons" || !cmp.Equal(a.DependsOn, []string{"Queue"}) {
		t.Errorf("AddonsStack: Condition %q, DependsOn %q; want HasAddons, [Queue]", a.Condition, a.DependsOn)
	}
	if p := tpl.Parameters["Retention"]; p.Type != "Number" || p.Default != 345600 {
		t.Errorf("parameter Retention = %+v; want Number, default 345600", p)
	}
	if ref, ok := Ref(tpl.Outputs["QueueURL"].Value); !ok || ref != "Queue" {
		t.Errorf("output QueueURL = %v; want Ref Queue", tpl.Outputs["QueueURL"].Value)
	}
	if fn, _, ok := Intrinsic(tpl.Outputs["QueueURL"].Export); !ok || fn != "Fn::Sub" {
		t.Errorf("output QueueURL export = %v; want a Fn::Sub", tpl.Outputs["QueueURL"].Export)
	}
	if _, ok := tpl.Conditions["HasAddons"]; !ok {
		t.Errorf("conditions = %v; want HasAddons", tpl.Conditions)
	}
}

func TestParseJSON(t *testing.T) {
	tpl, err := Parse([]byte(`{"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-t"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if fn, arg, ok := Intrinsic(tpl.Resources["T"].Properties["TopicName"]); !ok || fn != "Fn::Sub" || arg != "${AWS::StackName}-t" {
		t.Errorf("TopicName = %v; want Fn::Sub", tpl.Resources["T"].Properties["TopicName"])
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"not a mapping", "- a", "template is a list"},
		{"resource without type", "Resources: {Q: {Properties: {}}}", "resource Q: no Type"},
		{"resources not a mapping", "Resources: [a]", "Resources is a list"},
		{"properties an intrinsic", "Resources: {Q: {Type: X, Properties: !Ref P}}", "Properties is a Ref"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) error = %v; want one containing %q", tc.yaml, err, tc.want)
			}
		})
	}
}

func TestIntrinsic(t *testing.T) {
	for _, tc := range []struct {
		v      any
		wantFn string
	}{
		{map[string]any{"Ref": "X"}, "Ref"},
		{map[string]any{"Fn::Join": []any{}}, "Fn::Join"},
		{map[string]any{"Condition": "C"}, "Condition"},
		{map[string]any{"Type": "AWS::SQS::Queue"}, ""},
		{map[string]any{"Ref": "X", "Other": 1}, ""},
		{"Ref", ""},
	} {
		fn, _, ok := Intrinsic(tc.v)
		if fn != tc.wantFn || ok != (tc.wantFn != "") {
			t.Errorf("Intrinsic(%v) = %q, %v; want %q", tc.v, fn, ok, tc.wantFn)
		}
	}
}
