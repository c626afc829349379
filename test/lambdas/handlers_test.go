package lambdas

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
)

// TestEnvController: EnvControllerFunction (env-controller.js, every service's stack) adds the
// service to the environment stack's parameters its manifest needs (the publisher:
// ALBWorkloads, so the environment creates its load balancer), by an UpdateStack that keeps the
// template, waits for it, and answers with the environment's outputs; on Delete it takes the
// service out again.
func TestEnvController(t *testing.T) {
	l := setup(t)
	app := appName()
	envStack := app + "-test"
	template := map[string]any{
		"Parameters": map[string]any{
			"ALBWorkloads": map[string]any{"Type": "String", "Default": ""},
			"EFSWorkloads": map[string]any{"Type": "String", "Default": ""},
			"Aliases":      map[string]any{"Type": "String", "Default": ""},
		},
		"Resources": map[string]any{"Marker": map[string]any{"Type": "AWS::SQS::Queue"}},
		"Outputs": map[string]any{
			"HTTPListenerArn":     map[string]any{"Value": "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/" + app + "/1/2"},
			"ClusterId":           map[string]any{"Value": app + "-test-Cluster"},
			"CFNExecutionRoleARN": map[string]any{"Value": "arn:aws:iam::123456789012:role/" + app + "-test-CFNExecutionRole"},
			"EnabledFeatures":     map[string]any{"Value": "ALBWorkloads,EFSWorkloads"}, // left out of the response by Copilot
		},
	}
	body, _ := json.Marshal(template)
	l.mustCall(t, "client-cloudformation", "CreateStackCommand", map[string]any{
		"StackName": envStack, "TemplateBody": string(body),
		"Parameters": []map[string]any{{"ParameterKey": "EFSWorkloads", "ParameterValue": "other"}},
	})
	albWorkloads := func() string {
		out := l.mustCall(t, "client-cloudformation", "DescribeStacksCommand", map[string]any{"StackName": envStack})
		stacks, _ := out["Stacks"].([]any)
		if len(stacks) != 1 {
			t.Fatalf("DescribeStacks %s: %v", envStack, out)
		}
		for _, p := range stacks[0].(map[string]any)["Parameters"].([]any) {
			if p := p.(map[string]any); p["ParameterKey"] == "ALBWorkloads" {
				return fmt.Sprint(p["ParameterValue"])
			}
		}
		t.Fatalf("stack %s has no parameter ALBWorkloads", envStack)
		return ""
	}
	outputs := map[string]any{
		"HTTPListenerArn":     template["Outputs"].(map[string]any)["HTTPListenerArn"].(map[string]any)["Value"],
		"ClusterId":           app + "-test-Cluster",
		"CFNExecutionRoleARN": "arn:aws:iam::123456789012:role/" + app + "-test-CFNExecutionRole",
	}
	// The properties the publisher's rendered EnvControllerAction has.
	props := map[string]any{
		"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:EnvControllerFunction",
		"Workload":     "publisher", "EnvStack": envStack,
		"Parameters": []any{"ALBWorkloads", "Aliases"}, "EnvVersion": "v1.34.1",
	}
	cr := &customResource{r: newResponder(t), typ: "EnvControllerFunction", logicalID: "EnvControllerAction",
		stackID: stackID(app, "publisher"), props: props, oldProps: props}
	for _, step := range []struct {
		request      string
		wantData     map[string]any
		wantWorkload string // ALBWorkloads afterwards
	}{
		{"Create", outputs, "publisher"},
		{"Update", outputs, "publisher"}, // nothing to change: the outputs, no stack update
		{"Delete", outputs, ""},
	} {
		got, _ := cr.send(t, l, "env-controller.js", "handler", step.request)
		if diff := cmp.Diff(step.wantData, got.Data); diff != "" {
			t.Errorf("%s: Data (-want +got):\n%s", step.request, diff)
		}
		if got.PhysicalResourceID != "envcontoller/"+envStack+"/publisher" { // sic, Copilot's spelling
			t.Errorf("%s: PhysicalResourceId %q", step.request, got.PhysicalResourceID)
		}
		if w := albWorkloads(); w != step.wantWorkload {
			t.Errorf("after %s: the environment stack's ALBWorkloads is %q; want %q", step.request, w, step.wantWorkload)
		}
	}
}

