package iamcheck

import "testing"

// TestConditionalDeny: a conditional Deny denies unless its condition is
// one the evaluator knows cannot hold for the role's call.
func TestConditionalDeny(t *testing.T) {
	allow := Statement{Source: "allow", Effect: "Allow", Actions: []string{"sqs:ReceiveMessage"}, Resources: []string{testQueue}}
	for _, tc := range []struct {
		name string
		cond map[string]map[string][]string
		deny bool
	}{
		// Denies: conditions that hold, or that the evaluator cannot judge.
		{"unknown key", map[string]map[string][]string{"StringNotEquals": {"aws:SourceVpc": {"vpc-1"}}}, true},
		{"unknown operator", map[string]map[string][]string{"NumericLessThan": {"aws:MultiFactorAuthAge": {"3600"}}}, true},
		{"set operator", map[string]map[string][]string{"ForAnyValue:StringEquals": {"aws:PrincipalArn": {"x"}}}, true},
		{"principal matches", map[string]map[string][]string{"ArnLike": {"aws:PrincipalArn": {"arn:aws:iam::111:role/*"}}}, true},
		{"principal account is not another", map[string]map[string][]string{"StringNotEquals": {"aws:PrincipalAccount": {"222"}}}, true},
		{"secure transport true", map[string]map[string][]string{"Bool": {"aws:SecureTransport": {"true"}}}, true},
		{"absent key, negated", map[string]map[string][]string{"ArnNotEquals": {"aws:SourceArn": {"arn:aws:sns:r:111:t"}}}, true},
		{"absent key, IfExists", map[string]map[string][]string{"ArnEqualsIfExists": {"aws:SourceArn": {"arn:aws:sns:r:111:t"}}}, true},
		{"absent key, Null true", map[string]map[string][]string{"Null": {"aws:SourceArn": {"true"}}}, true},
		{"one known-true and one unknown", map[string]map[string][]string{"Bool": {"aws:SecureTransport": {"true"}}, "StringEquals": {"aws:SourceVpc": {"vpc-1"}}}, true},
		{"key names ignore case", map[string]map[string][]string{"StringEquals": {"AWS:PrincipalType": {"AssumedRole"}}}, true},
		// Cannot hold: the Deny does not apply.
		{"secure transport false", map[string]map[string][]string{"Bool": {"aws:SecureTransport": {"false"}}}, false},
		{"another principal", map[string]map[string][]string{"ArnEquals": {"aws:PrincipalArn": {"arn:aws:iam::111:role/other"}}}, false},
		{"not our account", map[string]map[string][]string{"StringNotEquals": {"aws:PrincipalAccount": {"111"}}}, false},
		{"absent key, positive", map[string]map[string][]string{"ArnEquals": {"aws:SourceArn": {"arn:aws:sns:r:111:t"}}}, false},
		{"absent key, Null false", map[string]map[string][]string{"Null": {"aws:SourceAccount": {"false"}}}, false},
		{"one cannot hold and one unknown", map[string]map[string][]string{"Bool": {"aws:SecureTransport": {"false"}}, "StringEquals": {"aws:SourceVpc": {"vpc-1"}}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			deny := Statement{Source: "deny", Effect: "Deny", Actions: []string{"sqs:*"}, Resources: []string{"*"}, Condition: tc.cond, Conditional: true}
			for _, where := range []string{"identity", "resource"} {
				g := &Grants{Principal: testRole, Account: "111", Identity: []Statement{allow}, Resource: map[string][]Statement{}}
				if where == "identity" {
					g.Identity = append(g.Identity, deny)
				} else {
					deny.Principals = []string{"*"}
					g.Resource[testQueue] = []Statement{deny}
				}
				d := g.Evaluate("sqs:ReceiveMessage", testQueue)
				if d.Allowed == tc.deny {
					t.Errorf("%s policy: allowed = %v; want %v (%+v)", where, d.Allowed, !tc.deny, d)
				}
				if tc.deny && (d.By == nil || d.By.Source != "deny") {
					t.Errorf("%s policy: decided by %v; want the conditional Deny", where, d.By)
				}
			}
		})
	}
}
