package workerconf_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/cmd/internal/workerconf"
	"github.com/pubsub-app/pubsub/internal/worker"
)

func load(set map[string]string) (workerconf.Config, error) {
	env := map[string]string{
		"COPILOT_QUEUE_URI":        "https://sqs.us-east-1.amazonaws.com/123456789012/pubsub-test-fulfilment-EventsQueue",
		"COPILOT_APPLICATION_NAME": "pubsub",
		"COPILOT_ENVIRONMENT_NAME": "test",
	}
	for k, v := range set {
		env[k] = v
	}
	var c workerconf.Config
	err := envconf.Load(func(k string) string { return env[k] }, &c)
	return c, err
}

func TestDefaults(t *testing.T) {
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := worker.Config{
		QueueURL:          "https://sqs.us-east-1.amazonaws.com/123456789012/pubsub-test-fulfilment-EventsQueue",
		Name:              "fulfilment",
		TopicARN:          "arn:aws:sns:us-east-1:123456789012:pubsub-test-publisher-ordersTopic",
		MaxReceives:       3,
		Concurrency:       10,
		WaitTime:          20 * time.Second,
		VisibilityTimeout: 30 * time.Second,
		DrainTimeout:      20 * time.Second,
		RetryBase:         2 * time.Second,
		RetryMax:          5 * time.Minute,
		PoisonDelay:       time.Second,
		HandlerTimeout:    5 * time.Minute,
	}
	if diff := cmp.Diff(want, c.Engine("fulfilment")); diff != "" {
		t.Errorf("engine configuration by default (-want +got):\n%s", diff)
	}
	if c.Telemetry.LogLevel != "info" || c.Telemetry.Env != "test" {
		t.Errorf("Telemetry = %+v; want LogLevel info, Env test", c.Telemetry)
	}
}

