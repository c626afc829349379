package iamcheck

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/devstack/awscalls"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
)

// The rendered stacks of a small app as `copilot svc package` writes them:
// a publisher that publishes to its topic, and two workers that receive
// from their SSE-KMS queue and write to their table (an addon's
// AWS::IAM::Policy on the task role), with Copilot's DLQ policy and key
// policy. Each "# ..." line is where a test case adds a statement.
const (
	// taskRole begins each service's stack: its parameters and its task role.
	taskRole = `
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
`
	publisherStack = taskRole + `        - PolicyName: Publish2SNS
          PolicyDocument:
            Statement:
              - Effect: Allow
                Action: sns:Publish
                Resource: [!Ref ordersTopic]
              # publisher statements
  ordersTopic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub '${AWS::StackName}-ordersTopic'
`
	workerStack = taskRole + `        - PolicyName: Extra
          PolicyDocument:
            Statement:
              # role statements
  EventsKMSKey:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Statement:
          - Sid: Allow key use
            Effect: Allow
            Principal: {AWS: !Sub 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root'}
            Action: ["kms:Create*", "kms:Describe*", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*"]
            Resource: "*"
          - Sid: Allow task role encrypt/decrypt
            Effect: Allow
            Principal: {AWS: [!GetAtt TaskRole.Arn]}
            Action: [kms:Encrypt, kms:Decrypt]
            Resource: "*"
  EventsQueue:
    Type: AWS::SQS::Queue
    Properties:
      KmsMasterKeyId: !Ref EventsKMSKey
  DeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      KmsMasterKeyId: !Ref EventsKMSKey
  QueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref EventsQueue]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {AWS: [!GetAtt TaskRole.Arn]}
            Action: [sqs:ReceiveMessage, sqs:DeleteMessage]
            Resource: !GetAtt EventsQueue.Arn
          - Effect: Allow
            Principal: {Service: sns.amazonaws.com}
            Action: [sqs:SendMessage]
            Resource: !GetAtt EventsQueue.Arn
            Condition:
              ArnEquals: {"aws:SourceArn": !Sub 'arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${AppName}-${EnvName}-publisher-ordersTopic'}
          # queue policy statements
  DeadLetterPolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      Queues: [!Ref DeadLetterQueue]
      PolicyDocument:
        Statement:
          - Effect: Allow
            Principal: {AWS: [!GetAtt TaskRole.Arn]}
            Action: [sqs:ReceiveMessage, sqs:DeleteMessage]
            Resource: !GetAtt DeadLetterQueue.Arn
  AddonsStack:
    Type: AWS::CloudFormation::Stack
    Condition: HasAddons
    Properties:
      Parameters:
        App: !Ref AppName
        Env: !Ref EnvName
        Name: !Ref WorkloadName
        TaskRole: !Ref TaskRole
        # addons stack parameters
      TemplateURL: !Ref AddonsTemplateURL
  # stack resources
`
	workerAddons = `
Parameters:
  App: {Type: String}
  Env: {Type: String}
  Name: {Type: String}
  TaskRole: {Type: String}
  # addons parameters
Resources:
  table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub ${App}-${Env}-${Name}-table
  tableAccessPolicy:
    Type: AWS::IAM::Policy
    Properties:
      PolicyName: !Sub ${Name}-tableAccess
      Roles: [!Ref TaskRole]
      PolicyDocument:
        Statement:
          - Sid: DDBActions
            Effect: Allow
            Action: [dynamodb:PutItem]
            Resource: !GetAtt table.Arn
          # addon statements
  # addon resources
`
)

const (
	account = "111111111111"
	region  = "eu-west-1"
)

// render is the fixture's stacks as a render of environment "test", each "# where" line of
// service svc's templates replaced by the statements in add[svc][where].
func render(t *testing.T, add map[string]map[string]string) *cfn.Rendered {
	t.Helper()
	r := &cfn.Rendered{Dir: "fixture", Stacks: map[string]*cfn.Template{}, Params: map[string]map[string]string{}, Addons: map[string]*cfn.Template{}}
	r.Info.App, r.Info.Env = "pubsub", "test"
	for _, svc := range []string{"publisher", "fulfilment", "promotion"} {
		stack, addons := workerStack, workerAddons
		if svc == "publisher" {
			stack, addons = publisherStack, ""
		}
		for where, text := range add[svc] {
			stack = strings.Replace(stack, "# "+where, text, 1)
			addons = strings.Replace(addons, "# "+where, text, 1)
		}
		r.Stacks[svc] = parse(t, stack)
		r.Params[svc] = map[string]string{"AppName": "pubsub", "EnvName": "test", "WorkloadName": svc, "AddonsTemplateURL": ""}
		if addons != "" {
			r.Addons[svc] = parse(t, addons)
		}
	}
	return r
}

