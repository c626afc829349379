// Package copilot is what AWS Copilot names and injects, said once: the name
// it gives a service's SNS topic (and its ARN, in the partition, region and
// account a worker's queue URL shows), the variables it sets in every container
// (COPILOT_APPLICATION_NAME, COPILOT_SNS_TOPIC_ARNS, COPILOT_QUEUE_URI, ...),
// the JSON of COPILOT_SNS_TOPIC_ARNS, the rule that turns an addon's output
// into a variable (ordersTableName → ORDERS_TABLE_NAME), and the
// ${COPILOT_ENVIRONMENT_NAME} interpolation in a manifest's values.
//
// The binaries read their configuration with these names, the dev tool
// (internal/devstack/topology) provisions and injects with them, and
// test/deploy gives a binary the environment Copilot would. Copilot v1.34's
// behaviour, from its documentation and its rendered stacks.
package copilot

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"
)

// The variables Copilot injects into a service's container.
const (
	// Into every service.
	EnvApplication              = "COPILOT_APPLICATION_NAME"
	EnvEnvironment              = "COPILOT_ENVIRONMENT_NAME"
	EnvService                  = "COPILOT_SERVICE_NAME"
	EnvServiceDiscoveryEndpoint = "COPILOT_SERVICE_DISCOVERY_ENDPOINT" // <env>.<app>.local
	// Into a service behind a load balancer: its DNS name.
	EnvLoadBalancerDNS = "COPILOT_LB_DNS"
	// Into a service with publish.topics: a JSON object of topic name to ARN.
	EnvSNSTopicARNs = "COPILOT_SNS_TOPIC_ARNS"
	// Into a Worker Service: the URL of its default queue.
	EnvQueueURI = "COPILOT_QUEUE_URI"
	// Into a Worker Service whose subscriptions have queues of their own
	// (none here): a JSON object of "<svc><topic>EventsQueue" to URL.
	EnvTopicQueueURIs = "COPILOT_TOPIC_QUEUE_URIS"
)

// TopicName is the name Copilot gives topic of service svc in environment
// env of application app: <app>-<env>-<svc>-<topic>.
func TopicName(app, env, svc, topic string) string {
	return app + "-" + env + "-" + svc + "-" + topic
}

// Location is the partition, region and account an environment's resources
// live in.
type Location struct {
	Partition, Region, Account string
}

// TopicARN is the ARN of the topic Copilot creates for topic of service svc
// in environment env of application app, in this location:
// arn:<partition>:sns:<region>:<account>:<app>-<env>-<svc>-<topic>.
func (l Location) TopicARN(app, env, svc, topic string) string {
	return "arn:" + l.Partition + ":sns:" + l.Region + ":" + l.Account + ":" + TopicName(app, env, svc, topic)
}

var (
	regionPattern  = regexp.MustCompile(`^[a-z]{2,4}(-[a-z]+)+-[0-9]+$`)
	accountPattern = regexp.MustCompile(`^[0-9]{12}$`)
)

