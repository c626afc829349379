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