func parse(t *testing.T, template string) *cfn.Template {
	t.Helper()
	tpl, err := cfn.Parse([]byte(template))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// recording is what a test run of the fixture's services records in
// environment e1, with the dev tool's provisioning.
func recording() []awscalls.Call {
	calls := []awscalls.Call{
		{Caller: "dev", Service: "sqs", API: "CreateQueue", Resources: []string{"pubsub-e1-fulfilment-EventsQueue"}},
		{Caller: "publisher", Service: "sns", API: "Publish", Resources: []string{"arn:aws:sns:" + region + ":" + account + ":pubsub-e1-publisher-ordersTopic"}},
	}
	for _, svc := range []string{"fulfilment", "promotion"} {
		queue := "http://127.0.0.1:4566/" + account + "/pubsub-e1-" + svc + "-EventsQueue"
		calls = append(calls,
			awscalls.Call{Caller: svc, Service: "sqs", API: "ReceiveMessage", Resources: []string{queue}},
			awscalls.Call{Caller: svc + "-b", Service: "sqs", API: "DeleteMessageBatch", Resources: []string{queue}},
			awscalls.Call{Caller: svc, Service: "dynamodb", API: "PutItem", Resources: []string{"pubsub-e1-" + svc + "-table"}},
		)
	}
	return calls
}

// inEnv moves calls to environment env.
func inEnv(env string, calls []awscalls.Call) []awscalls.Call {
	for i := range calls {
		calls[i].Resources = slices.Clone(calls[i].Resources)
		for j, r := range calls[i].Resources {
			calls[i].Resources[j] = strings.Replace(r, "pubsub-e1-", "pubsub-"+env+"-", 1)
		}
	}
	return calls
}

// accepted are the fixture's Copilot grants the check lists, not fails.
var accepted = []Accepted{
	{Policy: "DeadLetterPolicy", Action: "sqs:ReceiveMessage", Why: "the DLQ is for people"},
	{Policy: "DeadLetterPolicy", Action: "sqs:DeleteMessage", Why: "the DLQ is for people"},
	{Policy: "EventsKMSKey", Sid: "Allow task role encrypt/decrypt", Action: "kms:Encrypt", Why: "the workers never send"},
}

// TestCheck runs the whole check on the fixture: each broken case must fail
// with a message that names what broke it; the last cases pass.
func TestCheck(t *testing.T) {
	without := func(svc string) []awscalls.Call {
		var out []awscalls.Call
		for _, c := range recording() {
			if !strings.HasPrefix(c.Caller, svc) {
				out = append(out, c)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name    string
		add     map[string]map[string]string
		calls   []awscalls.Call
		partial bool
		want    []string // in the report
		ok      bool
	}{
		{
			name: "sqs:* in a worker's addon policy",
			add:  map[string]map[string]string{"fulfilment": {"addon statements": `- {Effect: Allow, Action: "sqs:*", Resource: !Sub "arn:aws:sqs:${AWS::Region}:${AWS::AccountId}:${App}-${Env}-${Name}-EventsQueue"}`}},
			want: []string{
				`TOO BROAD action "sqs:*" in pubsub-${Env}-fulfilment-AddonsStack tableAccessPolicy`,
				"action \"sqs:*\" is wider than the calls it covers: sqs:DeleteMessage on arn:aws:sqs:eu-west-1:111111111111:pubsub-${Env}-fulfilment-EventsQueue, sqs:ReceiveMessage on",
			},
		},
		{
			name: "dynamodb:* on Resource *",
			add:  map[string]map[string]string{"promotion": {"role statements": `- {Effect: Allow, Action: "dynamodb:*", Resource: "*"}`}},
			want: []string{
				`TOO BROAD action "dynamodb:*" in TaskRole policy Extra: Allow dynamodb:* on *`,
				`TOO BROAD Resource "*" in TaskRole policy Extra`,
				`Resource "*" is wider than the calls it covers: dynamodb:PutItem on arn:aws:dynamodb:eu-west-1:111111111111:table/pubsub-${Env}-promotion-table`,
			},
		},
		{
			name:  "dynamodb:* on Resource *, two environments",
			add:   map[string]map[string]string{"promotion": {"role statements": `- {Effect: Allow, Action: "dynamodb:*", Resource: "*"}`}},
			calls: append(recording(), inEnv("e2", recording())...),
			want: []string{
				"Resource \"*\" is wider than the calls it covers: dynamodb:PutItem on arn:aws:dynamodb:eu-west-1:111111111111:table/pubsub-${Env}-promotion-table\n",
				"IAM check: 16 calls recorded (publisher 2, fulfilment 6, promotion 6, dev 2",
			},
		},
		{
			name: "a wildcard resource",
			add:  map[string]map[string]string{"promotion": {"addon statements": `- {Effect: Allow, Action: dynamodb:PutItem, Resource: !Sub "arn:aws:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${App}-${Env}-*"}`}},
			want: []string{`TOO BROAD Resource "arn:aws:dynamodb:eu-west-1:111111111111:table/pubsub-${Env}-*"`, `Resource "arn:aws:dynamodb:eu-west-1:111111111111:table/pubsub-${Env}-*" is wider than the calls it covers: dynamodb:PutItem on`},
		},
		{
			name: "NotAction",
			add:  map[string]map[string]string{"fulfilment": {"addon statements": `- {Effect: Allow, NotAction: "iam:*", Resource: !GetAtt table.Arn}`}},
			want: []string{"TOO BROAD NotAction in pubsub-${Env}-fulfilment-AddonsStack tableAccessPolicy: Allow NotAction iam:*", "NotAction is wider than the calls it covers: dynamodb:PutItem"},
		},
		{
			name: "NotResource",
			add:  map[string]map[string]string{"fulfilment": {"addon statements": `- {Effect: Allow, Action: dynamodb:PutItem, NotResource: "arn:aws:dynamodb:*:*:table/other"}`}},
			want: []string{"TOO BROAD NotResource in pubsub-${Env}-fulfilment-AddonsStack tableAccessPolicy: Allow dynamodb:PutItem on NotResource"},
		},
		{
			name: `a queue policy open to Principal "*"`,
			add:  map[string]map[string]string{"promotion": {"queue policy statements": `- {Effect: Allow, Principal: "*", Action: [sqs:ReceiveMessage], Resource: !GetAtt EventsQueue.Arn}`}},
			want: []string{`TOO BROAD Principal "*" in pubsub-${Env}-promotion QueuePolicy: Allow Principal * sqs:ReceiveMessage`},
		},
		{
			name: `a queue policy open to Principal {AWS: "*"}`,
			add:  map[string]map[string]string{"promotion": {"queue policy statements": `- {Effect: Allow, Principal: {AWS: "*"}, Action: [sqs:SendMessage], Resource: !GetAtt EventsQueue.Arn}`}},
			want: []string{`TOO BROAD Principal "*" in pubsub-${Env}-promotion QueuePolicy: Allow Principal * sqs:SendMessage`, `Principal "*" is wider than the calls it covers: none (no call used it)`},
		},
		{
			name: "a conditional Deny on a key it cannot know",
			add:  map[string]map[string]string{"fulfilment": {"role statements": `- {Effect: Deny, Action: "sqs:*", Resource: "*", Condition: {StringNotEquals: {"aws:SourceVpc": vpc-1}}}`}},
			want: []string{
				"DENIED   sqs:ReceiveMessage → sqs:ReceiveMessage on arn:aws:sqs:eu-west-1:111111111111:pubsub-${Env}-fulfilment-EventsQueue",
				"denied by TaskRole policy Extra: Deny sqs:* on * if StringNotEquals aws:SourceVpc vpc-1",
			},
		},
		{
			name: "a conditional Deny whose condition holds",
			add:  map[string]map[string]string{"publisher": {"publisher statements": `- {Effect: Deny, Action: "sns:*", Resource: "*", Condition: {StringLike: {"aws:PrincipalArn": "arn:aws:iam::*:role/pubsub-*"}}}`}},
			want: []string{"DENIED   sns:Publish", "denied by TaskRole policy Publish2SNS: Deny sns:* on * if StringLike aws:PrincipalArn arn:aws:iam::*:role/pubsub-*"},
		},
		{
			name:  "an empty recording",
			calls: []awscalls.Call{},
			want:  []string{"IAM check: FAILED: no AWS call was recorded, so nothing was checked"},
		},
		{
			name:  "only the dev tool's calls",
			calls: recording()[:1],
			want:  []string{"NO CALLS no call of publisher was evaluated", "IAM check: no call of publisher, fulfilment, promotion was evaluated, so nothing was checked"},
		},
		{
			name:  "only the dev tool's calls, a -run filter set",
			calls: recording()[:1], partial: true,
			want: []string{"IAM check: no call of publisher, fulfilment, promotion was evaluated, so nothing was checked"},
		},
		{
			name:  "no call of one service",
			calls: without("promotion"),
			want:  []string{"NO CALLS no call of promotion was evaluated: its task role went unchecked"},
		},
		{
			name:  "an unattributed call",
			calls: append(recording(), awscalls.Call{Service: "sqs", API: "SendMessage", Resources: []string{"http://h/" + account + "/pubsub-e1-fulfilment-EventsQueue"}}),
			want:  []string{"IAM check: unattributed call (no service name: the User-Agent has no app id, AWS_SDK_UA_APP_ID):  sqs:SendMessage http://h/111111111111/pubsub-e1-fulfilment-EventsQueue"},
		},
		{
			name:  "an unknown caller",
			calls: append(recording(), awscalls.Call{Caller: "tests", Service: "sqs", API: "SendMessage", Resources: []string{"http://h/" + account + "/pubsub-e1-fulfilment-EventsQueue"}}),
			want:  []string{`IAM check: call by "tests", neither a service (publisher, fulfilment, promotion) nor a tool (dev)`},
		},
		{
			name:  "a resource outside the app's names",
			calls: append(recording(), awscalls.Call{Caller: "fulfilment", Service: "sqs", API: "ReceiveMessage", Resources: []string{"http://h/" + account + "/scratch-queue"}}),
			want:  []string{"IAM check: fulfilment sqs:ReceiveMessage http://h/111111111111/scratch-queue: resource http://h/111111111111/scratch-queue is outside the pubsub-<env>- names of the deployed stacks"},
		},
		{
			name: "an unused kms:Encrypt from another statement",
			add:  map[string]map[string]string{"fulfilment": {"role statements": `- {Effect: Allow, Action: kms:Encrypt, Resource: !GetAtt EventsKMSKey.Arn}`}},
			want: []string{"UNUSED   kms:Encrypt on arn:aws:kms:eu-west-1:111111111111:key/EventsKMSKey, from TaskRole policy Extra"},
		},
		{
			name: "a conditional Deny that cannot hold, and Copilot's grants",
			add: map[string]map[string]string{
				"fulfilment": {"role statements": `- {Effect: Deny, Action: "*", Resource: "*", Condition: {Bool: {"aws:SecureTransport": "false"}}}`},
				"promotion":  {"queue policy statements": `- {Effect: Deny, Principal: "*", Action: "sqs:*", Condition: {StringNotEquals: {"aws:PrincipalAccount": "111111111111"}}}`},
			},
			want: []string{
				"allowed  sqs:ReceiveMessage → kms:Decrypt on arn:aws:kms:eu-west-1:111111111111:key/EventsKMSKey (receiving from an SSE-KMS queue)",
				"allowed  sqs:DeleteMessageBatch → sqs:DeleteMessage on arn:aws:sqs:eu-west-1:111111111111:pubsub-${Env}-promotion-EventsQueue",
				"unused   kms:Encrypt on arn:aws:kms:eu-west-1:111111111111:key/EventsKMSKey, from pubsub-${Env}-fulfilment EventsKMSKey\n           (accepted: the workers never send)",
				"IAM check: 8 calls recorded (publisher 1, fulfilment 3, promotion 3, dev 1 (a tool: not evaluated))",
				"IAM check: passed: 7 calls evaluated",
			},
			ok: true,
		},
		{
			name:  "a -run filter that starts one service",
			calls: recording()[:2], partial: true,
			want: []string{"(no call of promotion was evaluated: the tests run do not start it)", "IAM check: passed: 1 calls evaluated"},
			ok:   true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := tc.calls
			if calls == nil {
				calls = recording()
			}
			check := Check{
				Roles: RenderedRoles(render(t, tc.add)), Region: region,
				Services: []string{"publisher", "fulfilment", "promotion"},
				Tools:    []string{"dev"},
				Accepted: accepted,
				Partial:  tc.partial,
			}
			var out bytes.Buffer
			ok := check.Run(&out, calls)
			if ok != tc.ok {
				t.Errorf("Run = %v; want %v", ok, tc.ok)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("report lacks %q", w)
				}
			}
			if strings.Contains(out.String(), "pubsub-e2-") {
				t.Errorf("report names an environment: %q", "pubsub-e2-")
			}
			if t.Failed() {
				t.Logf("report:\n%s", out.String())
			}
		})
	}
}
