package topology

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/pubsub-app/pubsub/internal/copilot"
)

// Clients are the AWS clients provisioning uses.
type Clients struct {
	SNS      *sns.Client
	SQS      *sqs.Client
	DynamoDB *dynamodb.Client
}

// NewClients builds the three clients from one configuration.
func NewClients(cfg aws.Config) Clients {
	return Clients{SNS: sns.NewFromConfig(cfg), SQS: sqs.NewFromConfig(cfg), DynamoDB: dynamodb.NewFromConfig(cfg)}
}

// Deployment is what Provision created, named as Copilot names it.
type Deployment struct {
	App, Env string
	// Topics maps "service:topic" to the topic's ARN.
	Topics   map[string]string
	Services map[string]*Deployed
}

// Deployed is one service's resources and its variables: those Copilot would
// inject (Deployment.Injected), then the manifest's.
type Deployed struct {
	QueueURL, DLQURL string
	Tables           map[string]string // logical id → table name
	Env              map[string]string
}

// Environ returns the service's variables as KEY=VALUE, sorted.
func (d *Deployed) Environ() []string {
	out := make([]string, 0, len(d.Env))
	for k, v := range d.Env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Provision creates, for environment env, every topic, queue, dead-letter
// queue, subscription (with its filter policy) and table the topology
// declares. It is idempotent: running it again finds what exists.
func Provision(ctx context.Context, c Clients, t *Topology, env string) (*Deployment, error) {
	d := &Deployment{App: t.App, Env: env, Topics: map[string]string{}, Services: map[string]*Deployed{}}
	for _, s := range t.Services {
		dep := &Deployed{Tables: map[string]string{}}
		d.Services[s.Name] = dep
		for _, topic := range s.Publishes {
			out, err := c.SNS.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(copilot.TopicName(t.App, env, s.Name, topic))})
			if err != nil {
				return nil, fmt.Errorf("create topic %s of %s: %w", topic, s.Name, err)
			}
			d.Topics[s.Name+":"+topic] = aws.ToString(out.TopicArn)
		}
		for _, tbl := range s.Tables {
			name := tbl.TableName(t.App, env, s.Name)
			if err := createTable(ctx, c.DynamoDB, name, tbl); err != nil {
				return nil, err
			}
			dep.Tables[tbl.LogicalID] = name
		}
	}
	// Queues after topics, so every subscription finds its topic.
	for _, s := range t.Services {
		if s.Type != TypeWorker {
			continue
		}
		if err := provisionQueue(ctx, c, t, env, s, d); err != nil {
			return nil, err
		}
	}
	for _, s := range t.Services {
		d.Services[s.Name].Env = d.Injected(s)
		maps.Copy(d.Services[s.Name].Env, s.VariablesIn(t.App, env))
		// The manifest points it at the collector Copilot runs beside the
		// service (observability.tracing), which nothing runs here: spans
		// would only pile up for a collector that is not there. A
		// collector of one's own is named in one's own environment.
		delete(d.Services[s.Name].Env, SidecarOTLPVariable)
	}
	return d, nil
}

// SidecarOTLPVariable is the variable the manifests set to the OTLP receiver
// of the tracing sidecar (observability.tracing: awsxray), and which the
// services started here do not get.
const SidecarOTLPVariable = "OTEL_EXPORTER_OTLP_ENDPOINT"

// Injected returns the variables Copilot injects into service s's container
// for what d holds of it: its topics, its queue and its tables.
func (d *Deployment) Injected(s *Service) map[string]string {
	dep := d.Services[s.Name]
	w := copilot.Workload{App: d.App, Env: d.Env, Name: s.Name, QueueURL: dep.QueueURL, AddonOutputs: map[string]string{}}
	for _, topic := range s.Publishes {
		if w.TopicARNs == nil {
			w.TopicARNs = copilot.TopicARNs{}
		}
		w.TopicARNs[topic] = d.Topics[s.Name+":"+topic]
	}
	for _, tbl := range s.Tables {
		w.AddonOutputs[tbl.Output] = dep.Tables[tbl.LogicalID]
	}
	return copilot.Injected(w)
}

