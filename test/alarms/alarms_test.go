// Package alarms checks the CloudWatch alarms the services deploy as Copilot addons
// (copilot/<svc>/addons/alarms.yml): that each names a metric the services emit
// (internal/metrics) or AWS documents, with exactly the dimensions it is published with, that
// each service has its alarms and they notify a topic; on both deployers' stacks (Copilot's
// render and the CDK app's synthesis, which includes the addons whole), that each dimension
// resolves to what the service uses (TestDeployedAlarmsWatchTheService); and, on Copilot's,
// that each dimension is a parameter the service stack binds to the resource the alarm is meant
// to watch. cfn-lint runs over the addon files (test/deploy) and over the rendered addons stacks
// (test/rendered), which TestRenderedAddonsAreCurrent proves hold today's alarms.
package alarms

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/copilot"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// AWS's documented metrics that an alarm here may name, by namespace, with the dimensions an
// alarm must give them (a CloudWatch metric is its name and its whole set of dimensions: an
// alarm that leaves one out watches a metric nobody publishes, and never leaves OK).
var awsMetrics = map[string]struct {
	names []string
	dims  []string
	// own lists the metrics published with other dimensions than dims.
	own map[string][]string
}{
	// https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
	"AWS/SQS": {
		names: []string{
			"ApproximateAgeOfOldestMessage",
			"ApproximateNumberOfGroupsWithInflightMessages",
			"ApproximateNumberOfMessagesDelayed",
			"ApproximateNumberOfMessagesNotVisible",
			"ApproximateNumberOfMessagesVisible",
			"NumberOfDeduplicatedSentMessages",
			"NumberOfEmptyReceives",
			"NumberOfMessagesDeleted",
			"NumberOfMessagesReceived",
			"NumberOfMessagesSent",
			"SentMessageSize",
		},
		dims: []string{"QueueName"},
	},
	// The per-target-group metrics of an Application Load Balancer, by target group and load
	// balancer:
	// https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html
	"AWS/ApplicationELB": {
		names: []string{
			"HealthyHostCount",
			"UnHealthyHostCount",
			"HTTPCode_Target_2XX_Count",
			"HTTPCode_Target_3XX_Count",
			"HTTPCode_Target_4XX_Count",
			"HTTPCode_Target_5XX_Count",
			"RequestCount",
			"RequestCountPerTarget",
			"TargetConnectionErrorCount",
			"TargetResponseTime",
			"TargetTLSNegotiationErrorCount",
			// The load balancer's own answers, by load balancer only (no target answered them).
			"HTTPCode_ELB_4XX_Count",
			"HTTPCode_ELB_5XX_Count",
			"HTTPCode_ELB_502_Count",
			"HTTPCode_ELB_503_Count",
			"HTTPCode_ELB_504_Count",
		},
		dims: []string{"LoadBalancer", "TargetGroup"},
		own: map[string][]string{
			"HTTPCode_ELB_4XX_Count": {"LoadBalancer"},
			"HTTPCode_ELB_5XX_Count": {"LoadBalancer"},
			"HTTPCode_ELB_502_Count": {"LoadBalancer"},
			"HTTPCode_ELB_503_Count": {"LoadBalancer"},
			"HTTPCode_ELB_504_Count": {"LoadBalancer"},
		},
	},
}

// ourDims are the dimensions each of our metrics is published with, as internal/metrics
// documents them: every metric carries DimService and DimEnv; Messages adds DimOutcome,
// RequestLatency DimRoute.
func ourDims(metric string) []string {
	dims := []string{metrics.DimService, metrics.DimEnv}
	switch metric {
	case metrics.Messages:
		dims = append(dims, metrics.DimOutcome)
	case metrics.RequestLatency:
		dims = append(dims, metrics.DimRoute)
	}
	slices.Sort(dims)
	return dims
}

// wantAlarm is an alarm a service must have, and, in the rendered service stack, what each of
// its dimensions must be bound to (through an addons stack parameter).
type wantAlarm struct {
	namespace, metric string
	binds             map[string]string // dimension → binding in the service stack's AddonsStack
	// missing is the alarm's TreatMissingData: breaching where silence is the outage (no task
	// writes metrics, no target registered), ignore where the metric stops while the trouble
	// stays (SQS stops reporting an idle queue, dead letters and all, after about 6 hours).
	missing string
}