// QueueLocation reads where a Worker Service runs from the URL of its queue
// (COPILOT_QUEUE_URI): the account from the URL's path (/<account>/<name>)
// and the region from its host, in the forms SQS and the emulators use:
//
//	https://sqs.eu-west-1.amazonaws.com/123456789012/q          SQS (and .amazonaws.com.cn)
//	https://eu-west-1.queue.amazonaws.com/123456789012/q        SQS's legacy form (queue.amazonaws.com: us-east-1)
//	http://sqs.eu-west-1.localhost.localstack.cloud:4566/000000000000/q   LocalStack, standard
//	http://eu-west-1.queue.localhost.localstack.cloud:4566/000000000000/q LocalStack, domain
//	http://localhost.localstack.cloud:4566/queue/eu-west-1/000000000000/q LocalStack, path
//	http://127.0.0.1:5000/123456789012/q                        moto, LocalStack off: no region
//
// A host (or path) that carries no region takes region, the one the SDK
// was configured with (AWS_REGION): an emulator's queue is where the SDK
// created it. The partition follows from the region (cn-* is aws-cn,
// us-gov-* aws-us-gov, ...).
func QueueLocation(queueURL, region string) (Location, error) {
	u, err := url.Parse(queueURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Location{}, errors.New("want the URL of an SQS queue, such as https://sqs.eu-west-1.amazonaws.com/123456789012/name")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	var fromURL string
	switch {
	case len(parts) == 4 && parts[0] == "queue":
		fromURL, parts = parts[1], parts[2:]
	case len(parts) != 2:
		return Location{}, fmt.Errorf("path %q: want /<account>/<queue name>", u.Path)
	}
	account := parts[0]
	if !accountPattern.MatchString(account) || parts[1] == "" {
		return Location{}, fmt.Errorf("path %q: want /<account>/<queue name>, the account 12 digits", u.Path)
	}
	if fromURL == "" {
		labels := strings.Split(u.Hostname(), ".")
		switch {
		case len(labels) > 2 && (labels[0] == "sqs" || labels[0] == "sqs-fips"):
			fromURL = labels[1]
		case len(labels) > 2 && labels[1] == "queue":
			fromURL = labels[0]
		case len(labels) > 1 && labels[0] == "queue":
			fromURL = "us-east-1"
		}
	}
	switch {
	case fromURL != "" && !regionPattern.MatchString(fromURL):
		return Location{}, fmt.Errorf("region %q in the URL is not a region", fromURL)
	case fromURL != "":
		region = fromURL
	case region == "":
		return Location{}, fmt.Errorf("host %q does not name a region, and no region is configured (AWS_REGION)", u.Host)
	case !regionPattern.MatchString(region):
		return Location{}, fmt.Errorf("region %q (AWS_REGION) is not a region", region)
	}
	return Location{Partition: Partition(region), Region: region, Account: account}, nil
}

// Partition is the AWS partition of a region.
func Partition(region string) string {
	for _, p := range []struct{ prefix, partition string }{
		{"cn-", "aws-cn"},
		{"us-gov-", "aws-us-gov"},
		{"us-isob-", "aws-iso-b"},
		{"us-isof-", "aws-iso-f"},
		{"us-iso-", "aws-iso"},
		{"eu-isoe-", "aws-iso-e"},
		{"eusc-", "aws-eusc"},
	} {
		if strings.HasPrefix(region, p.prefix) {
			return p.partition
		}
	}
	return "aws"
}

// ServiceDiscoveryEndpoint is the private DNS namespace of an environment.
func ServiceDiscoveryEndpoint(app, env string) string {
	return env + "." + app + ".local"
}

var wordBoundary = regexp.MustCompile(`([a-z0-9])([A-Z])`)

// OutputVariable is the variable Copilot injects for an addon output (one
// that is not a managed policy): the name in upper snake case, so output
// ordersTableName becomes ORDERS_TABLE_NAME.
func OutputVariable(output string) string {
	s := wordBoundary.ReplaceAllString(output, "${1}_${2}")
	return strings.Map(func(r rune) rune {
		if r == '-' {
			return '_'
		}
		return unicode.ToUpper(r)
	}, s)
}

// TopicARNs is the value of COPILOT_SNS_TOPIC_ARNS: each topic of the
// service's publish.topics, by name, to its ARN.
type TopicARNs map[string]string

// ParseTopicARNs reads COPILOT_SNS_TOPIC_ARNS.
func ParseTopicARNs(s string) (TopicARNs, error) {
	var arns TopicARNs
	if err := json.Unmarshal([]byte(s), &arns); err != nil || arns == nil {
		return nil, errors.New(`want a JSON object of topic names to ARNs, such as {"ordersTopic":"arn:aws:sns:..."}`)
	}
	for name, arn := range arns {
		if arn == "" {
			return nil, fmt.Errorf("topic %q has no ARN", name)
		}
	}
	return arns, nil
}

// EnvDecode lets github.com/sethvargo/go-envconfig read the variable into a
// TopicARNs field.
func (t *TopicARNs) EnvDecode(s string) error {
	arns, err := ParseTopicARNs(s)
	if err != nil {
		return err
	}
	*t = arns
	return nil
}

// ARN returns the ARN of the named topic, or an error naming the variable
// and the topics it has.
func (t TopicARNs) ARN(topic string) (string, error) {
	if arn := t[topic]; arn != "" {
		return arn, nil
	}
	return "", fmt.Errorf("%s has no topic %q (it has %q): the manifest's publish.topics must declare it", EnvSNSTopicARNs, topic, slices.Sorted(maps.Keys(t)))
}

// String is the variable's value: the JSON object, keys sorted.
func (t TopicARNs) String() string {
	b, _ := json.Marshal(map[string]string(t))
	return string(b)
}

// Workload is what Copilot knows of one deployed service when it starts its
// containers.
type Workload struct {
	App, Env, Name string
	// LoadBalancerDNS is the DNS name of the load balancer in front of a
	// Load Balanced Web Service; "" for other services.
	LoadBalancerDNS string
	// TopicARNs are the service's publish.topics; nil when it publishes none.
	TopicARNs TopicARNs
	// QueueURL is a Worker Service's default queue; "" for other services.
	QueueURL string
	// AddonOutputs are the outputs of its addons stack, by output name, but
	// the managed policies (which Copilot attaches to the task role instead).
	AddonOutputs map[string]string
}

// Injected returns the variables Copilot sets in the workload's container,
// before the manifest's own variables.
func Injected(w Workload) map[string]string {
	env := map[string]string{
		EnvApplication:              w.App,
		EnvEnvironment:              w.Env,
		EnvService:                  w.Name,
		EnvServiceDiscoveryEndpoint: ServiceDiscoveryEndpoint(w.App, w.Env),
	}
	if w.LoadBalancerDNS != "" {
		env[EnvLoadBalancerDNS] = w.LoadBalancerDNS
	}
	if len(w.TopicARNs) > 0 {
		env[EnvSNSTopicARNs] = w.TopicARNs.String()
	}
	if w.QueueURL != "" {
		env[EnvQueueURI] = w.QueueURL
	}
	for output, value := range w.AddonOutputs {
		env[OutputVariable(output)] = value
	}
	return env
}

// interpolation is a ${NAME} in a manifest value, escaped by a leading
// backslash (\${NAME} stands for itself): Copilot's own pattern.
var interpolation = regexp.MustCompile(`(\\?)\$\{([_a-zA-Z][_a-zA-Z0-9]*)\}`)

// Interpolate expands a manifest value as Copilot does when it reads the
// manifest for a deploy: ${COPILOT_APPLICATION_NAME} and
// ${COPILOT_ENVIRONMENT_NAME} become app and env, and \${NAME} becomes
// ${NAME}. Any other ${NAME} Copilot would take from the shell that runs
// the deploy, so what is deployed would depend on whoever deploys it; that
// is an error here.
func Interpolate(s, app, env string) (string, error) {
	var err error
	out := interpolation.ReplaceAllStringFunc(s, func(m string) string {
		sub := interpolation.FindStringSubmatch(m)
		switch {
		case sub[1] == `\`:
			return m[1:]
		case sub[2] == EnvApplication:
			return app
		case sub[2] == EnvEnvironment:
			return env
		}
		if err == nil {
			err = fmt.Errorf("${%s}: a manifest may interpolate only ${%s} and ${%s} here (Copilot would read %s from the shell that deploys)", sub[2], EnvApplication, EnvEnvironment, sub[2])
		}
		return m
	})
	if err != nil {
		return "", err
	}
	return out, nil
}
