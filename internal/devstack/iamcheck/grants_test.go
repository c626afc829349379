package iamcheck

import (
	"slices"
	"testing"
)

// TestAddonPolicyOnTaskRole: an addons stack's AWS::IAM::Policy (or
// AWS::IAM::RolePolicy) applies to the task role when it names the role
// through a parameter the service stack binds to !Ref TaskRole, as the
// workers' table addons do (addons.parameters.yml), with no managed policy
// attached to the role. Policies that name another role, or an addons
// parameter the service stack does not bind, grant the task role nothing.
// LoadService reads them as the e2e IAM check reads a render.
func TestAddonPolicyOnTaskRole(t *testing.T) {
	policy := func(name, kind, roles, action string) string {
		return name + `:
    Type: AWS::IAM::` + kind + `
    Properties:
      PolicyName: ` + name + `
      ` + roles + `
      PolicyDocument:
        Statement: [{Effect: Allow, Action: [` + action + `], Resource: !GetAtt table.Arn}]
  `
	}
	r := render(t, map[string]map[string]string{"fulfilment": {
		"stack resources":         "ExecutionRole: {Type: AWS::IAM::Role}",
		"addons stack parameters": "OtherRole: !Ref ExecutionRole",
		"addons parameters":       "OtherRole: {Type: String}\n  Unbound: {Type: String, Default: \"\"}",
		"addon resources": policy("tableRead", "RolePolicy", "RoleName: !Ref TaskRole", "dynamodb:GetItem") +
			policy("other", "Policy", "Roles: [!Ref OtherRole]", "dynamodb:DeleteItem") +
			policy("unbound", "Policy", "Roles: [!Ref Unbound]", "dynamodb:Scan"),
	}})
	svc, err := LoadService(r, "e1", "fulfilment", region, account)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := svc.Grants.Principal, "arn:aws:iam::"+account+":role/pubsub-e1-fulfilment-TaskRole"; got != want {
		t.Errorf("principal = %q; want %q", got, want)
	}
	const table = "arn:aws:dynamodb:" + region + ":" + account + ":table/pubsub-e1-fulfilment-table"
	for _, tc := range []struct {
		action string
		want   bool
		by     string
	}{
		{"dynamodb:PutItem", true, "pubsub-e1-fulfilment-AddonsStack tableAccessPolicy"},
		{"dynamodb:GetItem", true, "pubsub-e1-fulfilment-AddonsStack tableRead"},
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
	// The unused-grant check sees exactly the task role's grants on the table
	// (the fixture's queue and key policies grant it the rest).
	var granted []string
	for _, g := range svc.Grants.Allowed() {
		if g.Resource == table {
			granted = append(granted, g.Action+" "+g.Resource)
		}
	}
	slices.Sort(granted)
	want := []string{"dynamodb:GetItem " + table, "dynamodb:PutItem " + table}
	if !slices.Equal(granted, want) {
		t.Errorf("grants = %q; want %q", granted, want)
	}
}