// TestDynamicDesiredCount: DynamicDesiredCountFunction (desired-count-delegation.js, every
// service's stack) keeps a redeploy from resetting the service's task count: it finds the
// running service by its Copilot tags (Resource Groups Tagging API) and answers its desired
// count, or the manifest's count when it finds none.
func TestDynamicDesiredCount(t *testing.T) {
	l := setup(t)
	app := appName()
	cluster, svc := app+"-test-Cluster", app+"-test-fulfilment-Service"
	createService(t, l, cluster, svc, 3, map[string]string{
		"copilot-application": app, "copilot-environment": "test", "copilot-service": "fulfilment",
	})
	// What the handler will find: moto 5.2's tagging API lists no ECS services, so there the
	// handler answers the manifest's count, as it does on AWS for a first deploy.
	found := l.mustCall(t, "client-resource-groups-tagging-api", "GetResourcesCommand", map[string]any{
		"ResourceTypeFilters": []string{"ecs:service"},
		"TagFilters": []map[string]any{
			{"Key": "copilot-application", "Values": []string{app}},
			{"Key": "copilot-environment", "Values": []string{"test"}},
			{"Key": "copilot-service", "Values": []string{"fulfilment"}},
		},
	})
	var want any = "1" // the DefaultDesiredCount property, a string as CloudFormation passes it
	if m, _ := found["ResourceTagMappingList"].([]any); len(m) == 1 {
		want = float64(3)
		t.Logf("the emulator's tagging API finds the service: the handler must answer its desired count, 3")
	} else {
		t.Logf("the emulator's tagging API lists %d ECS services with the tags: the handler can only answer the default count here", len(m))
	}
	props := map[string]any{
		"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:DynamicDesiredCountFunction",
		"Cluster":      cluster, "App": app, "Env": "test", "Svc": "fulfilment", "DefaultDesiredCount": "1",
		"UpdateID": "5ecb0800-d609-4824-8ad3-3c2844018d43",
	}
	cr := &customResource{r: newResponder(t), typ: "DynamicDesiredCountFunction", logicalID: "DynamicDesiredCountAction",
		stackID: stackID(app, "fulfilment"), props: props, oldProps: props}
	for _, step := range []struct {
		request  string
		wantData map[string]any
	}{
		{"Create", map[string]any{"DesiredCount": want}},
		{"Update", map[string]any{"DesiredCount": want}},
		{"Delete", map[string]any{}},
	} {
		got, logs := cr.send(t, l, "desired-count-delegation.js", "handler", step.request)
		// The handler answers SUCCESS with the default count when a call fails, too: a failing
		// SDK under Node 24 would only show in its log.
		if strings.Contains(logs, "Caught error") {
			t.Errorf("%s: the handler caught an error:\n%s", step.request, logs)
		}
		if diff := cmp.Diff(step.wantData, got.Data); diff != "" {
			t.Errorf("%s: Data (-want +got):\n%s", step.request, diff)
		}
		if want := "copilot/apps/" + app + "/envs/test/services/fulfilment/autoscaling"; got.PhysicalResourceID != want {
			t.Errorf("%s: PhysicalResourceId %q; want %q", step.request, got.PhysicalResourceID, want)
		}
	}
}

