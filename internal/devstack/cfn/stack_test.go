package cfn

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestResolve resolves values in a small stack as CloudFormation would deploy it.
func TestResolve(t *testing.T) {
	tpl, err := Parse([]byte(`
Parameters:
  App: {Type: String}
  Size: {Type: String, Default: "3"}
Conditions:
  Big: !Not [!Equals [!Ref Size, "1"]]
  Small: !Not [!Condition Big]
Resources:
  Queue: {Type: AWS::SQS::Queue, Properties: {QueueName: !Sub '${App}-q'}}
  Table: {Type: AWS::DynamoDB::Table}
  Nested: {Type: AWS::CloudFormation::Stack}
Outputs:
  Name: {Value: !Ref Table}
  Only: {Value: x, Condition: Small}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStack("app-e1-svc", "r", "111", tpl, map[string]string{"App": "app"})
	if err != nil {
		t.Fatal(err)
	}
	s.NestedOutputs["Nested"] = map[string]any{"TableName": "t"}
	for _, tc := range []struct {
		name, yaml string
		want       any
	}{
		{"parameter and default", `[!Ref App, !Ref Size]`, []any{"app", "3"}},
		{"pseudo parameters", `!Sub '${AWS::StackName} ${AWS::Region} ${AWS::AccountId}'`, "app-e1-svc r 111"},
		{"a queue's URL, ARN and name", `[!Ref Queue, !GetAtt Queue.Arn, !GetAtt Queue.QueueName]`,
			[]any{"https://sqs.r.amazonaws.com/111/app-q", "arn:aws:sqs:r:111:app-q", "app-q"}},
		{"a resource named by its stack", `!Sub '${Table}, ${Table.Arn}'`, "app-e1-svc-Table, arn:aws:dynamodb:r:111:table/app-e1-svc-Table"},
		{"Sub with variables and an escape", "!Sub ['${T}/index/* ${!Literal}', {T: !GetAtt Table.Arn}]", "arn:aws:dynamodb:r:111:table/app-e1-svc-Table/index/* ${Literal}"},
		{"If, and NoValue dropped", `{a: !If [Big, yes, no], b: !If [Small, x, !Ref AWS::NoValue]}`, map[string]any{"a": "yes"}},
		{"Join, Split, Select", `!Join ['-', [!Select [1, !Split [',', 'a,b,c']], z]]`, "b-z"},
		{"a nested stack's output", `!GetAtt Nested.Outputs.TableName`, "t"},
		{"an import only a deployment knows", `!ImportValue vpc`, Unresolved("import vpc")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Decode([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.Resolve(v)
			if err != nil {
				t.Fatalf("Resolve(%s): %v", tc.yaml, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve(%s) (-want +got):\n%s", tc.yaml, diff)
			}
		})
	}
	out, err := s.Outputs()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"Name": "app-e1-svc-Table"}; !cmp.Equal(out, want) {
		t.Errorf("Outputs = %v; want %v (Only's condition is false)", out, want)
	}
	if _, err := s.Resolve(map[string]any{"Ref": "Missing"}); err == nil {
		t.Error("Resolve(Ref Missing) = nil error; want one naming the missing resource")
	}
}
