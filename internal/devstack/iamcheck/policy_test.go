package iamcheck

import (
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
)

func TestWildcard(t *testing.T) {
	for _, tc := range []struct {
		pattern, s string
		want       bool
	}{
		{"*", "arn:aws:sqs:eu-west-1:1:q", true},
		{"arn:aws:dynamodb:r:1:table/t/index/*", "arn:aws:dynamodb:r:1:table/t/index/outbox", true},
		{"arn:aws:dynamodb:r:1:table/t", "arn:aws:dynamodb:r:1:table/t/index/outbox", false},
		{"arn:aws:dynamodb:r:1:table/t/index/outbox", "arn:aws:dynamodb:r:1:table/t/index/other", false},
		{"arn:aws:kms:r:1:key/*", "arn:aws:kms:r:1:key/k/sub", true},
		{"sqs:Receive?essage", "sqs:ReceiveMessage", true},
		{"arn:aws:s3:::b[1]", "arn:aws:s3:::b[1]", true},
		{"arn:aws:s3:::b[1]", "arn:aws:s3:::b1", false},
	} {
		if got := wildcard(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcard(%q, %q) = %v; want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestEvaluate(t *testing.T) {
	const (
		role  = "arn:aws:iam::111:role/svc-TaskRole"
		queue = "arn:aws:sqs:r:111:q"
		key   = "arn:aws:kms:r:111:key/k"
		table = "arn:aws:dynamodb:r:111:table/t"
	)
	g := &Grants{
		Principal: role,
		Account:   "111",
		Identity: []Statement{
			{Source: "deny", Effect: "Deny", Actions: []string{"iam:*"}, Resources: []string{"*"}},
			{Source: "table", Effect: "Allow", Actions: []string{"dynamodb:PutItem", "dynamodb:Query"}, Resources: []string{table, table + "/index/outbox"}},
			{Source: "iam", Effect: "Allow", Actions: []string{"iam:PassRole"}, Resources: []string{"*"}},
			{Source: "conditional", Effect: "Allow", Actions: []string{"dynamodb:GetItem"}, Resources: []string{table}, Conditional: true},
			{Source: "kms via identity", Effect: "Allow", Actions: []string{"kms:GenerateDataKey"}, Resources: []string{"*"}},
		},
		Resource: map[string][]Statement{
			queue: {
				{Source: "queue policy", Effect: "Allow", Principals: []string{role}, Actions: []string{"sqs:ReceiveMessage", "sqs:DeleteMessage"}, Resources: []string{queue}},
				{Source: "someone else", Effect: "Allow", Principals: []string{"arn:aws:iam::111:role/other"}, Actions: []string{"sqs:ChangeMessageVisibility"}},
			},
			key: {
				{Source: "key policy", Effect: "Allow", Principals: []string{role}, Actions: []string{"kms:Decrypt"}, Resources: []string{"*"}},
			},
		},
	}
	for _, tc := range []struct {
		action, resource string
		allowed          bool
		by               string
	}{
		{"sqs:ReceiveMessage", queue, true, "queue policy"},
		{"sqs:deletemessage", queue, true, "queue policy"}, // actions ignore case
		{"sqs:ChangeMessageVisibility", queue, false, ""},  // granted to another principal only
		{"sqs:ReceiveMessage", "arn:aws:sqs:r:111:other", false, ""},
		{"dynamodb:PutItem", table, true, "table"},
		{"dynamodb:Query", table + "/index/outbox", true, "table"},
		{"dynamodb:Query", table + "/index/other", false, ""},
		{"dynamodb:GetItem", table, false, ""}, // conditions are never met here
		{"iam:PassRole", "arn:aws:iam::111:role/x", false, "deny"},
		{"kms:Decrypt", key, true, "key policy"},
		{"kms:GenerateDataKey", key, false, ""}, // the key policy does not delegate to the account
	} {
		d := g.Evaluate(tc.action, tc.resource)
		if d.Allowed != tc.allowed {
			t.Errorf("Evaluate(%s, %s).Allowed = %v; want %v (%s)", tc.action, tc.resource, d.Allowed, tc.allowed, d.Why)
			continue
		}
		if tc.by != "" && (d.By == nil || d.By.Source != tc.by) {
			t.Errorf("Evaluate(%s, %s) decided by %v; want %q", tc.action, tc.resource, d.By, tc.by)
		}
	}

	// A key policy that allows the account root lets identity policies grant.
	g.Resource[key] = append(g.Resource[key], Statement{Source: "root", Effect: "Allow", Principals: []string{"arn:aws:iam::111:root"}, Actions: []string{"kms:*"}, Resources: []string{"*"}})
	if d := g.Evaluate("kms:GenerateDataKey", key); !d.Allowed || d.By.Source != "kms via identity" {
		t.Errorf("kms:GenerateDataKey with a delegating key policy: %+v; want allowed by the identity policy", d)
	}
}

// TestStackGrants resolves a small rendered-style stack: a role with an
// inline policy, a managed policy from a nested addons stack, a queue
// policy naming the role, a key, and a condition that drops a policy.
func TestStackGrants(t *testing.T) {
	svc := `
Parameters:
  AppName: {Type: String}
  EnvName: {Type: String}
  AddonsTemplateURL: {Type: String, Default: ""}
  Exec: {Type: String, Default: "no"}
Conditions:
  HasAddons: !Not [!Equals [!Ref AddonsTemplateURL, ""]]
  HasExec: !Equals [!Ref Exec, "yes"]
Resources:
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      ManagedPolicyArns:
        - !If [HasAddons, !GetAtt AddonsStack.Outputs.tableAccessPolicy, !Ref AWS::NoValue]
      Policies:
        - PolicyName: Publish
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: sns:Publish
                Resource: !Ref Topic
        - !If
          - HasExec
          - PolicyName: Exec
            PolicyDocument:
              Statement: [{Effect: Allow, Action: "ssmmessages:*", Resource: "*"}]
          - !Ref AWS::NoValue
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub '${AWS::StackName}-orders'
  Key:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - Effect: Allow
            Principal: {AWS: [!GetAtt TaskRole.Arn]}
            Action: [kms:Decrypt]
            Resource: '*'
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      KmsMasterKeyId: !Ref Key
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref Queue]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {AWS: [!GetAtt TaskRole.Arn]}
            Action: [sqs:ReceiveMessage]
            Resource: !GetAtt Queue.Arn
  AddonsStack:
    Type: AWS::CloudFormation::Stack
    Condition: HasAddons
    Properties:
      Parameters: {App: !Ref AppName, Env: !Ref EnvName}
`
	addons := `
Parameters:
  App: {Type: String}
  Env: {Type: String}
Resources:
  table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub ${App}-${Env}-svc-table
  tableAccessPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: [dynamodb:PutItem]
            Resource: [!GetAtt table.Arn, !Sub '${table.Arn}/index/outbox']
Outputs:
  tableAccessPolicy:
    Value: !Ref tableAccessPolicy
`
	r := &cfn.Rendered{
		Stacks: map[string]*cfn.Template{"svc": parse(t, svc)},
		Params: map[string]map[string]string{"svc": {"AppName": "app"}},
		Addons: map[string]*cfn.Template{"svc": parse(t, addons)},
	}
	r.Info.App = "app"
	s, as, err := r.Instantiate("svc", "e1", "r", "111")
	if err != nil {
		t.Fatal(err)
	}
	g, keys, err := StackGrants("TaskRole", s, as)
	if err != nil {
		t.Fatal(err)
	}
	const role = "arn:aws:iam::111:role/app-e1-svc-TaskRole"
	if g.Principal != role {
		t.Errorf("principal = %q; want %q", g.Principal, role)
	}
	queue := "arn:aws:sqs:r:111:app-e1-svc-Queue"
	if got, want := keys[queue], "arn:aws:kms:r:111:key/Key"; got != want {
		t.Errorf("key of %s = %q; want %q", queue, got, want)
	}
	for _, tc := range []struct {
		action, resource string
		want             bool
	}{
		{"sns:Publish", "arn:aws:sns:r:111:app-e1-svc-orders", true},
		{"sqs:ReceiveMessage", queue, true},
		{"sqs:DeleteMessage", queue, false},
		{"kms:Decrypt", "arn:aws:kms:r:111:key/Key", true},
		{"dynamodb:PutItem", "arn:aws:dynamodb:r:111:table/app-e1-svc-table", true},
		{"dynamodb:PutItem", "arn:aws:dynamodb:r:111:table/app-e1-svc-table/index/outbox", true},
		{"ssmmessages:OpenDataChannel", "*", false}, // HasExec is false
	} {
		if d := g.Evaluate(tc.action, tc.resource); d.Allowed != tc.want {
			t.Errorf("%s on %s: allowed = %v; want %v (%s)", tc.action, tc.resource, d.Allowed, tc.want, d.Why)
		}
	}
}

func TestEnvOf(t *testing.T) {
	for _, tc := range []struct{ resource, want string }{
		{"http://127.0.0.1:5000/123456789012/pubsub-e1a2-fulfilment-EventsQueue", "e1a2"},
		{"pubsub-t9-publisher-ordersTable", "t9"},
		{"arn:aws:sns:eu-west-1:1:pubsub-test-publisher-ordersTopic", "test"},
		{"other-test-x", ""},
	} {
		if got, _ := EnvOf(tc.resource, "pubsub"); got != tc.want {
			t.Errorf("EnvOf(%q) = %q; want %q", tc.resource, got, tc.want)
		}
	}
}

func TestQueueARN(t *testing.T) {
	for _, tc := range []struct{ url, want string }{
		{"https://sqs.eu-west-1.amazonaws.com/111/q", "arn:aws:sqs:eu-west-1:111:q"},
		{"http://127.0.0.1:4566/000000000000/q", "arn:aws:sqs:r:000000000000:q"},
		{"http://sqs.eu-west-1.localhost.localstack.cloud:4566/000000000000/q", "arn:aws:sqs:eu-west-1:000000000000:q"},
	} {
		if got := QueueARN(tc.url, "r"); got != tc.want {
			t.Errorf("QueueARN(%q) = %q; want %q", tc.url, got, tc.want)
		}
	}
}