// TestRulePriority: RulePriorityFunction (alb-rule-priority-generator.js, the publisher's
// stack) picks the priority of the publisher's listener rule on the environment's shared HTTP
// listener: for path "/" the one below the lowest root rule already there (root rules count
// down from 50000), for other paths the one above the highest other rule.
func TestRulePriority(t *testing.T) {
	l := setup(t)
	app := appName()
	region := l.emu.Config.Region
	vpc := l.mustCall(t, "client-ec2", "CreateVpcCommand", map[string]any{"CidrBlock": "10.0.0.0/16"})
	vpcID := vpc["Vpc"].(map[string]any)["VpcId"]
	var subnets []any
	for i, az := range []string{"a", "b"} {
		s := l.mustCall(t, "client-ec2", "CreateSubnetCommand", map[string]any{"VpcId": vpcID, "CidrBlock": fmt.Sprintf("10.0.%d.0/24", i), "AvailabilityZone": region + az})
		subnets = append(subnets, s["Subnet"].(map[string]any)["SubnetId"])
	}
	lb := l.mustCall(t, "client-elastic-load-balancing-v2", "CreateLoadBalancerCommand", map[string]any{"Name": app + "-test-lb", "Subnets": subnets})
	lbARN := lb["LoadBalancers"].([]any)[0].(map[string]any)["LoadBalancerArn"]
	tg := l.mustCall(t, "client-elastic-load-balancing-v2", "CreateTargetGroupCommand", map[string]any{"Name": app + "-tg", "Protocol": "HTTP", "Port": 80, "VpcId": vpcID, "TargetType": "ip"})
	tgARN := tg["TargetGroups"].([]any)[0].(map[string]any)["TargetGroupArn"]
	forward := []map[string]any{{"Type": "forward", "TargetGroupArn": tgARN}}
	ln := l.mustCall(t, "client-elastic-load-balancing-v2", "CreateListenerCommand", map[string]any{"LoadBalancerArn": lbARN, "Protocol": "HTTP", "Port": 80, "DefaultActions": forward})
	listener := ln["Listeners"].([]any)[0].(map[string]any)["ListenerArn"]
	addRule := func(priority int, path string) {
		l.mustCall(t, "client-elastic-load-balancing-v2", "CreateRuleCommand", map[string]any{
			"ListenerArn": listener, "Priority": priority, "Actions": forward,
			"Conditions": []map[string]any{{"Field": "path-pattern", "Values": []string{path}}},
		})
	}

	for _, step := range []struct {
		name     string
		before   func() // rules other services put on the listener first
		request  string
		paths    []any
		wantData map[string]any
	}{
		{"first service on the listener", nil, "Create", []any{"/"}, map[string]any{"Priority": float64(50000)}},
		{"after other services' rules", func() { addRule(50000, "/*"); addRule(49999, "/other/*"); addRule(3, "/api/*") },
			"Update", []any{"/"}, map[string]any{"Priority": float64(49998)}},
		{"a root and a non-root path", nil, "Update", []any{"/", "/admin"}, map[string]any{"Priority": float64(49998), "Priority1": float64(4)}},
		{"delete", nil, "Delete", []any{"/"}, map[string]any{}},
	} {
		t.Run(step.name, func(t *testing.T) {
			if step.before != nil {
				step.before()
			}
			// The publisher's rendered HTTPRulePriorityAction, with the listener the
			// environment controller answers.
			props := map[string]any{
				"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:RulePriorityFunction",
				"RulePath":     step.paths, "ListenerArn": listener,
			}
			cr := &customResource{r: newResponder(t), typ: "RulePriorityFunction", logicalID: "HTTPRulePriorityAction",
				stackID: stackID(app, "publisher"), props: props, oldProps: props, physicalID: "alb-rule-priority-HTTPRulePriorityAction"}
			if step.request == "Create" {
				cr.physicalID = ""
			}
			got, _ := cr.send(t, l, "alb-rule-priority-generator.js", "nextAvailableRulePriorityHandler", step.request)
			if diff := cmp.Diff(step.wantData, got.Data); diff != "" {
				t.Errorf("Data (-want +got):\n%s", diff)
			}
			if got.PhysicalResourceID != "alb-rule-priority-HTTPRulePriorityAction" {
				t.Errorf("PhysicalResourceId %q", got.PhysicalResourceID)
			}
		})
	}
}