func provisionQueue(ctx context.Context, c Clients, t *Topology, env string, s *Service, d *Deployment) error {
	dep := d.Services[s.Name]
	prefix := fmt.Sprintf("%s-%s-%s-", t.App, env, s.Name)
	attrs := map[string]string{
		"DelaySeconds":           seconds(s.Queue.Delay),
		"MessageRetentionPeriod": seconds(s.Queue.Retention),
		"VisibilityTimeout":      seconds(s.Queue.Timeout),
	}
	if s.Queue.DeadLetterTries > 0 {
		url, arn, err := createQueue(ctx, c.SQS, prefix+"DeadLetterQueue", map[string]string{"MessageRetentionPeriod": seconds(14 * 24 * time.Hour)})
		if err != nil {
			return err
		}
		dep.DLQURL = url
		redrive, _ := json.Marshal(map[string]string{"deadLetterTargetArn": arn, "maxReceiveCount": strconv.Itoa(s.Queue.DeadLetterTries)})
		attrs["RedrivePolicy"] = string(redrive)
	}
	url, arn, err := createQueue(ctx, c.SQS, prefix+"EventsQueue", attrs)
	if err != nil {
		return err
	}
	dep.QueueURL = url

	var topicARNs []string
	for _, sub := range s.Subscribes {
		topicARN := d.Topics[sub.Service+":"+sub.Topic]
		topicARNs = append(topicARNs, topicARN)
		in := &sns.SubscribeInput{
			TopicArn:              aws.String(topicARN),
			Protocol:              aws.String("sqs"),
			Endpoint:              aws.String(arn),
			ReturnSubscriptionArn: true,
		}
		if sub.FilterPolicy != "" {
			in.Attributes = map[string]string{"FilterPolicy": sub.FilterPolicy}
		}
		if _, err := c.SNS.Subscribe(ctx, in); err != nil {
			return fmt.Errorf("subscribe %s to %s:%s: %w", s.Name, sub.Service, sub.Topic, err)
		}
	}
	// As Copilot does, let only the subscribed topics send to the queue.
	policy, _ := json.Marshal(map[string]any{
		"Version": "2012-10-17",
		"Statement": []map[string]any{{
			"Effect":    "Allow",
			"Principal": map[string]string{"Service": "sns.amazonaws.com"},
			"Action":    "sqs:SendMessage",
			"Resource":  arn,
			"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": topicARNs}},
		}},
	})
	if _, err := c.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(url),
		Attributes: map[string]string{"Policy": string(policy)},
	}); err != nil {
		return fmt.Errorf("set policy of %s: %w", url, err)
	}
	return nil
}

func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

func createQueue(ctx context.Context, c *sqs.Client, name string, attrs map[string]string) (url, arn string, err error) {
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return "", "", fmt.Errorf("create queue %s: %w", name, err)
	}
	url = aws.ToString(out.QueueUrl)
	got, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("read arn of queue %s: %w", name, err)
	}
	return url, got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)], nil
}

func createTable(ctx context.Context, c *dynamodb.Client, name string, t Table) error {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		KeySchema:   []ddbtypes.KeySchemaElement{{AttributeName: aws.String(t.PartitionKey), KeyType: ddbtypes.KeyTypeHash}},
	}
	for _, a := range slices.Sorted(maps.Keys(t.Attributes)) {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{AttributeName: aws.String(a), AttributeType: ddbtypes.ScalarAttributeType(t.Attributes[a])})
	}
	for _, ix := range t.Indexes {
		g := ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(ix.Name),
			KeySchema:  []ddbtypes.KeySchemaElement{{AttributeName: aws.String(ix.PartitionKey), KeyType: ddbtypes.KeyTypeHash}},
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(ix.Projection)},
		}
		if ix.SortKey != "" {
			g.KeySchema = append(g.KeySchema, ddbtypes.KeySchemaElement{AttributeName: aws.String(ix.SortKey), KeyType: ddbtypes.KeyTypeRange})
		}
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, g)
	}
	_, err := c.CreateTable(ctx, in)
	var inUse *ddbtypes.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("create table %s: %w", name, err)
	}
	w := dynamodb.NewTableExistsWaiter(c, func(o *dynamodb.TableExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", name, err)
	}
	return nil
}
