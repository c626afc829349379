package main

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecrassets"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecspatterns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/jsii-runtime-go"

	"github.com/pubsub-app/pubsub/internal/copilot"
	"github.com/pubsub-app/pubsub/internal/devstack/topology"
)

// config is what the user chooses (CDK context, docs/cdk.md); everything else comes from copilot/.
type config struct {
	App, Env string
	// TablesEnv is the environment whose tables the deployment uses: Env, or, while moving a
	// Copilot environment over, that environment's name (its tables keep their names).
	TablesEnv string
	// WAF turns the rate limit on or off (default: the environment addon's Enable).
	WAF bool
	// AlarmEmail, when set, is given to every alarms addon; else their parameter keeps its default.
	AlarmEmail string
	// The tables' settings, when set; else the table addons' defaults.
	DeletionProtection, PointInTimeRecovery string
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,19}$`)

func (c config) validate() error {
	for k, v := range map[string]string{"app": c.App, "env": c.Env, "tablesEnv": c.TablesEnv} {
		if !namePattern.MatchString(v) {
			return fmt.Errorf("context %s=%q: want lower-case letters, digits and '-', at most 20, starting with a letter", k, v)
		}
	}
	for k, v := range map[string]string{"deletionProtection": c.DeletionProtection, "pointInTimeRecovery": c.PointInTimeRecovery} {
		if v != "" && v != "true" && v != "false" {
			return fmt.Errorf("context %s=%q: want true or false", k, v)
		}
	}
	return nil
}

// name is <app>-<env>-<part>, as Copilot names its stacks and resources.
func (c config) name(part string) string { return c.App + "-" + c.Env + "-" + part }

// Copilot's fixed values, from its rendered stacks (make render): a dead-letter queue keeps
// messages 14 days; the target group's deregistration delay is 60s; autoscaling waits 60s after
// scaling out and 120s after scaling in; the log group keeps 30 days. And its tracing sidecar:
// the collector's name, its configuration (the X-Ray pipeline in the image), and the one call
// that configuration makes (copilot/<svc>/overrides/cfn.patches.yml keeps only it).
const (
	dlqRetention        = 14 * 24 * time.Hour
	deregistrationDelay = 60 * time.Second
	scaleOutCooldown    = 60 * time.Second
	scaleInCooldown     = 120 * time.Second
	collectorName       = "aws-otel-collector"
	collectorConfig     = "--config=/etc/ecs/ecs-xray.yaml"
	collectorAction     = "xray:PutTraceSegments"
	logRetention        = awslogs.RetentionDays_ONE_MONTH
	tracingAWSXRay      = "awsxray"
	platformLinuxX86_64 = "linux/x86_64"
)

// build adds the stacks to app.
func build(app awscdk.App, ws *workspace, cfg config) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	data, tables, err := dataStack(app, ws, cfg)
	if err != nil {
		return err
	}

	// The environment: what Copilot's environment stack holds for these services.
	env := awscdk.NewStack(app, jsii.String(cfg.name("env")), &awscdk.StackProps{
		Description: jsii.String(fmt.Sprintf("%s %s: the network and the ECS cluster (deploy/cdk, the CDK counterpart of Copilot's environment)", cfg.App, cfg.Env)),
	})
	// Copilot's default environment (--default-config): a VPC over two availability zones,
	// the tasks in its public subnets with public addresses, so no NAT gateway. Copilot adds
	// private subnets nothing here uses; this VPC has none.
	vpc := awsec2.NewVpc(env, jsii.String("Vpc"), &awsec2.VpcProps{
		IpAddresses: awsec2.IpAddresses_Cidr(jsii.String("10.0.0.0/16")),
		MaxAzs:      jsii.Number(2),
		NatGateways: jsii.Number(0),
		SubnetConfiguration: &[]*awsec2.SubnetConfiguration{
			{Name: jsii.String("Public"), SubnetType: awsec2.SubnetType_PUBLIC, CidrMask: jsii.Number(24)},
		},
	})
	// Container Insights off, as copilot/environments/test/manifest.yml has it.
	cluster := awsecs.NewCluster(env, jsii.String("Cluster"), &awsecs.ClusterProps{
		Vpc:                 vpc,
		ContainerInsightsV2: awsecs.ContainerInsights_DISABLED,
	})

	// The publishers first: the workers subscribe to their topics.
	topics := map[string]awssns.ITopic{} // "<service>:<topic>"
	names := slices.Sorted(maps.Keys(ws.Services))
	slices.SortStableFunc(names, func(a, b string) int {
		return cmp.Compare(len(ws.Services[b].Publishes), len(ws.Services[a].Publishes))
	})
	for _, name := range names {
		svc := ws.Services[name]
		stack := awscdk.NewStack(app, jsii.String(cfg.name(name)), &awscdk.StackProps{
			Description: jsii.String(fmt.Sprintf("%s %s: the %s service (deploy/cdk, from copilot/%s)", cfg.App, cfg.Env, name, name)),
		})
		// The tables are named, not referenced, so that the data stack stays free of exports
		// (it can then be made by importing a Copilot deployment's tables); the dependency
		// only orders a deploy.
		stack.AddStackDependency(data, jsii.String("its tables"))
		s := &serviceStack{stack: stack, svc: svc, ws: ws, cfg: cfg, cluster: cluster, tables: tables}
		switch svc.Type {
		case topology.TypeLoadBalancedWeb:
			err = s.loadBalanced(topics)
		case topology.TypeWorker:
			err = s.worker(topics)
		default:
			err = fmt.Errorf("service type %q", svc.Type)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// dataStack adds the stack of the tables, each table the properties its addon declares, kept
// (DeletionPolicy and UpdateReplacePolicy Retain) when the stack lets go of it. It returns the
// stack and the tables' names by service and variable (FULFILMENTS_TABLE_NAME, ...).
func dataStack(app awscdk.App, ws *workspace, cfg config) (awscdk.Stack, map[string]map[string]string, error) {
	data := awscdk.NewStack(app, jsii.String(cfg.name("data")), &awscdk.StackProps{
		Description: jsii.String(fmt.Sprintf("%s %s: the DynamoDB tables %s-%s-* (deploy/cdk, from copilot/*/addons), retained when removed", cfg.App, cfg.Env, cfg.App, cfg.TablesEnv)),
	})
	values := map[string]string{"App": cfg.App, "Env": cfg.TablesEnv}
	if cfg.DeletionProtection != "" {
		values["DeletionProtection"] = cfg.DeletionProtection
	}
	if cfg.PointInTimeRecovery != "" {
		values["PointInTimeRecovery"] = cfg.PointInTimeRecovery
	}
	tables := map[string]map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(ws.Services)) {
		svc := ws.Services[name]
		tables[name] = map[string]string{}
		values["Name"] = name
		for _, a := range svc.Addons {
			r, err := newResolver(a, values)
			if err != nil {
				return nil, nil, err
			}
			for _, id := range a.Tables {
				props, err := r.tableProperties(a, id)
				if err != nil {
					return nil, nil, err
				}
				t := awscdk.NewCfnResource(data, jsii.String(id), &awscdk.CfnResourceProps{
					Type:       jsii.String("AWS::DynamoDB::Table"),
					Properties: &props,
				})
				t.OverrideLogicalId(jsii.String(id))
				t.ApplyRemovalPolicy(awscdk.RemovalPolicy_RETAIN, nil)
				// The name topology reads for the variable is the one deployed.
				for _, tt := range svc.Tables {
					if tt.LogicalID == id {
						if got := tt.TableName(cfg.App, cfg.TablesEnv, name); got != r.tables[id] {
							return nil, nil, fmt.Errorf("%s: table %s named %q; topology reads %q", a.File, id, r.tables[id], got)
						}
						tables[name][tt.EnvVar] = r.tables[id]
					}
				}
			}
		}
		if len(tables[name]) != len(svc.Tables) {
			return nil, nil, fmt.Errorf("%s: %d tables deployed, %d declared", name, len(tables[name]), len(svc.Tables))
		}
	}
	return data, tables, nil
}

// serviceStack is one service's stack being built.
type serviceStack struct {
	stack   awscdk.Stack
	svc     *service
	ws      *workspace
	cfg     config
	cluster awsecs.ICluster
	tables  map[string]map[string]string
	role    awsiam.Role
	logs    awslogs.LogGroup
}

// loadBalanced builds a Load Balanced Web Service: its topics, its task behind a public
// load balancer (with the rate limit), its autoscaling and its alarms.
func (s *serviceStack) loadBalanced(topics map[string]awssns.ITopic) error {
	inline := map[string]awsiam.PolicyDocument{}
	arns := map[string]any{}
	var topicARNs []*string
	for _, t := range s.svc.Publishes {
		// Named as Copilot names it: the workers accept notifications from this name only
		// (workerconf.TopicARN). Encrypted with the AWS managed key, as Copilot's.
		topic := awssns.NewTopic(s.stack, jsii.String(t), &awssns.TopicProps{
			TopicName: jsii.String(copilot.TopicName(s.cfg.App, s.cfg.Env, s.svc.Name, t)),
		})
		topic.Node().DefaultChild().(awssns.CfnTopic).SetKmsMasterKeyId(jsii.String("alias/aws/sns"))
		topics[s.svc.Name+":"+t] = topic
		arns[t] = topic.TopicArn()
		topicARNs = append(topicARNs, topic.TopicArn())
	}
	if len(topicARNs) > 0 {
		inline["Publish2SNS"] = awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings("sns:Publish"), Resources: &topicARNs}),
		}})
	}
	env := s.variables()
	if len(arns) > 0 {
		env[copilot.EnvSNSTopicARNs] = s.stack.ToJsonString(arns, nil)
	}
	// The environment is the env dimension of every metric (cmd/internal/telemetry); the
	// alarms watch that series.
	env[copilot.EnvEnvironment] = jsii.String(s.cfg.Env)

	if err := s.newRole(inline); err != nil {
		return err
	}
	td, err := s.taskDefinition(env)
	if err != nil {
		return err
	}
	st := s.svc.Settings
	hc := st.HTTP.HealthCheck
	interval, err1 := duration(hc.Interval, 10*time.Second)
	timeout, err2 := duration(hc.Timeout, 5*time.Second)
	grace, err3 := duration(hc.GracePeriod, 60*time.Second)
	if err := errors.Join(err1, err2, err3); err != nil {
		return fmt.Errorf("http.healthcheck: %w", err)
	}
	if st.HTTP.Path != "/" {
		return fmt.Errorf("http.path %q: the load balancer here sends every path to the service", st.HTTP.Path)
	}
	lb := awsecspatterns.NewApplicationLoadBalancedFargateService(s.stack, jsii.String("Service"), &awsecspatterns.ApplicationLoadBalancedFargateServiceProps{
		Cluster:                s.cluster,
		TaskDefinition:         td,
		PublicLoadBalancer:     jsii.Bool(true),
		ListenerPort:           jsii.Number(80),
		AssignPublicIp:         jsii.Bool(true),
		TaskSubnets:            &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		HealthCheckGracePeriod: awscdk.Duration_Seconds(jsii.Number(grace.Seconds())),
		CircuitBreaker:         &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		MinHealthyPercent:      jsii.Number(100),
		MaxHealthyPercent:      jsii.Number(200),
		PlatformVersion:        awsecs.FargatePlatformVersion_LATEST,
		PropagateTags:          awsecs.PropagatedTagSource_SERVICE,
	})
	lb.TargetGroup().ConfigureHealthCheck(&awselasticloadbalancingv2.HealthCheck{
		Path:                    jsii.String(hc.Path),
		HealthyHttpCodes:        jsii.String(hc.SuccessCodes),
		HealthyThresholdCount:   jsii.Number(hc.HealthyThreshold),
		UnhealthyThresholdCount: jsii.Number(hc.UnhealthyThreshold),
		Interval:                awscdk.Duration_Seconds(jsii.Number(interval.Seconds())),
		Timeout:                 awscdk.Duration_Seconds(jsii.Number(timeout.Seconds())),
	})
	lb.TargetGroup().SetAttribute(jsii.String("deregistration_delay.timeout_seconds"), jsii.String(strconv.Itoa(int(deregistrationDelay.Seconds()))))

	lo, hi, err := st.countRange()
	if err != nil {
		return err
	}
	scaling := lb.Service().AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{MinCapacity: jsii.Number(lo), MaxCapacity: jsii.Number(hi)})
	if st.Count.CPUPercentage > 0 {
		scaling.ScaleOnCpuUtilization(jsii.String("Cpu"), &awsecs.CpuUtilizationScalingProps{
			TargetUtilizationPercent: jsii.Number(st.Count.CPUPercentage),
			ScaleOutCooldown:         awscdk.Duration_Seconds(jsii.Number(scaleOutCooldown.Seconds())),
			ScaleInCooldown:          awscdk.Duration_Seconds(jsii.Number(scaleInCooldown.Seconds())),
		})
	}
	if st.Count.Requests > 0 {
		scaling.ScaleOnRequestCount(jsii.String("Requests"), &awsecs.RequestCountScalingProps{
			RequestsPerTarget: jsii.Number(st.Count.Requests),
			TargetGroup:       lb.TargetGroup(),
			ScaleOutCooldown:  awscdk.Duration_Seconds(jsii.Number(scaleOutCooldown.Seconds())),
			ScaleInCooldown:   awscdk.Duration_Seconds(jsii.Number(scaleInCooldown.Seconds())),
		})
	}

	refs := copilotRefs{
		values: map[string]*string{
			"TargetGroup.TargetGroupFullName":                lb.TargetGroup().TargetGroupFullName(),
			"EnvControllerAction.PublicLoadBalancerFullName": lb.LoadBalancer().LoadBalancerFullName(),
			"PublicLoadBalancer":                             lb.LoadBalancer().LoadBalancerArn(),
		},
		// Copilot's environment has a load balancer once a Load Balanced Web Service exists.
		conditions: map[string]bool{"CreateALB": true},
	}
	if err := s.includeAddons(refs); err != nil {
		return err
	}
	return s.rateLimit(refs)
}

// rateLimit includes the environment's WAF addon on this service's load balancer (Copilot
// puts the load balancer in the environment; here it belongs to the one service behind it).
func (s *serviceStack) rateLimit(refs copilotRefs) error {
	if !s.cfg.WAF {
		return nil
	}
	a := &addon{File: s.ws.WAFTemplate}
	var err error
	if a.Template, err = loadTemplate(a.File); err != nil {
		return err
	}
	params := maps.Clone(s.ws.WAFParams)
	params["Enable"] = "true"
	waf, err := include(s.stack, "RateLimit", a, params, refs, map[string]any{"App": s.cfg.App, "Env": s.cfg.Env})
	if err != nil {
		return err
	}
	// CreateWebACL is "Enable is true and the environment has a load balancer": both hold
	// here, and a condition may not refer to a resource (the load balancer is one here), so
	// the resources drop it.
	cond := "CreateWebACL"
	for id, r := range a.Template.Resources {
		if r.Condition != cond {
			return fmt.Errorf("%s: %s is under condition %q; the CDK app knows only %s", a.File, id, r.Condition, cond)
		}
		waf.GetResource(jsii.String(id)).CfnOptions().SetCondition(nil)
	}
	for id := range a.Template.Outputs {
		waf.GetOutput(jsii.String(id)).SetCondition(nil)
	}
	c := waf.GetCondition(jsii.String(cond)).Node()
	if !*c.Scope().Node().TryRemoveChild(c.Id()) {
		return fmt.Errorf("%s: no condition %s to remove", a.File, cond)
	}
	return nil
}

// worker builds a Worker Service: its queue with its dead-letter queue, its subscriptions,
// its task, its autoscaling on the queue's backlog and its alarms.
func (s *serviceStack) worker(topics map[string]awssns.ITopic) error {
	q := s.svc.Queue
	if q.DeadLetterTries == 0 {
		return fmt.Errorf("subscribe.queue.dead_letter.tries: want one; a message that can never succeed must reach a dead-letter queue")
	}
	// Named as the dev tool names them on the emulator (and like Copilot's, less its random
	// suffix), so make dlq-show finds them. SQS-managed encryption (SSE-SQS) where Copilot makes
	// a KMS key per worker: encrypted at rest all the same, and the task role needs no key grant.
	dlq := awssqs.NewQueue(s.stack, jsii.String("DeadLetterQueue"), &awssqs.QueueProps{
		QueueName:       jsii.String(s.cfg.name(s.svc.Name) + "-DeadLetterQueue"),
		RetentionPeriod: awscdk.Duration_Seconds(jsii.Number(dlqRetention.Seconds())),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
	})
	queue := awssqs.NewQueue(s.stack, jsii.String("EventsQueue"), &awssqs.QueueProps{
		QueueName:         jsii.String(s.cfg.name(s.svc.Name) + "-EventsQueue"),
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(q.Timeout.Seconds())),
		RetentionPeriod:   awscdk.Duration_Seconds(jsii.Number(q.Retention.Seconds())),
		DeliveryDelay:     awscdk.Duration_Seconds(jsii.Number(q.Delay.Seconds())),
		DeadLetterQueue:   &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: jsii.Number(q.DeadLetterTries)},
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
	})
	for _, sub := range s.svc.Subscribes {
		topic := topics[sub.Service+":"+sub.Topic]
		if topic == nil {
			return fmt.Errorf("subscribes to %s:%s, which no service here publishes", sub.Service, sub.Topic)
		}
		// The envelope, not the raw message: the workers unwrap Message, as under Copilot.
		subscription := topic.AddSubscription(awssnssubscriptions.NewSqsSubscription(queue, &awssnssubscriptions.SqsSubscriptionProps{
			RawMessageDelivery: jsii.Bool(false),
		}))
		if sub.FilterPolicy != "" {
			// The manifest's filter_policy, as written (loadWorkspace checked its threshold).
			cfnSub := subscription.Node().DefaultChild().(awssns.CfnSubscription)
			cfnSub.SetFilterPolicy(jsonValue(sub.FilterPolicy))
		}
	}

	// What internal/worker calls on its queue: ReceiveMessage, DeleteMessageBatch (authorised
	// by sqs:DeleteMessage), ChangeMessageVisibility and its batch (heartbeat, back-off,
	// hand-back). Nothing on the dead-letter queue: people read it (make dlq-show).
	inline := map[string]awsiam.PolicyDocument{
		"ConsumeQueue": awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
				Actions:   jsii.Strings("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility"),
				Resources: jsii.Strings(*queue.QueueArn()),
			}),
		}}),
	}
	if err := s.newRole(inline); err != nil {
		return err
	}
	env := s.variables()
	env[copilot.EnvQueueURI] = queue.QueueUrl()
	// The worker accepts notifications only from the topic Copilot's naming gives these two
	// (workerconf.TopicARN); the environment is also its metrics' env dimension.
	env[copilot.EnvApplication] = jsii.String(s.cfg.App)
	env[copilot.EnvEnvironment] = jsii.String(s.cfg.Env)
	td, err := s.taskDefinition(env)
	if err != nil {
		return err
	}
	svc := awsecs.NewFargateService(s.stack, jsii.String("Service"), &awsecs.FargateServiceProps{
		Cluster:           s.cluster,
		TaskDefinition:    td,
		AssignPublicIp:    jsii.Bool(true),
		VpcSubnets:        &awsec2.SubnetSelection{SubnetType: awsec2.SubnetType_PUBLIC},
		CircuitBreaker:    &awsecs.DeploymentCircuitBreaker{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
		MinHealthyPercent: jsii.Number(100),
		MaxHealthyPercent: jsii.Number(200),
		PlatformVersion:   awsecs.FargatePlatformVersion_LATEST,
		PropagateTags:     awsecs.PropagatedTagSource_SERVICE,
	})
	if err := s.backlogScaling(svc, queue); err != nil {
		return err
	}
	return s.includeAddons(copilotRefs{values: map[string]*string{
		"TaskRole":                  s.role.RoleName(),
		"EventsQueue.QueueName":     queue.QueueName(),
		"DeadLetterQueue.QueueName": dlq.QueueName(),
	}})
}

// backlogScaling keeps the manifest's queue_delay intent: each task has at most
// acceptable_latency / msg_processing_time messages waiting (40), within count.range. Copilot
// computes backlog per task with a Lambda function every minute and tracks it; here one step
// policy sets the exact task count for the queue's visible messages (40 or fewer: the minimum,
// up to 80: 2, ...), with no function to run.
func (s *serviceStack) backlogScaling(svc awsecs.FargateService, queue awssqs.Queue) error {
	lo, hi, err := s.svc.Settings.countRange()
	if err != nil {
		return err
	}
	per, err := s.svc.Settings.backlogPerTask()
	if err != nil {
		return err
	}
	if lo < 1 {
		return fmt.Errorf("count.range %q: a worker here keeps at least one task", s.svc.Settings.Count.Range)
	}
	var steps []*awsapplicationautoscaling.ScalingInterval
	for n := lo; n <= hi; n++ {
		st := &awsapplicationautoscaling.ScalingInterval{Change: jsii.Number(n)}
		if n > lo {
			st.Lower = jsii.Number((n - 1) * per)
		}
		if n < hi {
			st.Upper = jsii.Number(n * per)
		}
		steps = append(steps, st)
	}
	scaling := svc.AutoScaleTaskCount(&awsapplicationautoscaling.EnableScalingProps{MinCapacity: jsii.Number(lo), MaxCapacity: jsii.Number(hi)})
	scaling.ScaleOnMetric(jsii.String("Backlog"), &awsapplicationautoscaling.BasicStepScalingPolicyProps{
		Metric: queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period:    awscdk.Duration_Minutes(jsii.Number(1)),
			Statistic: jsii.String("Maximum"),
		}),
		ScalingSteps:   &steps,
		AdjustmentType: awsapplicationautoscaling.AdjustmentType_EXACT_CAPACITY,
		Cooldown:       awscdk.Duration_Seconds(jsii.Number(scaleOutCooldown.Seconds())),
	})
	return nil
}

// variables are the manifest's variables, with each table variable (its own addon's, and a
// variable named like another service's, FULFILMENTS_TABLE_NAME) naming the table deployed.
func (s *serviceStack) variables() map[string]*string {
	env := map[string]*string{}
	for k, v := range s.svc.VariablesIn(s.cfg.App, s.cfg.Env) {
		env[k] = jsii.String(v)
	}
	for _, svcTables := range s.tables {
		for k, name := range svcTables {
			if _, ok := env[k]; ok {
				env[k] = jsii.String(name)
			}
		}
	}
	for k, name := range s.tables[s.svc.Name] {
		env[k] = jsii.String(name)
	}
	return env
}

// newRole makes the task role: Copilot's DenyIAM, the tracing sidecar's one action, the
// inline policies given, and the policies of the service's addons, on the tables by name.
func (s *serviceStack) newRole(inline map[string]awsiam.PolicyDocument) error {
	inline["DenyIAM"] = awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
		awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Effect: awsiam.Effect_DENY, Actions: jsii.Strings("iam:*"), Resources: jsii.Strings("*")}),
	}})
	if s.svc.Settings.Observability.Tracing == tracingAWSXRay {
		// PutTraceSegments has no resource type: "*" is the only resource it takes.
		inline["AWSDistroOpenTelemetryPolicy"] = awsiam.NewPolicyDocument(&awsiam.PolicyDocumentProps{Statements: &[]awsiam.PolicyStatement{
			awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{Actions: jsii.Strings(collectorAction), Resources: jsii.Strings("*")}),
		}})
	}
	docs := &map[string]awsiam.PolicyDocument{}
	maps.Copy(*docs, inline)
	s.role = awsiam.NewRole(s.stack, jsii.String("TaskRole"), &awsiam.RoleProps{
		AssumedBy:      awsiam.NewServicePrincipal(jsii.String("ecs-tasks.amazonaws.com"), nil),
		Description:    jsii.String(fmt.Sprintf("The %s task: only what its code calls", s.svc.Name)),
		InlinePolicies: docs,
	})
	values := map[string]string{"App": s.cfg.App, "Env": s.cfg.TablesEnv, "Name": s.svc.Name}
	for _, a := range s.svc.Addons {
		if len(a.Policies) == 0 {
			continue
		}
		r, err := newResolver(a, values)
		if err != nil {
			return err
		}
		for _, id := range a.Policies {
			statements, err := r.policyStatements(a, id)
			if err != nil {
				return err
			}
			// The addon's name or description, its type; the role is this task's.
			props := a.Template.Resources[id].Properties
			switch a.Template.Resources[id].Type {
			case "AWS::IAM::ManagedPolicy":
				p := &awsiam.ManagedPolicyProps{Statements: &statements, Roles: &[]awsiam.IRole{s.role}}
				if d, ok := props["Description"]; ok {
					text, err := r.text(d)
					if err != nil {
						return fmt.Errorf("%s: %s Description: %w", a.File, id, err)
					}
					p.Description = jsii.String(finish(text))
				}
				awsiam.NewManagedPolicy(s.stack, jsii.String(id), p)
			default:
				p := &awsiam.PolicyProps{Statements: &statements, Roles: &[]awsiam.IRole{s.role}}
				if n, ok := props["PolicyName"]; ok {
					text, err := r.text(n)
					if err != nil {
						return fmt.Errorf("%s: %s PolicyName: %w", a.File, id, err)
					}
					p.PolicyName = jsii.String(finish(text))
				}
				awsiam.NewPolicy(s.stack, jsii.String(id), p)
			}
		}
	}
	return nil
}

// taskDefinition makes the service's Fargate task: its container from the repository's
// Dockerfile with exactly env, the manifest's overrides (stop timeout, read-only root file
// system, the start order), and the tracing sidecar pinned as the manifest pins it.
func (s *serviceStack) taskDefinition(env map[string]*string) (awsecs.FargateTaskDefinition, error) {
	st := s.svc.Settings
	ov, err := st.overrides()
	if err != nil {
		return nil, err
	}
	if st.Platform != platformLinuxX86_64 {
		return nil, fmt.Errorf("platform %q: the CDK app builds %s only", st.Platform, platformLinuxX86_64)
	}
	s.logs = awslogs.NewLogGroup(s.stack, jsii.String("Logs"), &awslogs.LogGroupProps{
		LogGroupName:  jsii.String(fmt.Sprintf("/%s/%s/%s", s.cfg.App, s.cfg.Env, s.svc.Name)),
		Retention:     logRetention,
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY, // as Copilot's: the logs go with the service
	})
	td := awsecs.NewFargateTaskDefinition(s.stack, jsii.String("TaskDefinition"), &awsecs.FargateTaskDefinitionProps{
		Family:         jsii.String(s.cfg.name(s.svc.Name)),
		Cpu:            jsii.Number(st.CPU),
		MemoryLimitMiB: jsii.Number(st.Memory),
		TaskRole:       s.role,
		RuntimePlatform: &awsecs.RuntimePlatform{
			CpuArchitecture:       awsecs.CpuArchitecture_X86_64(),
			OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX(),
		},
	})
	logging := awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{LogGroup: s.logs, StreamPrefix: jsii.String(s.svc.Name)})
	opts := &awsecs.ContainerDefinitionOptions{
		// The image Copilot builds: the repository root as context (its .dockerignore keeps it to
		// what go build reads), the service's Dockerfile, for the manifest's platform.
		Image: awsecs.ContainerImage_FromAsset(jsii.String(s.ws.Root), &awsecs.AssetImageProps{
			File:     jsii.String(s.svc.Dockerfile),
			Platform: awsecrassets.Platform_LINUX_AMD64(),
		}),
		ContainerName:          jsii.String(s.svc.Name),
		Environment:            &env,
		Logging:                logging,
		Essential:              jsii.Bool(true),
		ReadonlyRootFilesystem: jsii.Bool(ov.ReadonlyRoot),
		StopTimeout:            awscdk.Duration_Seconds(jsii.Number(ov.StopTimeout.Seconds())),
	}
	if s.svc.Port > 0 {
		opts.PortMappings = &[]*awsecs.PortMapping{{ContainerPort: jsii.Number(s.svc.Port), Protocol: awsecs.Protocol_TCP}}
	}
	main := td.AddContainer(jsii.String(s.svc.Name), opts)
	containers := map[string]awsecs.ContainerDefinition{s.svc.Name: main}
	if st.Observability.Tracing == tracingAWSXRay {
		containers[collectorName] = td.AddContainer(jsii.String(collectorName), &awsecs.ContainerDefinitionOptions{
			Image:         awsecs.ContainerImage_FromRegistry(jsii.String(ov.CollectorImage), nil),
			ContainerName: jsii.String(collectorName),
			Command:       jsii.Strings(collectorConfig),
			Logging:       logging,
			Essential:     jsii.Bool(true),
		})
	} else if st.Observability.Tracing != "" {
		return nil, fmt.Errorf("observability.tracing %q: the CDK app knows %s only", st.Observability.Tracing, tracingAWSXRay)
	}
	for _, dep := range ov.DependsOn {
		c, ok := containers[dep.ContainerName]
		if !ok {
			return nil, fmt.Errorf("taskdef_overrides DependsOn %s: no such container", dep.ContainerName)
		}
		main.AddContainerDependencies(&awsecs.ContainerDependency{Container: c, Condition: awsecs.ContainerDependencyCondition(dep.Condition)})
	}
	return td, nil
}

// includeAddons includes the service's addons that are not split (the alarms), their
// parameters given as addons.parameters.yml gives them (refs), App, Env and Name as Copilot
// gives them, and AlarmEmail's default set when the user gave one.
func (s *serviceStack) includeAddons(refs copilotRefs) error {
	values := map[string]any{"App": s.cfg.App, "Env": s.cfg.Env, "Name": s.svc.Name}
	for _, a := range s.svc.Addons {
		if a.split() {
			continue
		}
		inc, err := include(s.stack, fileID(a.File), a, s.svc.AddonParams, refs, values)
		if err != nil {
			return err
		}
		// The address becomes the parameter's default, not a value substituted into the
		// template: its condition (HasAlarmEmail) stays one CloudFormation decides, and
		// `cdk deploy --parameters` can still change it.
		if _, ok := a.Template.Parameters["AlarmEmail"]; ok && s.cfg.AlarmEmail != "" {
			inc.GetParameter(jsii.String("AlarmEmail")).SetDefault(s.cfg.AlarmEmail)
		}
	}
	return nil
}