// TestVariables sets each variable to a good value and to bad ones: a bad one
// stops the worker with an error naming the variable.
func TestVariables(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     map[string]string
		wantErr string // the variable (or reason) the error must name; "" for success
		check   func(worker.Config) bool
	}{
		{"no COPILOT_QUEUE_URI", map[string]string{"COPILOT_QUEUE_URI": ""}, "COPILOT_QUEUE_URI", nil},
		{"no COPILOT_APPLICATION_NAME", map[string]string{"COPILOT_APPLICATION_NAME": ""}, "COPILOT_APPLICATION_NAME", nil},
		{"no COPILOT_ENVIRONMENT_NAME", map[string]string{"COPILOT_ENVIRONMENT_NAME": ""}, "COPILOT_ENVIRONMENT_NAME", nil},
		{"topic named after the environment", map[string]string{"COPILOT_ENVIRONMENT_NAME": "local"}, "", func(c worker.Config) bool {
			return c.TopicARN == "arn:aws:sns:us-east-1:123456789012:pubsub-local-publisher-ordersTopic"
		}},
		// The topic is where the queue is: region and account from its URL.
		{"topic in the queue's region and account", map[string]string{"COPILOT_QUEUE_URI": "https://sqs.eu-west-1.amazonaws.com/210987654321/q", "AWS_REGION": "us-east-1"}, "", func(c worker.Config) bool {
			return c.TopicARN == "arn:aws:sns:eu-west-1:210987654321:pubsub-test-publisher-ordersTopic"
		}},
		{"topic in the queue's partition", map[string]string{"COPILOT_QUEUE_URI": "https://sqs.cn-north-1.amazonaws.com.cn/210987654321/q"}, "", func(c worker.Config) bool {
			return c.TopicARN == "arn:aws-cn:sns:cn-north-1:210987654321:pubsub-test-publisher-ordersTopic"
		}},
		// An emulator's queue URL names no region: the SDK's region is the queue's.
		{"emulator's queue, AWS_REGION", map[string]string{"COPILOT_QUEUE_URI": "http://127.0.0.1:5000/123456789012/q", "AWS_REGION": "eu-west-2"}, "", func(c worker.Config) bool {
			return c.TopicARN == "arn:aws:sns:eu-west-2:123456789012:pubsub-test-publisher-ordersTopic"
		}},
		{"emulator's queue, AWS_DEFAULT_REGION", map[string]string{"COPILOT_QUEUE_URI": "http://127.0.0.1:5000/123456789012/q", "AWS_DEFAULT_REGION": "ap-south-1"}, "", func(c worker.Config) bool {
			return c.TopicARN == "arn:aws:sns:ap-south-1:123456789012:pubsub-test-publisher-ordersTopic"
		}},
		{"emulator's queue, no region", map[string]string{"COPILOT_QUEUE_URI": "http://127.0.0.1:5000/123456789012/q"}, "COPILOT_QUEUE_URI", nil},
		{"COPILOT_QUEUE_URI not a queue URL", map[string]string{"COPILOT_QUEUE_URI": "pubsub-test-fulfilment-EventsQueue"}, "COPILOT_QUEUE_URI", nil},
		{"COPILOT_QUEUE_URI without an account", map[string]string{"COPILOT_QUEUE_URI": "https://sqs.eu-west-1.amazonaws.com/q"}, "COPILOT_QUEUE_URI", nil},
		{"WORKER_CONCURRENCY", map[string]string{"WORKER_CONCURRENCY": "4"}, "", func(c worker.Config) bool { return c.Concurrency == 4 }},
		{"WORKER_CONCURRENCY not a number", map[string]string{"WORKER_CONCURRENCY": "zero"}, "WORKER_CONCURRENCY", nil},
		{"WORKER_CONCURRENCY zero", map[string]string{"WORKER_CONCURRENCY": "0"}, "WORKER_CONCURRENCY", nil},
		{"WORKER_MAX_RECEIVES", map[string]string{"WORKER_MAX_RECEIVES": "5"}, "", func(c worker.Config) bool { return c.MaxReceives == 5 }},
		{"WORKER_MAX_RECEIVES beyond SQS's", map[string]string{"WORKER_MAX_RECEIVES": "1001"}, "WORKER_MAX_RECEIVES", nil},
		{"WORKER_WAIT_TIME", map[string]string{"WORKER_WAIT_TIME": "1s"}, "", func(c worker.Config) bool { return c.WaitTime == time.Second }},
		{"WORKER_WAIT_TIME not a duration", map[string]string{"WORKER_WAIT_TIME": "soon"}, "WORKER_WAIT_TIME", nil},
		{"WORKER_WAIT_TIME sub-second", map[string]string{"WORKER_WAIT_TIME": "500ms"}, "whole seconds", nil},
		{"WORKER_WAIT_TIME beyond SQS's long poll", map[string]string{"WORKER_WAIT_TIME": "21s", "WORKER_DRAIN_TIMEOUT": "30s"}, "WORKER_WAIT_TIME", nil},
		{"WORKER_WAIT_TIME zero", map[string]string{"WORKER_WAIT_TIME": "0s"}, "WORKER_WAIT_TIME", nil},
		{"WORKER_VISIBILITY_TIMEOUT", map[string]string{"WORKER_VISIBILITY_TIMEOUT": "45s"}, "", func(c worker.Config) bool { return c.VisibilityTimeout == 45*time.Second }},
		{"WORKER_VISIBILITY_TIMEOUT sub-second", map[string]string{"WORKER_VISIBILITY_TIMEOUT": "1500ms"}, "whole seconds", nil},
		{"WORKER_VISIBILITY_TIMEOUT beyond 12h", map[string]string{"WORKER_VISIBILITY_TIMEOUT": "13h"}, "WORKER_VISIBILITY_TIMEOUT", nil},
		{"WORKER_DRAIN_TIMEOUT", map[string]string{"WORKER_DRAIN_TIMEOUT": "2500ms", "WORKER_WAIT_TIME": "1s"}, "", func(c worker.Config) bool { return c.DrainTimeout == 2500*time.Millisecond }},
		{"WORKER_DRAIN_TIMEOUT below the wait", map[string]string{"WORKER_DRAIN_TIMEOUT": "10s"}, "WORKER_DRAIN_TIMEOUT", nil},
		{"WORKER_DRAIN_TIMEOUT negative", map[string]string{"WORKER_DRAIN_TIMEOUT": "-1s"}, "WORKER_DRAIN_TIMEOUT", nil},
		{"WORKER_RETRY_BASE", map[string]string{"WORKER_RETRY_BASE": "1s"}, "", func(c worker.Config) bool { return c.RetryBase == time.Second }},
		{"WORKER_RETRY_BASE sub-second", map[string]string{"WORKER_RETRY_BASE": "100ms"}, "WORKER_RETRY_BASE", nil},
		{"WORKER_RETRY_BASE above the max", map[string]string{"WORKER_RETRY_BASE": "10m"}, "WORKER_RETRY_BASE", nil},
		{"WORKER_RETRY_MAX", map[string]string{"WORKER_RETRY_MAX": "1m"}, "", func(c worker.Config) bool { return c.RetryMax == time.Minute }},
		{"WORKER_RETRY_MAX beyond 12h", map[string]string{"WORKER_RETRY_MAX": "24h"}, "WORKER_RETRY_MAX", nil},
		{"WORKER_POISON_DELAY", map[string]string{"WORKER_POISON_DELAY": "5s"}, "", func(c worker.Config) bool { return c.PoisonDelay == 5*time.Second }},
		{"WORKER_POISON_DELAY zero", map[string]string{"WORKER_POISON_DELAY": "0s"}, "WORKER_POISON_DELAY", nil},
		{"LOG_LEVEL unknown", map[string]string{"LOG_LEVEL": "verbose"}, "LOG_LEVEL", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := load(tc.set)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("load: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("load error = %v; want one naming %q", err, tc.wantErr)
			case tc.check != nil && !tc.check(c.Engine("fulfilment")):
				t.Errorf("engine configuration = %+v; want %s applied", c.Engine("fulfilment"), tc.set)
			}
		})
	}
}
