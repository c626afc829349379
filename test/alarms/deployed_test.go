package alarms

import (
	"fmt"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/pubsub-app/pubsub/internal/copilot"
	"github.com/pubsub-app/pubsub/internal/devstack/cfn"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
)

// TestDeployedAlarmsWatchTheService: in both deployers' stacks (Copilot's render and the CDK
// app's assembly, cfn.Deployment), each service has each alarm of its type (wantAlarms) once,
// and every dimension of it, resolved as CloudFormation would, names what the service itself
// uses: the queue its worker reads (COPILOT_QUEUE_URI), that queue's dead-letter target, the
// service's name and the environment its metrics carry (COPILOT_ENVIRONMENT_NAME), the target
// group its ECS service registers with, and the load balancer in front of that target group.
// A dimension naming anything else is an alarm that never fires.
func TestDeployedAlarmsWatchTheService(t *testing.T) {
	integration.EachDeployment(t, func(t *testing.T, d *cfn.Deployment) {
		for _, w := range d.Workloads {
			t.Run(w.Name, func(t *testing.T) {
				want, ok := wantAlarms[w.Type]
				if !ok {
					t.Fatalf("no alarms listed for a %s; add them to wantAlarms", w.Type)
				}
				uses := usedBy(t, w)
				found := map[string]int{}
				for _, s := range w.Stacks {
					alarms, err := alarmsOf(w.File, s.Template)
					if err != nil {
						t.Fatal(err)
					}
					for _, a := range alarms {
						i := slices.IndexFunc(want, func(wa wantAlarm) bool { return wa.namespace == a.namespace && wa.metric == a.metric })
						if i < 0 || scales(s, a) {
							continue // not one of ours, or the deployer's own: the CDK's backlog scaling
						}
						found[a.namespace+" "+a.metric]++
						for dim, binding := range want[i].binds {
							got, err := s.Resolve(a.dims[dim])
							if err != nil {
								t.Fatalf("%s: dimension %s: %v", a.where, dim, err)
							}
							if w, ok := uses[binding]; !ok || fmt.Sprint(got) != w {
								t.Errorf("%s (%s %s): dimension %s = %v; want %q, %s", a.where, a.namespace, a.metric, dim, got, w, usedWhat[binding])
							}
						}
					}
				}
				for _, wa := range want {
					if n := found[wa.namespace+" "+wa.metric]; n != 1 {
						t.Errorf("%d alarms on %s %s in %s's stacks; want 1", n, wa.namespace, wa.metric, w.Name)
					}
				}
			})
		}
	})
}

// usedWhat says what each binding of wantAlarms is, in messages.
var usedWhat = map[string]string{
	"GetAtt EventsQueue.QueueName":     "the queue the worker reads (COPILOT_QUEUE_URI)",
	"GetAtt DeadLetterQueue.QueueName": "the dead-letter target of the queue the worker reads",
	"Ref WorkloadName":                 "the service's name",
	envBinding:                         "the environment the service's metrics carry (" + copilot.EnvEnvironment + ")",
	tgBinding:                          "the target group the ECS service registers with",
	lbBinding:                          "the load balancer forwarding to that target group",
}