// TestBacklogPerTaskCalculator: BacklogPerTaskCalculatorFunction (backlog-per-task-calculator.js,
// each worker's stack) is what scales the workers: every minute (an EventBridge schedule) it
// divides each queue's ApproximateNumberOfMessages by the service's running tasks (1 when none
// run), rounded up, and logs it as the BacklogPerTask metric in CloudWatch's Embedded Metric
// Format, which the service's target-tracking policy follows. Real queues with messages on
// the emulator, the metric read back from the handler's log.
func TestBacklogPerTaskCalculator(t *testing.T) {
	l := setup(t)
	app := appName()
	cluster, svc := app+"-test-Cluster", app+"-test-fulfilment-Service"
	createService(t, l, cluster, svc, 2, nil)
	running := runningCount(t, l, cluster, svc)
	t.Logf("ECS says %d tasks of %s run (moto: MOTO_ECS_SERVICE_RUNNING of its process, 0 by default)", running, svc)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := sqs.NewFromConfig(l.emu.Config)
	queues := []struct {
		name     string
		messages int
	}{
		{app + "-test-fulfilment-EventsQueue", 7},
		{app + "-test-fulfilment-otherQueue", 0},
		{app + "-test-fulfilment-busyQueue", 25},
	}
	var names []string
	for _, q := range queues {
		out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q.name)})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < q.messages; i += 10 {
			var batch []sqstypes.SendMessageBatchRequestEntry
			for j := i; j < min(i+10, q.messages); j++ {
				batch = append(batch, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(`{"n":` + strconv.Itoa(j) + `}`)})
			}
			if _, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: out.QueueUrl, Entries: batch}); err != nil {
				t.Fatal(err)
			}
		}
		names = append(names, q.name)
	}
	namespace := app + "-test-fulfilment"
	// The schedule's event, which the handler ignores; its configuration is in the
	// function's environment, as the worker's rendered stack sets it.
	scheduled := map[string]any{
		"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa", "detail-type": "Scheduled Event",
		"source": "aws.events", "account": "123456789012", "time": "2026-12-06T02:00:00Z", "region": l.emu.Config.Region,
		"resources": []string{"arn:aws:events:" + l.emu.Config.Region + ":123456789012:rule/" + app + "-test-fulfilment-BacklogPerTaskCalculator"},
		"detail":    map[string]any{},
	}
	for _, tc := range []struct {
		name    string
		service string
		want    map[string]float64 // BacklogPerTask by queue; none when the handler must log no metric
	}{
		{"the worker's queues", svc, func() map[string]float64 {
			w := map[string]float64{}
			for _, q := range queues {
				w[q.name] = math.Ceil(float64(q.messages) / float64(max(running, 1)))
			}
			return w
		}()},
		// No data point rather than a wrong one: autoscaling keeps the task count.
		{"a service that does not exist", app + "-missing", map[string]float64{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr := l.invoke(t, "backlog-per-task-calculator.js", "handler", scheduled,
				"CLUSTER_NAME="+cluster, "SERVICE_NAME="+tc.service, "NAMESPACE="+namespace, "QUEUE_NAMES="+strings.Join(names, ","))
			got := map[string]float64{}
			for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
				if line == "" {
					continue
				}
				var emf struct {
					AWS struct {
						Timestamp         int64
						CloudWatchMetrics []struct {
							Namespace  string
							Dimensions [][]string
							Metrics    []struct{ Name, Unit string }
						}
					} `json:"_aws"`
					QueueName      string
					BacklogPerTask *float64
				}
				if err := json.Unmarshal([]byte(line), &emf); err != nil || emf.BacklogPerTask == nil {
					t.Errorf("a log line that is not the metric in EMF (%v): %s", err, line)
					continue
				}
				wantDef := []struct {
					Namespace  string
					Dimensions [][]string
					Metrics    []struct{ Name, Unit string }
				}{{namespace, [][]string{{"QueueName"}}, []struct{ Name, Unit string }{{"BacklogPerTask", "Count"}}}}
				if diff := cmp.Diff(wantDef, emf.AWS.CloudWatchMetrics); diff != "" {
					t.Errorf("metric definition (-want +got):\n%s", diff)
				}
				if age := time.Since(time.UnixMilli(emf.AWS.Timestamp)); age < 0 || age > 5*time.Minute {
					t.Errorf("Timestamp %d is %s old", emf.AWS.Timestamp, age)
				}
				got[emf.QueueName] = *emf.BacklogPerTask
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("BacklogPerTask by queue, %d tasks running (-want +got):\n%s", running, diff)
			}
			failed := strings.Contains(stderr, "Unexpected error")
			if wantFail := len(tc.want) == 0; failed != wantFail {
				t.Errorf("handler logged an error: %v; want %v:\n%s", failed, wantFail, stderr)
			}
		})
	}
}

