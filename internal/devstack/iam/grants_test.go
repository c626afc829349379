package iam

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestAddonPolicyOnTaskRole: an addons stack's AWS::IAM::Policy (or
// AWS::IAM::RolePolicy) applies to the task role when it names the role
// through a parameter the service stack binds to !Ref TaskRole, as the
// workers' table addons do (addons.parameters.yml), with no managed policy
// attached to the role. Policies that name another role, or an addons
// parameter the service stack does not bind, grant the task role nothing.
// The files are named as `copilot svc package` names them, and read by
// LoadService as the e2e IAM check reads them.
func TestAddonPolicyOnTaskRole(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"svc-test.stack.yml": `
Parameters:
  AppName: {Type: String}
  EnvName: {Type: String}
  WorkloadName: {Type: String}
  AddonsTemplateURL: {Type: String, Default: ""}
Conditions:
  HasAddons: !Not [!Equals [!Ref AddonsTemplateURL, ""]]
Resources:
  TaskRole:
    Type: AWS::IAM::Role
    Properties:
      Policies:
        - PolicyName: DenyIAM
          PolicyDocument:
            Statement: [{Effect: Deny, Action: "iam:*", Resource: "*"}]
  ExecutionRole:
    Type: AWS::IAM::Role
  EventsQueue:
    Type: AWS::SQS::Queue
  AddonsStack:
    Type: AWS::CloudFormation::Stack
    Condition: HasAddons
    Properties:
      Parameters:
        App: !Ref AppName
        Env: !Ref EnvName
        Name: !Ref WorkloadName
        TaskRole: !Ref TaskRole
        OtherRole: !Ref ExecutionRole
        EventsQueueName: !GetAtt EventsQueue.QueueName
      TemplateURL: !Ref AddonsTemplateURL
`,
		"svc-test.params.json": `{"Parameters": {"AppName": "app", "EnvName": "test", "WorkloadName": "svc", "AddonsTemplateURL": ""}}`,
		"svc.addons.stack.yml": `
Parameters:
  App: {Type: String}
  Env: {Type: String}
  Name: {Type: String}
  TaskRole: {Type: String}
  OtherRole: {Type: String}
  EventsQueueName: {Type: String}
  Unbound: {Type: String, Default: ""}
Resources:
  table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub ${App}-${Env}-${Name}-table
  tableAccess:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: !Sub ${Name}-tableAccess
      Roles: [!Ref TaskRole]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: [dynamodb:PutItem]
            Resource: !GetAtt table.Arn
  tableRead:
    Type: AWS::IAM::RolePolicy
    Properties:
      PolicyName: tableRead
      RoleName: !Ref TaskRole
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: [dynamodb:GetItem]
            Resource: !GetAtt table.Arn
  otherRoleAccess:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: other
      Roles: [!Ref OtherRole]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: [dynamodb:DeleteItem]
            Resource: !GetAtt table.Arn
  unboundAccess:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: unbound
      Roles: [!Ref Unbound]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Action: [dynamodb:Scan]
            Resource: !GetAtt table.Arn
Outputs:
  tableName:
    Value: !Ref table
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := LoadService(dir, "app", "e1", "svc", "r", "111")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := svc.Grants.Principal, "arn:aws:iam::111:role/app-e1-svc-TaskRole"; got != want {
		t.Errorf("principal = %q; want %q", got, want)
	}
	const table = "arn:aws:dynamodb:r:111:table/app-e1-svc-table"
	for _, tc := range []struct {
		action string
		want   bool
		by     string
	}{
		{"dynamodb:PutItem", true, "app-e1-svc-AddonsStack tableAccess"},
		{"dynamodb:GetItem", true, "app-e1-svc-AddonsStack tableRead"},
		{"dynamodb:DeleteItem", false, ""}, // the policy is the execution role's
		{"dynamodb:Scan", false, ""},       // its role parameter is not bound by the service stack
	} {
		d := svc.Grants.Evaluate(tc.action, table)
		if d.Allowed != tc.want {
			t.Errorf("%s on %s: allowed = %v; want %v (%s)", tc.action, table, d.Allowed, tc.want, d.Why)
			continue
		}
		if tc.by != "" && (d.By == nil || d.By.Source != tc.by) {
			t.Errorf("%s on %s: allowed by %v; want %q", tc.action, table, d.By, tc.by)
		}
	}
	// The unused-grant check sees exactly the task role's grants.
	var granted []string
	for _, g := range svc.Grants.Allowed() {
		granted = append(granted, g.Action+" "+g.Resource)
	}
	slices.Sort(granted)
	want := []string{"dynamodb:GetItem " + table, "dynamodb:PutItem " + table}
	if !slices.Equal(granted, want) {
		t.Errorf("grants = %q; want %q", granted, want)
	}
}
