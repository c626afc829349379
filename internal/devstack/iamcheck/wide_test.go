package iamcheck

import (
	"slices"
	"testing"
)

const (
	testRole  = "arn:aws:iam::111:role/svc-TaskRole"
	testQueue = "arn:aws:sqs:r:111:q"
	testTable = "arn:aws:dynamodb:r:111:table/t"
)

// TestWide: the wide parts of the Allow statements that apply to the role,
// found first; then what is not wide (exact grants, Deny statements,
// statements for other principals, a key policy's "*" resource).
func TestWide(t *testing.T) {
	for _, tc := range []struct {
		name     string
		identity []Statement
		resource []Statement // on testQueue
		want     []string    // What of each wide part
	}{
		{name: "action wildcard", identity: []Statement{{Effect: "Allow", Actions: []string{"sqs:*"}, Resources: []string{testQueue}}}, want: []string{`action "sqs:*"`}},
		{name: "action ?", identity: []Statement{{Effect: "Allow", Actions: []string{"sqs:?eceiveMessage"}, Resources: []string{testQueue}}}, want: []string{`action "sqs:?eceiveMessage"`}},
		{name: "resource *", identity: []Statement{{Effect: "Allow", Actions: []string{"dynamodb:PutItem"}, Resources: []string{"*"}}}, want: []string{`Resource "*"`}},
		{name: "index wildcard", identity: []Statement{{Effect: "Allow", Actions: []string{"dynamodb:Query"}, Resources: []string{testTable + "/index/*"}}}, want: []string{`Resource "` + testTable + `/index/*"`}},
		{name: "NotAction", identity: []Statement{{Effect: "Allow", NotActions: []string{"iam:*"}, Resources: []string{testTable}}}, want: []string{"NotAction"}},
		{name: "NotResource", identity: []Statement{{Effect: "Allow", Actions: []string{"dynamodb:PutItem"}, NotResources: []string{testTable}}}, want: []string{"NotResource"}},
		{name: "conditional allow is still ours", identity: []Statement{{Effect: "Allow", Actions: []string{"sqs:*"}, Resources: []string{testQueue}, Conditional: true}}, want: []string{`action "sqs:*"`}},
		{name: `Principal "*"`, resource: []Statement{{Effect: "Allow", Principals: []string{"*"}, Actions: []string{"sqs:SendMessage"}}}, want: []string{`Principal "*"`}},
		{name: "NotPrincipal", resource: []Statement{{Effect: "Allow", NotPrincipals: []string{"arn:aws:iam::111:role/other"}, Actions: []string{"sqs:SendMessage"}}}, want: []string{"NotPrincipal"}},
		{name: "role with action wildcard", resource: []Statement{{Effect: "Allow", Principals: []string{testRole}, Actions: []string{"sqs:*"}}}, want: []string{`action "sqs:*"`}},
		{name: "exact grants", identity: []Statement{{Effect: "Allow", Actions: []string{"dynamodb:PutItem"}, Resources: []string{testTable}}}, resource: []Statement{{Effect: "Allow", Principals: []string{testRole}, Actions: []string{"sqs:ReceiveMessage"}, Resources: []string{"*"}}}},
		{name: "deny", identity: []Statement{{Effect: "Deny", Actions: []string{"iam:*"}, Resources: []string{"*"}}}},
		{name: "another principal", resource: []Statement{{Effect: "Allow", Principals: []string{"arn:aws:iam::111:root"}, Actions: []string{"kms:*"}, Resources: []string{"*"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &Grants{Principal: testRole, Account: "111", Identity: tc.identity, Resource: map[string][]Statement{testQueue: tc.resource}}
			var got []string
			for _, w := range g.Wide() {
				got = append(got, w.What)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Wide = %q; want %q", got, tc.want)
			}
		})
	}
}

func TestWideCovers(t *testing.T) {
	id := &Statement{Effect: "Allow", Actions: []string{"sqs:*"}, Resources: []string{"*"}}
	rp := &Statement{Effect: "Allow", Principals: []string{"*"}, Actions: []string{"sqs:ReceiveMessage"}}
	for _, tc := range []struct {
		wide Wide
		req  Request
		want bool
	}{
		{Wide{Statement: id}, Request{Action: "sqs:DeleteMessage", Resource: testQueue}, true},
		{Wide{Statement: id}, Request{Action: "dynamodb:PutItem", Resource: testTable}, false},
		{Wide{Statement: rp, Attached: testQueue}, Request{Action: "sqs:ReceiveMessage", Resource: testQueue}, true},
		{Wide{Statement: rp, Attached: testQueue}, Request{Action: "sqs:ReceiveMessage", Resource: "arn:aws:sqs:r:111:other"}, false},
		{Wide{Statement: rp, Attached: testQueue}, Request{Action: "sqs:DeleteMessage", Resource: testQueue}, false},
	} {
		if got := tc.wide.Covers(tc.req); got != tc.want {
			t.Errorf("%v Covers(%s on %s) = %v; want %v", tc.wide, tc.req.Action, tc.req.Resource, got, tc.want)
		}
	}
}

func TestGrantCovers(t *testing.T) {
	for _, tc := range []struct {
		grant            Grant
		action, resource string
		want             bool
	}{
		{Grant{Action: "sqs:ReceiveMessage", Resource: testQueue}, "sqs:DeleteMessage", testQueue, false},
		{Grant{Action: "sqs:ReceiveMessage", Resource: testQueue}, "sqs:ReceiveMessage", "arn:aws:sqs:r:111:q2", false},
		{Grant{Action: "dynamodb:Query", Resource: testTable}, "dynamodb:Query", testTable + "/index/outbox", false},
		{Grant{Action: "sqs:ReceiveMessage", Resource: testQueue}, "sqs:ReceiveMessage", testQueue, true},
		{Grant{Action: "SQS:receivemessage", Resource: testQueue}, "sqs:ReceiveMessage", testQueue, true}, // actions ignore case
		{Grant{Action: "sqs:*", Resource: "*"}, "sqs:ReceiveMessage", testQueue, true},
		{Grant{Action: "dynamodb:Query", Resource: testTable + "/index/*"}, "dynamodb:Query", testTable + "/index/outbox", true},
		{Grant{Action: "sqs:ReceiveMessage", Resource: "arn:aws:sqs:r:111:Q"}, "sqs:ReceiveMessage", testQueue, false}, // resources do not
	} {
		if got := tc.grant.Covers(tc.action, tc.resource); got != tc.want {
			t.Errorf("%s on %s Covers(%s, %s) = %v; want %v", tc.grant.Action, tc.grant.Resource, tc.action, tc.resource, got, tc.want)
		}
	}
}

// TestUnused: a grant is unused unless an allowed request matched it, in
// identity and resource policies (a resource policy's own resource taking
// the place of its "*").
func TestUnused(t *testing.T) {
	const key = "arn:aws:kms:r:111:key/k"
	svc := &Service{Name: "svc", Grants: &Grants{
		Principal: testRole,
		Account:   "111",
		Identity: []Statement{
			{Source: "table", Effect: "Allow", Actions: []string{"dynamodb:PutItem", "dynamodb:GetItem"}, Resources: []string{testTable}},
			{Source: "deny", Effect: "Deny", Actions: []string{"iam:*"}, Resources: []string{"*"}},
		},
		Resource: map[string][]Statement{
			testQueue: {{Source: "queue", Effect: "Allow", Principals: []string{testRole}, Actions: []string{"sqs:ReceiveMessage"}}},
			key:       {{Source: "key", Effect: "Allow", Principals: []string{testRole}, Actions: []string{"kms:Encrypt", "kms:Decrypt"}, Resources: []string{"*"}}},
		},
	}}
	all := []string{
		"dynamodb:GetItem " + testTable, "dynamodb:PutItem " + testTable,
		"kms:Decrypt " + key, "kms:Encrypt " + key, "sqs:ReceiveMessage " + testQueue,
	}
	for _, tc := range []struct {
		name    string
		allowed []Request
		want    []string
	}{
		{"no call", nil, all},
		{"a call on another table", []Request{{Action: "dynamodb:PutItem", Resource: testTable + "2"}}, all},
		{"some calls", []Request{
			{Action: "dynamodb:PutItem", Resource: testTable},
			{Action: "sqs:ReceiveMessage", Resource: testQueue},
			{Action: "kms:Decrypt", Resource: key},
		}, []string{"dynamodb:GetItem " + testTable, "kms:Encrypt " + key}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, g := range svc.Unused(tc.allowed) {
				got = append(got, g.Action+" "+g.Resource)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Unused = %q; want %q", got, tc.want)
			}
		})
	}
}

// TestAccepted: an accepted finding matches the statement it names, not
// the same action from another statement.
func TestAccepted(t *testing.T) {
	key := &Statement{Policy: "EventsKMSKey", Sid: "Allow task role encrypt/decrypt", Effect: "Allow", Actions: []string{"kms:Encrypt", "kms:Decrypt"}}
	other := &Statement{Policy: "Extra", Effect: "Allow", Actions: []string{"kms:Encrypt"}, Resources: []string{"arn:aws:kms:r:111:key/EventsKMSKey"}}
	xray := &Statement{Policy: "AWSDistroOpenTelemetryPolicy", Effect: "Allow", Actions: []string{"xray:PutTraceSegments"}, Resources: []string{"*"}}
	xrayMore := &Statement{Policy: "AWSDistroOpenTelemetryPolicy", Effect: "Allow", Actions: []string{"xray:PutTraceSegments", "logs:PutLogEvents"}, Resources: []string{"*"}}
	encrypt := Accepted{Policy: "EventsKMSKey", Sid: "Allow task role encrypt/decrypt", Action: "kms:Encrypt"}
	star := Accepted{Policy: "AWSDistroOpenTelemetryPolicy", Action: "xray:PutTraceSegments", Wide: `Resource "*"`}
	for _, tc := range []struct {
		name string
		got  bool
		want bool
	}{
		{"kms:Encrypt from another statement", encrypt.acceptsUnused(Grant{Statement: other, Action: "kms:Encrypt"}), false},
		{"kms:Encrypt from the key's statement with another Sid", encrypt.acceptsUnused(Grant{Statement: &Statement{Policy: "EventsKMSKey", Sid: "x"}, Action: "kms:Encrypt"}), false},
		{"kms:Decrypt from the key's statement", encrypt.acceptsUnused(Grant{Statement: key, Action: "kms:Decrypt"}), false},
		{"an unused-grant acceptance for a wide part", encrypt.acceptsWide(Wide{Statement: key, What: `Resource "*"`}), false},
		{`Resource "*" on a statement with another action`, star.acceptsWide(Wide{Statement: xrayMore, What: `Resource "*"`}), false},
		{"an action wildcard", star.acceptsWide(Wide{Statement: xray, What: `action "xray:*"`, Action: "xray:*"}), false},
		{"kms:Encrypt from the key's statement", encrypt.acceptsUnused(Grant{Statement: key, Action: "kms:Encrypt"}), true},
		{`Resource "*" on the collector's statement`, star.acceptsWide(Wide{Statement: xray, What: `Resource "*"`}), true},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: accepted = %v; want %v", tc.name, tc.got, tc.want)
		}
	}
}