// createService creates an ECS cluster and a Fargate service in it with desired tasks.
func createService(t *testing.T, l *lambdaEnv, cluster, svc string, desired int, tags map[string]string) {
	t.Helper()
	l.mustCall(t, "client-ecs", "CreateClusterCommand", map[string]any{"clusterName": cluster})
	l.mustCall(t, "client-ecs", "RegisterTaskDefinitionCommand", map[string]any{
		"family": svc, "requiresCompatibilities": []string{"FARGATE"}, "networkMode": "awsvpc", "cpu": "256", "memory": "512",
		"containerDefinitions": []map[string]any{{"name": "app", "image": "public.ecr.aws/docker/library/busybox:latest", "essential": true}},
	})
	var ecsTags []map[string]string
	for k, v := range tags {
		ecsTags = append(ecsTags, map[string]string{"key": k, "value": v})
	}
	in := map[string]any{"cluster": cluster, "serviceName": svc, "taskDefinition": svc, "desiredCount": desired, "launchType": "FARGATE"}
	if len(ecsTags) > 0 {
		in["tags"] = ecsTags
	}
	l.mustCall(t, "client-ecs", "CreateServiceCommand", in)
}

// runningCount is the service's runningCount as ECS answers it (moto answers 0 unless started
// with MOTO_ECS_SERVICE_RUNNING).
func runningCount(t *testing.T, l *lambdaEnv, cluster, svc string) int {
	t.Helper()
	out := l.mustCall(t, "client-ecs", "DescribeServicesCommand", map[string]any{"cluster": cluster, "services": []string{svc}})
	services, _ := out["services"].([]any)
	if len(services) != 1 {
		t.Fatalf("DescribeServices %s: %v", svc, out)
	}
	n, _ := services[0].(map[string]any)["runningCount"].(float64)
	return int(n)
}

// hostedZone creates a public hosted zone named name on the emulator and returns its id.
func hostedZone(t *testing.T, l *lambdaEnv, name string) string {
	t.Helper()
	out := l.mustCall(t, "client-route-53", "CreateHostedZoneCommand", map[string]any{"Name": name, "CallerReference": name + "-" + appName()})
	id := fmt.Sprint(out["HostedZone"].(map[string]any)["Id"])
	return id[strings.LastIndex(id, "/")+1:]
}

// records lists the zone's records of type typ as name → values (alias targets as
// "alias:<zone>/<dns name>").
func records(t *testing.T, l *lambdaEnv, zone, typ string) map[string][]string {
	t.Helper()
	out := l.mustCall(t, "client-route-53", "ListResourceRecordSetsCommand", map[string]any{"HostedZoneId": zone})
	got := map[string][]string{}
	sets, _ := out["ResourceRecordSets"].([]any)
	for _, s := range sets {
		s := s.(map[string]any)
		if s["Type"] != typ {
			continue
		}
		name := strings.TrimSuffix(fmt.Sprint(s["Name"]), ".")
		if a, ok := s["AliasTarget"].(map[string]any); ok {
			got[name] = append(got[name], fmt.Sprintf("alias:%v/%v", a["HostedZoneId"], strings.TrimSuffix(fmt.Sprint(a["DNSName"]), ".")))
		}
		rrs, _ := s["ResourceRecords"].([]any)
		for _, rr := range rrs {
			got[name] = append(got[name], fmt.Sprint(rr.(map[string]any)["Value"]))
		}
	}
	return got
}

// TestDNSDelegation: DNSDelegationFunction (dns-delegation.js, the environment's stack with a
// domain) delegates the environment's subdomain: with the application's DNS role (assumed
// through STS) it writes the environment zone's name servers as an NS record into the
// application's zone, and removes it on Delete.
func TestDNSDelegation(t *testing.T) {
	l := setup(t)
	domain := appName() + ".com" // the application's domain (copilot app init --domain)
	appZoneName, sub := "pubsub."+domain, "test.pubsub."+domain
	appZone := hostedZone(t, l, appZoneName)
	nameServers := []any{"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk"}
	props := map[string]any{
		"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:DNSDelegationFunction",
		"DomainName":   appZoneName, "SubdomainName": sub, "NameServers": nameServers,
		"RootDNSRole": "arn:aws:iam::123456789012:role/pubsub-DNSDelegationRole",
	}
	cr := &customResource{r: newResponder(t), typ: "DNSDelegationFunction", logicalID: "DelegateDNSAction",
		stackID: "arn:aws:cloudformation:eu-west-1:123456789012:stack/pubsub-test/00000000-0000-4000-8000-000000000000", props: props, oldProps: props}
	for _, step := range []struct {
		request string
		want    map[string][]string // the NS records of the subdomain in the application's zone
	}{
		{"Create", map[string][]string{sub: {"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk"}}},
		{"Update", map[string][]string{sub: {"ns-1.awsdns-01.org", "ns-2.awsdns-02.co.uk"}}},
		{"Delete", map[string][]string{}},
	} {
		got, _ := cr.send(t, l, "dns-delegation.js", "domainDelegationHandler", step.request)
		if got.PhysicalResourceID != sub {
			t.Errorf("%s: PhysicalResourceId %q; want %q", step.request, got.PhysicalResourceID, sub)
		}
		ns := records(t, l, appZone, "NS")
		delete(ns, appZoneName) // the zone's own name servers
		if diff := cmp.Diff(step.want, ns); diff != "" {
			t.Errorf("after %s: NS records in %s (-want +got):\n%s", step.request, appZoneName, diff)
		}
	}
}