// wantAlarms are the alarms of each Copilot service type (the publisher is the only Load
// Balanced Web Service).
var wantAlarms = map[string][]wantAlarm{
	"Worker Service": {
		// Messages in the dead-letter queue.
		{"AWS/SQS", "ApproximateNumberOfMessagesVisible", map[string]string{"QueueName": "GetAtt DeadLetterQueue.QueueName"}, "ignore"},
		// The worker's queue falls behind.
		{"AWS/SQS", "ApproximateAgeOfOldestMessage", map[string]string{"QueueName": "GetAtt EventsQueue.QueueName"}, "notBreaching"},
	},
	"Load Balanced Web Service": {
		{metrics.Namespace, metrics.OutboxOldestAge, ourBinds, "notBreaching"},
		// The relay has not completed a poll lately, or no task writes metrics.
		{metrics.Namespace, metrics.OutboxPollAge, ourBinds, "breaching"},
		{"AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", map[string]string{"LoadBalancer": lbBinding, "TargetGroup": tgBinding}, "notBreaching"},
		// The load balancer's own 5xx (no healthy target), which no target counts.
		{"AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", map[string]string{"LoadBalancer": lbBinding}, "notBreaching"},
		{"AWS/ApplicationELB", "UnHealthyHostCount", map[string]string{"LoadBalancer": lbBinding, "TargetGroup": tgBinding}, "notBreaching"},
		// No healthy task (UnHealthyHostCount is 0 when none is registered).
		{"AWS/ApplicationELB", "HealthyHostCount", map[string]string{"LoadBalancer": lbBinding, "TargetGroup": tgBinding}, "breaching"},
	},
}

// ourBinds binds our metrics' dimensions: the service's name, and its environment.
var ourBinds = map[string]string{metrics.DimService: "Ref WorkloadName", metrics.DimEnv: envBinding}

// The public load balancer's full name, as Copilot's environment controller returns it (and
// Copilot's own RequestCountPerTarget scaling policy reads it), and the target group's.
const (
	lbBinding = "GetAtt EnvControllerAction.PublicLoadBalancerFullName"
	tgBinding = "GetAtt TargetGroup.TargetGroupFullName"
	// The environment, as Copilot passes it to every addons stack (parameter Env).
	envBinding = "Ref EnvName"
)