// usedBy resolves, for each binding of wantAlarms, the value it must have in workload w: what
// the service uses, read from its own task definition, queue and ECS service.
func usedBy(t *testing.T, w *cfn.Workload) map[string]string {
	t.Helper()
	s := w.Stack()
	env, err := w.Env()
	if err != nil {
		t.Fatal(err)
	}
	resolve := func(v any) string {
		t.Helper()
		got, err := s.Resolve(v)
		if err != nil {
			t.Fatalf("%s: %v: %v", w.File, v, err)
		}
		return fmt.Sprint(got)
	}
	out := map[string]string{"Ref WorkloadName": w.Name, envBinding: env[copilot.EnvEnvironment]}
	if out[envBinding] == "" {
		t.Errorf("%s: no %s in the %s container", w.File, copilot.EnvEnvironment, w.Name)
	}
	if u := env["COPILOT_QUEUE_URI"]; u != "" {
		parsed, err := url.Parse(u)
		if err != nil {
			t.Fatalf("%s: COPILOT_QUEUE_URI %q: %v", w.File, u, err)
		}
		out["GetAtt EventsQueue.QueueName"] = path.Base(parsed.Path)
		vars, _ := w.Vars()
		if q, ok := cfn.Ref(vars["COPILOT_QUEUE_URI"]); ok {
			redrive, _ := s.Template.Resources[q].Properties["RedrivePolicy"].(map[string]any)
			arn := resolve(redrive["deadLetterTargetArn"])
			out["GetAtt DeadLetterQueue.QueueName"] = arn[strings.LastIndex(arn, ":")+1:]
		}
	}
	for _, id := range s.Template.OfType("AWS::ECS::Service") {
		lbs, _ := s.Template.Resources[id].Properties["LoadBalancers"].([]any)
		if len(lbs) == 0 {
			continue
		}
		if len(lbs) != 1 {
			t.Fatalf("%s: ECS service %s registers with %d target groups; want 1", w.File, id, len(lbs))
		}
		m, _ := lbs[0].(map[string]any)
		tg, ok := cfn.Ref(m["TargetGroupArn"])
		if !ok {
			t.Fatalf("%s: ECS service %s: TargetGroupArn %v; want Ref of a target group of the stack", w.File, id, m["TargetGroupArn"])
		}
		out[tgBinding] = resolve(map[string]any{"Fn::GetAtt": []any{tg, "TargetGroupFullName"}})
		out[lbBinding] = loadBalancerOf(t, w, tg)
	}
	return out
}

// loadBalancerOf is the full name of the load balancer forwarding to target group tg: the one
// of the listener of w's stack whose default action is tg (the CDK app's), or, where the
// listener is the environment's (Copilot's), the environment's public load balancer as
// Copilot's environment controller returns it to the stack (PublicLoadBalancerFullName, the
// name Copilot's own request-count scaling policy gives it).
func loadBalancerOf(t *testing.T, w *cfn.Workload, tg string) string {
	t.Helper()
	s := w.Stack()
	var out []string
	for _, id := range s.Template.OfType("AWS::ElasticLoadBalancingV2::Listener") {
		props := s.Template.Resources[id].Properties
		actions, _ := props["DefaultActions"].([]any)
		for _, a := range actions {
			m, _ := a.(map[string]any)
			if ref, ok := cfn.Ref(m["TargetGroupArn"]); ok && ref == tg {
				lb, ok := cfn.Ref(props["LoadBalancerArn"])
				if !ok {
					t.Fatalf("%s: listener %s: LoadBalancerArn %v; want Ref of a load balancer of the stack", w.File, id, props["LoadBalancerArn"])
				}
				v, _ := s.Attr(lb, "LoadBalancerFullName")
				out = append(out, fmt.Sprint(v))
			}
		}
	}
	if len(out) == 0 {
		for _, id := range s.Template.OfType("Custom::EnvControllerFunction") {
			v, _ := s.Attr(id, "PublicLoadBalancerFullName")
			out = append(out, fmt.Sprint(v))
		}
	}
	if len(out) != 1 {
		t.Fatalf("%s: load balancers forwarding to %s: %q; want one", w.File, tg, out)
	}
	return out[0]
}

// scales reports whether alarm a only drives scaling policies (the CDK app's step scaling on
// the backlog), which tell nobody: not an alarm of wantAlarms.
func scales(s *cfn.Stack, a alarm) bool {
	actions, _ := a.props["AlarmActions"].([]any)
	for _, act := range actions {
		if ref, ok := cfn.Ref(act); !ok || s.Template.Resources[ref].Type != "AWS::ApplicationAutoScaling::ScalingPolicy" {
			return false
		}
	}
	return len(actions) > 0
}