// TestCustomDomain: CustomDomainFunction (custom-domain.js, the environment's stack with a
// domain and aliases) points the services' http.alias names at the load balancer: an alias A
// record in the environment's zone (its own credentials) or in the application's or root zone
// (the application's DNS role, through STS); on Update it removes aliases no longer listed, on
// Delete all of them.
func TestCustomDomain(t *testing.T) {
	l := setup(t)
	domain := appName() + ".com"
	envZoneName, appZoneName := "test.pubsub."+domain, "pubsub."+domain
	zones := map[string]string{envZoneName: hostedZone(t, l, envZoneName), appZoneName: hostedZone(t, l, appZoneName), domain: hostedZone(t, l, domain)}
	const lbDNS, lbZone = "pubsub-publicloadbalancer-123.eu-west-1.elb.amazonaws.com", "Z32O12XQLNTSW2"
	target := "alias:" + lbZone + "/" + lbDNS
	aliases := func(names ...string) string {
		b, _ := json.Marshal(map[string][]string{"publisher": names})
		return string(b)
	}
	envAlias, appAlias, rootAlias := "shop."+envZoneName, "shop."+appZoneName, "www."+domain
	props := func(a string) map[string]any {
		return map[string]any{
			"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:CustomDomainFunction",
			"AppName":      "pubsub", "EnvName": "test", "DomainName": domain, "Aliases": a,
			"AppDNSRole":      "arn:aws:iam::123456789012:role/pubsub-DNSDelegationRole",
			"PublicAccessDNS": lbDNS, "PublicAccessHostedZone": lbZone,
		}
	}
	cr := &customResource{r: newResponder(t), typ: "CustomDomainFunction", logicalID: "CustomDomainAction",
		stackID: "arn:aws:cloudformation:eu-west-1:123456789012:stack/pubsub-test/00000000-0000-4000-8000-000000000000"}
	for _, step := range []struct {
		request, aliases string
		want             map[string]map[string][]string // zone → A records
	}{
		{"Create", aliases(envAlias, appAlias, rootAlias), map[string]map[string][]string{
			envZoneName: {envAlias: {target}}, appZoneName: {appAlias: {target}}, domain: {rootAlias: {target}},
		}},
		{"Update", aliases(envAlias), map[string]map[string][]string{ // the other two dropped
			envZoneName: {envAlias: {target}}, appZoneName: {}, domain: {},
		}},
		{"Delete", aliases(envAlias), map[string]map[string][]string{envZoneName: {}, appZoneName: {}, domain: {}}},
	} {
		cr.oldProps, cr.props = cr.props, props(step.aliases)
		got, _ := cr.send(t, l, "custom-domain.js", "handler", step.request)
		if got.PhysicalResourceID != "CustomDomainAction" {
			t.Errorf("%s: PhysicalResourceId %q", step.request, got.PhysicalResourceID)
		}
		have := map[string]map[string][]string{}
		for name, id := range zones {
			have[name] = records(t, l, id, "A")
		}
		if diff := cmp.Diff(step.want, have); diff != "" {
			t.Errorf("after %s: A records by zone (-want +got):\n%s", step.request, diff)
		}
	}
}