// TestAlarmMetricsAreKnown: every alarm in copilot/*/addons names a metric that exists, with
// the dimensions it is published with: ours (namespace pubsub) from internal/metrics, AWS's
// from the documented lists above. A misspelt metric or dimension would leave an alarm that
// never fires.
func TestAlarmMetricsAreKnown(t *testing.T) {
	var n int
	for _, f := range addons(t) {
		alarms, err := alarmsOf("copilot/"+f.Path, f.Template)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, a := range alarms {
			n++
			var names, dims []string
			switch a.namespace {
			case metrics.Namespace:
				names, dims = metrics.Names(), ourDims(a.metric)
			default:
				m, ok := awsMetrics[a.namespace]
				if !ok {
					t.Errorf("%s: namespace %q; want %s or one of %q (add AWS's documented metrics for another namespace here)",
						a.where, a.namespace, metrics.Namespace, slices.Sorted(maps.Keys(awsMetrics)))
					continue
				}
				names, dims = m.names, m.dims
				if own, ok := m.own[a.metric]; ok {
					dims = own
				}
			}
			if !slices.Contains(names, a.metric) {
				t.Errorf("%s: metric %q is not one of namespace %s:%s", a.where, a.metric, a.namespace, lines(names))
				continue
			}
			if got := a.dimNames(); !slices.Equal(got, dims) {
				t.Errorf("%s: %s %s with dimensions %q; want %q (the metric is published with exactly those)", a.where, a.namespace, a.metric, got, dims)
			}
			if a.namespace == metrics.Namespace {
				// Our metrics carry the service's own name: the addon's Name (Copilot passes the
				// workload's name) or the name written out.
				if v := a.dims[metrics.DimService]; describe(v) != "Ref Name" && v != f.Workload {
					t.Errorf("%s: dimension %s = %s; want !Ref Name or %q", a.where, metrics.DimService, describe(v), f.Workload)
				}
				// And the environment's: an alarm of the test environment must never watch (and
				// page for) production's series. Copilot passes it as the addon's Env.
				if v := a.dims[metrics.DimEnv]; describe(v) != "Ref Env" {
					t.Errorf("%s: dimension %s = %s; want !Ref Env, the environment the addon is deployed to", a.where, metrics.DimEnv, describe(v))
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no AWS::CloudWatch::Alarm in copilot/*/addons/*.yml")
	}
}

// TestEachServiceHasItsAlarms: every service has the alarms of its type (wantAlarms), with the
// dimensions and TreatMissingData given there, each notifying an SNS topic of its own template
// on alarm and on recovery, with a threshold that is a parameter with a default (or 0: "any
// message in the dead-letter queue"); an e-mail subscription exists only when its address
// parameter is set.
func TestEachServiceHasItsAlarms(t *testing.T) {
	files := addons(t)
	for _, svc := range integration.LoadTopology(t).Services {
		t.Run(svc.Name, func(t *testing.T) {
			want, ok := wantAlarms[svc.Type]
			if !ok {
				t.Fatalf("no alarms listed for a %s; add them to wantAlarms", svc.Type)
			}
			found := map[string]int{}
			for _, f := range files {
				if f.Workload != svc.Name {
					continue
				}
				alarms, err := alarmsOf("copilot/"+f.Path, f.Template)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range alarms {
					found[a.namespace+" "+a.metric]++
					for _, w := range want {
						if w.namespace == a.namespace && w.metric == a.metric {
							if got, want := a.dimNames(), slices.Sorted(maps.Keys(w.binds)); !slices.Equal(got, want) {
								t.Errorf("%s: dimensions %q; want %q", a.where, got, want)
							}
							if got := a.props["TreatMissingData"]; got != w.missing {
								t.Errorf("%s: %s %s: TreatMissingData %v; want %s", a.where, a.namespace, a.metric, got, w.missing)
							}
						}
					}
					checkActions(t, f, a)
					checkThreshold(t, f, a)
				}
				checkSubscriptions(t, f)
			}
			for _, w := range want {
				if n := found[w.namespace+" "+w.metric]; n != 1 {
					t.Errorf("%d alarms on %s %s in copilot/%s/addons; want 1", n, w.namespace, w.metric, svc.Name)
				}
			}
		})
	}
}

// checkActions: the alarm notifies a topic of its own template, on alarm and on recovery.
func checkActions(t *testing.T, f topology.Addon, a alarm) {
	t.Helper()
	for _, key := range []string{"AlarmActions", "OKActions"} {
		actions, _ := a.props[key].([]any)
		if len(actions) == 0 {
			t.Errorf("%s: no %s; want the service's alarm topic", a.where, key)
		}
		for _, act := range actions {
			name, ok := cfn.Ref(act)
			if !ok || f.Template.Resources[name].Type != "AWS::SNS::Topic" {
				t.Errorf("%s: %s has %s; want !Ref of an AWS::SNS::Topic in %s", a.where, key, describe(act), "copilot/"+f.Path)
			}
		}
	}
	if a.props["ActionsEnabled"] == false {
		t.Errorf("%s: ActionsEnabled is false; nobody would be told", a.where)
	}
}

// checkThreshold: a threshold is a Number parameter with a default, or 0.
func checkThreshold(t *testing.T, f topology.Addon, a alarm) {
	t.Helper()
	v := a.props["Threshold"]
	if name, ok := cfn.Ref(v); ok {
		p, ok := f.Template.Parameters[name]
		if !ok || p.Type != "Number" || p.Default == nil {
			t.Errorf("%s: Threshold !Ref %s; want a Number parameter of %s with a Default", a.where, name, "copilot/"+f.Path)
		}
		return
	}
	if v != 0 {
		t.Errorf("%s: Threshold %s; want a parameter (or 0)", a.where, describe(v))
	}
}

// checkSubscriptions: every SNS subscription of an alarms template is an e-mail subscription
// that exists only when its address parameter (default empty) is set.
func checkSubscriptions(t *testing.T, f topology.Addon) {
	t.Helper()
	if len(f.Template.OfType("AWS::CloudWatch::Alarm")) == 0 {
		return
	}
	for _, id := range f.Template.OfType("AWS::SNS::Subscription") {
		r := f.Template.Resources[id]
		where := "copilot/" + f.Path + " " + id
		param, ok := cfn.Ref(r.Properties["Endpoint"])
		if !ok {
			t.Errorf("%s: Endpoint %s; want !Ref of a parameter", where, describe(r.Properties["Endpoint"]))
			continue
		}
		if d := f.Template.Parameters[param].Default; d != "" {
			t.Errorf("%s: parameter %s has Default %v; want '' (no subscription unless set)", where, param, d)
		}
		// The condition must be Not(Equals(Ref param, '')), written either way round.
		cond := describe(f.Template.Conditions[r.Condition])
		if r.Condition == "" || (cond != describe(map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": param}, ""}}}}) &&
			cond != describe(map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{"", map[string]any{"Ref": param}}}}})) {
			t.Errorf("%s: Condition %q (%s); want one that is true only when %s is not ''", where, r.Condition, cond, param)
		}
	}
}

// TestRenderedAlarmBindings: in the stacks Copilot renders, every alarm dimension is !Ref of a
// parameter the AddonsStack binds (Copilot binds those of addons.parameters.yml, and refuses to
// render an addons parameter without a default that it leaves unbound), bound to the
// resource the alarm is meant to watch (wantAlarms), and that resource is the one the service
// uses: the queue the worker reads (COPILOT_QUEUE_URI), that queue's dead-letter queue, the
// target group of the ECS service, the task definition's task role, the environment's load
// balancer as Copilot's own scaling policy names it.
func TestRenderedAlarmBindings(t *testing.T) {
	r := integration.Rendered(t)
	for _, w := range r.Info.Workloads {
		t.Run(w.Name, func(t *testing.T) {
			svc, addons := r.Stacks[w.Name], r.Addons[w.Name]
			if addons == nil {
				t.Fatalf("no %s.addons.stack.yml in %s; want the alarms", w.Name, r.Dir)
			}
			stackRes, ok := svc.Resources["AddonsStack"]
			if !ok {
				t.Fatalf("%s: no AddonsStack", r.StackFile(w.Name))
			}
			bound, _ := stackRes.Properties["Parameters"].(map[string]any)

			alarms, err := alarmsOf(w.Name+".addons.stack.yml", addons)
			if err != nil {
				t.Fatal(err)
			}
			used := map[string]bool{} // bindings the alarms rely on
			for _, a := range alarms {
				for _, dim := range a.dimNames() {
					param, ok := cfn.Ref(a.dims[dim])
					if !ok {
						t.Errorf("%s: dimension %s = %s; want !Ref of a parameter the service stack binds", a.where, dim, describe(a.dims[dim]))
						continue
					}
					if _, ok := addons.Parameters[param]; !ok {
						t.Errorf("%s: dimension %s: !Ref %s is not a parameter of the addons stack", a.where, dim, param)
						continue
					}
					b, ok := bound[param]
					if !ok {
						t.Errorf("%s: dimension %s: parameter %s is not bound by the AddonsStack", a.where, dim, param)
						continue
					}
					used[describe(b)] = true
					for _, wa := range wantAlarms[w.Type] {
						if wa.namespace == a.namespace && wa.metric == a.metric && wa.binds[dim] != describe(b) {
							t.Errorf("%s: dimension %s is parameter %s, bound to %s; want %s", a.where, dim, param, describe(b), wa.binds[dim])
						}
					}
				}
			}
			missing := map[string]bool{}
			for _, wa := range wantAlarms[w.Type] {
				for _, b := range wa.binds {
					missing[b] = !used[b]
				}
			}
			for _, b := range slices.Sorted(maps.Keys(missing)) {
				if missing[b] {
					t.Errorf("no alarm of %s has a dimension bound to %s", w.Name, b)
				}
			}
			for _, b := range slices.Sorted(maps.Keys(used)) {
				if err := usedByService(r, w.Name, b); err != nil {
					t.Errorf("%s: %v", r.StackFile(w.Name), err)
				}
			}
		})
	}
}

// usedByService checks that the resource a binding names is the one the service uses.
func usedByService(r *cfn.Rendered, svc, binding string) error {
	tpl := r.Stacks[svc]
	_, vars, err := r.Container(svc)
	if err != nil {
		return err
	}
	isType := func(name, typ string) error {
		if got := tpl.Resources[name].Type; got != typ {
			return fmt.Errorf("%s: resource %s is a %q; want a %s", binding, name, got, typ)
		}
		return nil
	}
	switch binding {
	case "Ref WorkloadName":
		if got := r.Params[svc]["WorkloadName"]; got != svc {
			return fmt.Errorf("parameter WorkloadName = %q; want %q", got, svc)
		}
	case envBinding:
		// The environment the addons are told is the one the containers are told, and the
		// metrics name (the services give internal/metrics COPILOT_ENVIRONMENT_NAME).
		if got := r.Params[svc]["EnvName"]; got == "" {
			return fmt.Errorf("parameter EnvName is empty")
		}
		if got := describe(vars[copilot.EnvEnvironment]); got != envBinding && got != `{"Fn::Sub":"${EnvName}"}` {
			return fmt.Errorf("the container's %s = %s; want the stack's EnvName, which the alarms' env dimension is bound to", copilot.EnvEnvironment, got)
		}
	case "Ref TaskRole":
		if err := isType("TaskRole", "AWS::IAM::Role"); err != nil {
			return err
		}
		if got := describe(tpl.Resources["TaskDefinition"].Properties["TaskRoleArn"]); got != "GetAtt TaskRole.Arn" {
			return fmt.Errorf("the task definition's TaskRoleArn is %s; want GetAtt TaskRole.Arn", got)
		}
	case "GetAtt EventsQueue.QueueName":
		if err := isType("EventsQueue", "AWS::SQS::Queue"); err != nil {
			return err
		}
		if got := describe(vars["COPILOT_QUEUE_URI"]); got != "Ref EventsQueue" {
			return fmt.Errorf("the worker reads COPILOT_QUEUE_URI = %s; want Ref EventsQueue, the queue its alarm watches", got)
		}
	case "GetAtt DeadLetterQueue.QueueName":
		if err := isType("DeadLetterQueue", "AWS::SQS::Queue"); err != nil {
			return err
		}
		redrive, _ := tpl.Resources["EventsQueue"].Properties["RedrivePolicy"].(map[string]any)
		if got := describe(redrive["deadLetterTargetArn"]); got != "GetAtt DeadLetterQueue.Arn" {
			return fmt.Errorf("EventsQueue's dead-letter target is %s; want GetAtt DeadLetterQueue.Arn, the queue its alarm watches", got)
		}
	case tgBinding:
		if err := isType("TargetGroup", "AWS::ElasticLoadBalancingV2::TargetGroup"); err != nil {
			return err
		}
		lbs, _ := tpl.Resources["Service"].Properties["LoadBalancers"].([]any)
		var got []string
		for _, lb := range lbs {
			m, _ := lb.(map[string]any)
			got = append(got, describe(m["TargetGroupArn"]))
		}
		if !slices.Equal(got, []string{"Ref TargetGroup"}) {
			return fmt.Errorf("the ECS service's target groups are %q; want only Ref TargetGroup, the one its alarms watch", got)
		}
	case lbBinding:
		if err := isType("EnvControllerAction", "Custom::EnvControllerFunction"); err != nil {
			return err
		}
		// Copilot's own metrics on this load balancer (its RequestCountPerTarget scaling
		// policy, where the manifest scales on requests) name it the same way.
		for _, d := range findAll(tpl.Raw["Resources"], func(v any) bool {
			m, ok := v.(map[string]any)
			return ok && m["Name"] == "LoadBalancer" && m["Value"] != nil
		}) {
			if got := describe(d.(map[string]any)["Value"]); got != lbBinding {
				return fmt.Errorf("Copilot names the load balancer of a metric %s; the alarms use %s", got, lbBinding)
			}
		}
	default:
		return fmt.Errorf("an alarm dimension is bound to %s: add to usedByService how the service uses it", binding)
	}
	return nil
}

// TestRenderedAddonsAreCurrent: each rendered addons stack is the merge of today's
// copilot/<svc>/addons/*.yml (same parameters, conditions, resources and outputs), so the
// cfn-lint run over the rendered templates (test/rendered) and the checks above saw these alarms.
// (TestRenderedIsCurrent compares the manifests only.)
func TestRenderedAddonsAreCurrent(t *testing.T) {
	r := integration.Rendered(t)
	files := addons(t)
	for _, w := range r.Info.Workloads {
		t.Run(w.Name, func(t *testing.T) {
			want := map[string]map[string]any{}
			for _, f := range files {
				if f.Workload != w.Name {
					continue
				}
				for _, section := range []string{"Parameters", "Conditions", "Resources", "Outputs"} {
					m, _ := f.Template.Raw[section].(map[string]any)
					if want[section] == nil {
						want[section] = map[string]any{}
					}
					for k, v := range m {
						if prev, dup := want[section][k]; dup && !cmp.Equal(prev, v) {
							t.Errorf("%s %s is declared twice, differently, in copilot/%s/addons (Copilot refuses that)", section, k, w.Name)
						}
						want[section][k] = v
					}
				}
			}
			addons := r.Addons[w.Name]
			if addons == nil {
				if len(want) > 0 {
					t.Fatalf("copilot/%s/addons has templates but %s has no %s.addons.stack.yml; run make render", w.Name, r.Dir, w.Name)
				}
				return
			}
			var stale []string
			for _, section := range slices.Sorted(maps.Keys(want)) {
				got, _ := addons.Raw[section].(map[string]any)
				if got == nil {
					got = map[string]any{}
				}
				if diff := cmp.Diff(want[section], got); diff != "" {
					stale = append(stale, section+" (-copilot/ +rendered):\n"+diff)
				}
			}
			if len(stale) > 0 {
				t.Errorf("%s.addons.stack.yml is not rendered from today's copilot/%s/addons; run make render:\n%s", w.Name, w.Name, strings.Join(stale, "\n"))
			}
		})
	}
}
