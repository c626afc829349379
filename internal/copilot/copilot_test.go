package copilot_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/copilot"
)

func TestTopicName(t *testing.T) {
	// As Copilot names it in a rendered stack (COPILOT.md).
	if got, want := copilot.TopicName("pubsub", "test", "publisher", "ordersTopic"), "pubsub-test-publisher-ordersTopic"; got != want {
		t.Errorf("TopicName = %q; want %q", got, want)
	}
}

// TestQueueLocation reads the region and account of a worker's queue from
// its URL, in the forms SQS, moto and LocalStack's endpoint strategies give,
// and names the orders topic there.
func TestQueueLocation(t *testing.T) {
	const name = "pubsub-test-fulfilment-EventsQueue"
	for _, tc := range []struct {
		name, url, region string
		want              copilot.Location
	}{
		{"SQS", "https://sqs.eu-west-1.amazonaws.com/123456789012/" + name, "", copilot.Location{"aws", "eu-west-1", "123456789012"}},
		{"SQS, the URL's region over the SDK's", "https://sqs.eu-west-1.amazonaws.com/123456789012/" + name, "us-east-1", copilot.Location{"aws", "eu-west-1", "123456789012"}},
		{"SQS in China", "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/" + name, "", copilot.Location{"aws-cn", "cn-north-1", "123456789012"}},
		{"SQS in GovCloud", "https://sqs.us-gov-west-1.amazonaws.com/123456789012/" + name, "", copilot.Location{"aws-us-gov", "us-gov-west-1", "123456789012"}},
		{"SQS, FIPS", "https://sqs-fips.us-east-2.amazonaws.com/123456789012/" + name, "", copilot.Location{"aws", "us-east-2", "123456789012"}},
		{"SQS, dual-stack", "https://sqs.ap-southeast-2.api.aws/123456789012/" + name, "", copilot.Location{"aws", "ap-southeast-2", "123456789012"}},
		{"SQS, legacy", "https://eu-central-1.queue.amazonaws.com/123456789012/" + name, "", copilot.Location{"aws", "eu-central-1", "123456789012"}},
		{"SQS, legacy us-east-1", "https://queue.amazonaws.com/123456789012/" + name, "eu-west-1", copilot.Location{"aws", "us-east-1", "123456789012"}},
		{"moto", "http://127.0.0.1:5000/123456789012/" + name, "eu-west-1", copilot.Location{"aws", "eu-west-1", "123456789012"}},
		{"moto, trailing slash", "http://localhost:5000/123456789012/" + name + "/", "us-east-1", copilot.Location{"aws", "us-east-1", "123456789012"}},
		{"LocalStack standard", "http://sqs.eu-west-1.localhost.localstack.cloud:4566/000000000000/" + name, "us-east-1", copilot.Location{"aws", "eu-west-1", "000000000000"}},
		{"LocalStack domain", "http://eu-west-1.queue.localhost.localstack.cloud:4566/000000000000/" + name, "", copilot.Location{"aws", "eu-west-1", "000000000000"}},
		{"LocalStack domain, us-east-1", "http://queue.localhost.localstack.cloud:4566/000000000000/" + name, "", copilot.Location{"aws", "us-east-1", "000000000000"}},
		{"LocalStack path", "http://localhost.localstack.cloud:4566/queue/eu-west-1/000000000000/" + name, "", copilot.Location{"aws", "eu-west-1", "000000000000"}},
		{"LocalStack off", "http://localhost.localstack.cloud:4566/000000000000/" + name, "eu-west-2", copilot.Location{"aws", "eu-west-2", "000000000000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := copilot.QueueLocation(tc.url, tc.region)
			if err != nil {
				t.Fatalf("QueueLocation(%q, %q): %v", tc.url, tc.region, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("QueueLocation(%q, %q) (-want +got):\n%s", tc.url, tc.region, diff)
			}
		})
	}
	loc, err := copilot.QueueLocation("https://sqs.eu-west-1.amazonaws.com/123456789012/"+name, "")
	if err != nil {
		t.Fatal(err)
	}
	// As a rendered stack names the topic (COPILOT.md).
	if got, want := loc.TopicARN("pubsub", "test", "publisher", "ordersTopic"), "arn:aws:sns:eu-west-1:123456789012:pubsub-test-publisher-ordersTopic"; got != want {
		t.Errorf("TopicARN = %q; want %q", got, want)
	}
}

func TestQueueLocationErrors(t *testing.T) {
	for _, tc := range []struct {
		name, url, region, wantErr string
	}{
		{"empty", "", "eu-west-1", "want the URL of an SQS queue"},
		{"not a URL", "pubsub-test-fulfilment-EventsQueue", "eu-west-1", "want the URL of an SQS queue"},
		{"an ARN", "arn:aws:sqs:eu-west-1:123456789012:q", "eu-west-1", "want the URL of an SQS queue"},
		{"no account", "https://sqs.eu-west-1.amazonaws.com/q", "", "want /<account>/<queue name>"},
		{"account not 12 digits", "https://sqs.eu-west-1.amazonaws.com/1234/q", "", "the account 12 digits"},
		{"too deep", "https://sqs.eu-west-1.amazonaws.com/a/123456789012/q", "", "want /<account>/<queue name>"},
		{"no region anywhere", "http://127.0.0.1:5000/123456789012/q", "", "no region is configured (AWS_REGION)"},
		{"configured region not a region", "http://127.0.0.1:5000/123456789012/q", "Ireland", `region "Ireland"`},
		{"URL's region not a region", "https://sqs.amazonaws.com.evil/123456789012/q", "", `region "amazonaws"`},
		{"path's region not a region", "http://localhost:4566/queue/x/000000000000/q", "", `region "x"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := copilot.QueueLocation(tc.url, tc.region)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("QueueLocation(%q, %q) = %+v, %v; want an error saying %q", tc.url, tc.region, got, err, tc.wantErr)
			}
		})
	}
}

func TestPartition(t *testing.T) {
	for region, want := range map[string]string{
		"eu-west-1": "aws", "us-east-1": "aws", "cn-northwest-1": "aws-cn", "us-gov-east-1": "aws-us-gov",
		"us-iso-east-1": "aws-iso", "us-isob-east-1": "aws-iso-b", "eu-isoe-west-1": "aws-iso-e", "us-isof-south-1": "aws-iso-f",
		"eusc-de-east-1": "aws-eusc",
	} {
		if got := copilot.Partition(region); got != want {
			t.Errorf("Partition(%q) = %q; want %q", region, got, want)
		}
	}
}

func TestOutputVariable(t *testing.T) {
	for output, want := range map[string]string{
		"ordersTableName":      "ORDERS_TABLE_NAME",
		"fulfilmentsTableName": "FULFILMENTS_TABLE_NAME",
		"couponsTableName":     "COUPONS_TABLE_NAME",
		"myS3Bucket":           "MY_S3_BUCKET",
		"queue-url":            "QUEUE_URL",
		"table":                "TABLE",
	} {
		if got := copilot.OutputVariable(output); got != want {
			t.Errorf("OutputVariable(%q) = %q; want %q", output, got, want)
		}
	}
}

func TestParseTopicARNs(t *testing.T) {
	const arn = "arn:aws:sns:us-east-1:123456789012:pubsub-test-publisher-ordersTopic"
	got, err := copilot.ParseTopicARNs(`{"ordersTopic":"` + arn + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	if a, err := got.ARN("ordersTopic"); a != arn || err != nil {
		t.Errorf("ARN(ordersTopic) = %q, %v; want %q", a, err, arn)
	}
	if _, err := got.ARN("otherTopic"); err == nil || !strings.Contains(err.Error(), copilot.EnvSNSTopicARNs) || !strings.Contains(err.Error(), "otherTopic") {
		t.Errorf("ARN(otherTopic) error = %v; want one naming %s and the topic", err, copilot.EnvSNSTopicARNs)
	}
	if s := got.String(); s != `{"ordersTopic":"`+arn+`"}` {
		t.Errorf("String = %s; want the variable's JSON back", s)
	}
	for _, bad := range []string{"", "arn:aws:sns:x", "null", "[]", `{"ordersTopic":""}`, `{"ordersTopic":1}`} {
		if _, err := copilot.ParseTopicARNs(bad); err == nil {
			t.Errorf("ParseTopicARNs(%q) succeeded; want an error", bad)
		}
	}
	var v copilot.TopicARNs
	if err := v.EnvDecode(`{"a":"arn:1"}`); err != nil || v["a"] != "arn:1" {
		t.Errorf("EnvDecode = %v, %v", v, err)
	}
}

func TestInjected(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    copilot.Workload
		want map[string]string
	}{
		{"web service", copilot.Workload{
			App: "pubsub", Env: "test", Name: "publisher", LoadBalancerDNS: "lb.example",
			TopicARNs:    copilot.TopicARNs{"ordersTopic": "arn:t"},
			AddonOutputs: map[string]string{"ordersTableName": "pubsub-test-publisher-orders"},
		}, map[string]string{
			"COPILOT_APPLICATION_NAME":           "pubsub",
			"COPILOT_ENVIRONMENT_NAME":           "test",
			"COPILOT_SERVICE_NAME":               "publisher",
			"COPILOT_SERVICE_DISCOVERY_ENDPOINT": "test.pubsub.local",
			"COPILOT_LB_DNS":                     "lb.example",
			"COPILOT_SNS_TOPIC_ARNS":             `{"ordersTopic":"arn:t"}`,
			"ORDERS_TABLE_NAME":                  "pubsub-test-publisher-orders",
		}},
		{"worker service", copilot.Workload{App: "pubsub", Env: "local", Name: "fulfilment", QueueURL: "http://q"}, map[string]string{
			"COPILOT_APPLICATION_NAME":           "pubsub",
			"COPILOT_ENVIRONMENT_NAME":           "local",
			"COPILOT_SERVICE_NAME":               "fulfilment",
			"COPILOT_SERVICE_DISCOVERY_ENDPOINT": "local.pubsub.local",
			"COPILOT_QUEUE_URI":                  "http://q",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, copilot.Injected(tc.w)); diff != "" {
				t.Errorf("Injected (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterpolate(t *testing.T) {
	for in, want := range map[string]string{
		"${COPILOT_APPLICATION_NAME}-${COPILOT_ENVIRONMENT_NAME}-fulfilment-fulfilmentsTable": "pubsub-test-fulfilment-fulfilmentsTable",
		"info":                            "info",
		`\${COPILOT_ENVIRONMENT_NAME}`:    "${COPILOT_ENVIRONMENT_NAME}",
		"$COPILOT_ENVIRONMENT_NAME":       "$COPILOT_ENVIRONMENT_NAME", // only the braced form is Copilot's
		"${COPILOT_ENVIRONMENT_NAME}.log": "test.log",
	} {
		got, err := copilot.Interpolate(in, "pubsub", "test")
		if err != nil || got != want {
			t.Errorf("Interpolate(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"${HOME}/x", "${COPILOT_SERVICE_NAME}", "${COPILOT_APPLICATION_NAME}-${USER}"} {
		if got, err := copilot.Interpolate(in, "pubsub", "test"); err == nil {
			t.Errorf("Interpolate(%q) = %q, nil; want an error (Copilot would read it from the deployer's shell)", in, got)
		}
	}
}