// TestCertificateValidation: CertificateValidationFunction (dns-cert-validator.js, the
// environment's stack with a domain) requests the environment's ACM certificate (its name, its
// wildcard and the aliases), writes the DNS validation records into the environment's zone and,
// through the application's DNS role, the application's, waits until ACM issues it and answers
// its ARN; Delete removes the records and the certificate. moto issues a certificate
// MOTO_ACM_VALIDATION_WAIT seconds after the request (60 unless its process is given another,
// make test-lambdas gives 0) and the handler checks every 30 s: a minute here under make test.
func TestCertificateValidation(t *testing.T) {
	t.Parallel()
	l := setup(t)
	domain := appName() + ".com"
	envZoneName, appZoneName := "test.pubsub."+domain, "pubsub."+domain
	envZone, appZone := hostedZone(t, l, envZoneName), hostedZone(t, l, appZoneName)
	alias := "shop." + appZoneName
	aliases, _ := json.Marshal(map[string][]string{"publisher": {alias}})
	region := l.emu.Config.Region
	props := map[string]any{
		"ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:CertificateValidationFunction",
		"AppName":      "pubsub", "EnvName": "test", "DomainName": domain, "Aliases": string(aliases),
		"EnvHostedZoneId": envZone, "Region": region,
		"RootDNSRole": "arn:aws:iam::123456789012:role/pubsub-DNSDelegationRole",
	}
	cr := &customResource{r: newResponder(t), typ: "CertificateValidationFunction", logicalID: "HTTPSCert",
		stackID: "arn:aws:cloudformation:eu-west-1:123456789012:stack/pubsub-test/00000000-0000-4000-8000-000000000000", props: props, oldProps: props}
	// Validation records (CNAME) by zone: names only, as ACM chooses them.
	cnames := func() map[string][]string {
		got := map[string][]string{}
		for name, id := range map[string]string{envZoneName: envZone, appZoneName: appZone} {
			got[name] = []string{}
			for rec := range records(t, l, id, "CNAME") {
				got[name] = append(got[name], rec[strings.Index(rec, ".")+1:]) // the name ACM validates
			}
		}
		return got
	}

	got, _ := cr.send(t, l, "dns-cert-validator.js", "certificateRequestHandler", "Create")
	arn, _ := got.Data["Arn"].(string)
	if !strings.HasPrefix(arn, "arn:aws:acm:") || got.PhysicalResourceID != arn {
		t.Fatalf("Create: Data %v, PhysicalResourceId %q; want the certificate's ARN in both", got.Data, got.PhysicalResourceID)
	}
	cert := l.mustCall(t, "client-acm", "DescribeCertificateCommand", map[string]any{"CertificateArn": arn})["Certificate"].(map[string]any)
	if cert["Status"] != "ISSUED" || cert["DomainName"] != envZoneName {
		t.Errorf("certificate %s: %v for %v; want ISSUED for %s", arn, cert["Status"], cert["DomainName"], envZoneName)
	}
	var sans []string // in any order (moto puts the domain name last, ACM first)
	for _, s := range cert["SubjectAlternativeNames"].([]any) {
		sans = append(sans, fmt.Sprint(s))
	}
	slices.Sort(sans)
	if diff := cmp.Diff([]string{"*." + envZoneName, alias, envZoneName}, sans); diff != "" {
		t.Errorf("certificate's names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{envZoneName: {envZoneName}, appZoneName: {alias}}, cnames()); diff != "" {
		t.Errorf("after Create: validation records by zone (-want +got):\n%s", diff)
	}

	// A redeploy with the same aliases keeps the certificate.
	if got, _ := cr.send(t, l, "dns-cert-validator.js", "certificateRequestHandler", "Update"); len(got.Data) != 0 {
		t.Errorf("Update with the same aliases: Data %v; want none (no new certificate)", got.Data)
	}

	cr.send(t, l, "dns-cert-validator.js", "certificateRequestHandler", "Delete")
	if _, err := l.call("client-acm", "DescribeCertificateCommand", map[string]any{"CertificateArn": arn}); err == nil || !strings.Contains(err.Error(), "ResourceNotFound") {
		t.Errorf("after Delete: DescribeCertificate %s: %v; want ResourceNotFoundException", arn, err)
	}
	if diff := cmp.Diff(map[string][]string{envZoneName: {}, appZoneName: {}}, cnames()); diff != "" {
		t.Errorf("after Delete: validation records by zone (-want +got):\n%s", diff)
	}
}
