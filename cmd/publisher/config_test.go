package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/cmd/internal/telemetry"
	"github.com/pubsub-app/pubsub/internal/copilot"
)

const testTopicARN = "arn:aws:sns:us-east-1:123456789012:pubsub-test-publisher-ordersTopic"

// testEnv is what Copilot injects that the publisher requires, plus set.
func testEnv(set map[string]string) func(string) string {
	env := map[string]string{
		"ORDERS_TABLE_NAME":        "pubsub-test-publisher-orders",
		"COPILOT_SNS_TOPIC_ARNS":   `{"ordersTopic":"` + testTopicARN + `"}`,
		"COPILOT_ENVIRONMENT_NAME": "test",
		// The manifest's, as Copilot interpolates them.
		"FULFILMENTS_TABLE_NAME": "pubsub-test-fulfilment-fulfilmentsTable",
		"COUPONS_TABLE_NAME":     "pubsub-test-promotion-couponsTable",
	}
	for k, v := range set {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	got, err := loadConfig(testEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Port:             5000,
		OrdersTable:      "pubsub-test-publisher-orders",
		FulfilmentsTable: "pubsub-test-fulfilment-fulfilmentsTable",
		CouponsTable:     "pubsub-test-promotion-couponsTable",
		TopicARNs:        copilot.TopicARNs{"ordersTopic": testTopicARN},
		ShutdownTimeout:  20 * time.Second,
		PublishTimeout:   5 * time.Second,
		StoreTimeout:     5 * time.Second,
		OutboxLease:      30 * time.Second,
		OutboxInterval:   2 * time.Second,
		OutboxBatch:      25,
		OutboxRetryBase:  2 * time.Second,
		OutboxRetryMax:   time.Minute,
		Telemetry:        telemetry.Config{Env: "test", LogLevel: "info", MetricsInterval: time.Minute, TraceSampleRatio: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if got.TopicARN() != testTopicARN {
		t.Errorf("TopicARN = %q; want %q", got.TopicARN(), testTopicARN)
	}
}

// TestLoadConfig sets each variable to a good value and to bad ones: a bad one
// stops the publisher with an error naming the variable.
func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     map[string]string
		wantErr string // the variable the error must name; "" for success
		check   func(Config) bool
	}{
		{"PORT", map[string]string{"PORT": "8080"}, "", func(c Config) bool { return c.Port == 8080 }},
		{"PORT not a number", map[string]string{"PORT": "http"}, "PORT", nil},
		{"PORT zero", map[string]string{"PORT": "0"}, "PORT", nil},
		{"LISTEN_HOST", map[string]string{"LISTEN_HOST": "127.0.0.1"}, "", func(c Config) bool { return c.ListenHost == "127.0.0.1" }},
		{"LISTEN_HOST not an IP", map[string]string{"LISTEN_HOST": "0.0.0.0:80"}, "LISTEN_HOST", nil},
		{"PORT too high", map[string]string{"PORT": "65536"}, "PORT", nil},
		{"no ORDERS_TABLE_NAME", map[string]string{"ORDERS_TABLE_NAME": ""}, "ORDERS_TABLE_NAME", nil},
		{"no FULFILMENTS_TABLE_NAME", map[string]string{"FULFILMENTS_TABLE_NAME": ""}, "FULFILMENTS_TABLE_NAME", nil},
		{"no COUPONS_TABLE_NAME", map[string]string{"COUPONS_TABLE_NAME": ""}, "COUPONS_TABLE_NAME", nil},
		// What the manifest says, had nothing interpolated it.
		{"FULFILMENTS_TABLE_NAME uninterpolated", map[string]string{"FULFILMENTS_TABLE_NAME": "${COPILOT_APPLICATION_NAME}-${COPILOT_ENVIRONMENT_NAME}-fulfilment-fulfilmentsTable"}, "FULFILMENTS_TABLE_NAME", nil},
		{"COUPONS_TABLE_NAME too short", map[string]string{"COUPONS_TABLE_NAME": "cp"}, "COUPONS_TABLE_NAME", nil},
		{"COUPONS_TABLE_NAME", map[string]string{"COUPONS_TABLE_NAME": "pubsub-prod-promotion-couponsTable"}, "", func(c Config) bool { return c.CouponsTable == "pubsub-prod-promotion-couponsTable" }},
		{"no COPILOT_SNS_TOPIC_ARNS", map[string]string{"COPILOT_SNS_TOPIC_ARNS": ""}, "COPILOT_SNS_TOPIC_ARNS", nil},
		{"COPILOT_SNS_TOPIC_ARNS not JSON", map[string]string{"COPILOT_SNS_TOPIC_ARNS": testTopicARN}, "COPILOT_SNS_TOPIC_ARNS", nil},
		{"COPILOT_SNS_TOPIC_ARNS without ordersTopic", map[string]string{"COPILOT_SNS_TOPIC_ARNS": `{"otherTopic":"arn:x"}`}, "COPILOT_SNS_TOPIC_ARNS", nil},
		{"SHUTDOWN_TIMEOUT", map[string]string{"SHUTDOWN_TIMEOUT": "5s"}, "", func(c Config) bool { return c.ShutdownTimeout == 5*time.Second }},
		{"SHUTDOWN_TIMEOUT not a duration", map[string]string{"SHUTDOWN_TIMEOUT": "soon"}, "SHUTDOWN_TIMEOUT", nil},
		{"SHUTDOWN_TIMEOUT negative", map[string]string{"SHUTDOWN_TIMEOUT": "-1s"}, "SHUTDOWN_TIMEOUT", nil},
		{"SHUTDOWN_TIMEOUT beyond Fargate's stop timeout", map[string]string{"SHUTDOWN_TIMEOUT": "3m"}, "SHUTDOWN_TIMEOUT", nil},
		// The drain, then the span flush (2s) and the exit (1s), within Fargate's longest StopTimeout (2m).
		{"SHUTDOWN_TIMEOUT that fits only without the flush", map[string]string{"SHUTDOWN_TIMEOUT": "118s"}, "SHUTDOWN_TIMEOUT", nil},
		{"SHUTDOWN_TIMEOUT the longest that fits", map[string]string{"SHUTDOWN_TIMEOUT": "116s"}, "", func(c Config) bool { return c.ShutdownTimeout == 116*time.Second }},
		{"PUBLISH_TIMEOUT", map[string]string{"PUBLISH_TIMEOUT": "2s"}, "", func(c Config) bool { return c.Checkout().PublishTimeout == 2*time.Second }},
		{"PUBLISH_TIMEOUT zero", map[string]string{"PUBLISH_TIMEOUT": "0s"}, "PUBLISH_TIMEOUT", nil},
		// The check holds against the default lease (30s) too.
		{"PUBLISH_TIMEOUT beyond the default lease", map[string]string{"PUBLISH_TIMEOUT": "40s"}, "PUBLISH_TIMEOUT", nil},
		{"PUBLISH_TIMEOUT equal to the lease", map[string]string{"PUBLISH_TIMEOUT": "10s", "OUTBOX_LEASE": "10s"}, "OUTBOX_LEASE", nil},
		{"PUBLISH_TIMEOUT below a longer lease", map[string]string{"PUBLISH_TIMEOUT": "40s", "OUTBOX_LEASE": "1m"}, "", func(c Config) bool { return c.Checkout().Lease == time.Minute }},
		{"OUTBOX_LEASE below the default publish timeout", map[string]string{"OUTBOX_LEASE": "4s"}, "PUBLISH_TIMEOUT", nil},
		{"OUTBOX_LEASE not a duration", map[string]string{"OUTBOX_LEASE": "30"}, "OUTBOX_LEASE", nil},
		{"OUTBOX_INTERVAL", map[string]string{"OUTBOX_INTERVAL": "250ms"}, "", func(c Config) bool { return c.Checkout().Interval == 250*time.Millisecond }},
		{"OUTBOX_INTERVAL not a duration", map[string]string{"OUTBOX_INTERVAL": "often"}, "OUTBOX_INTERVAL", nil},
		{"STORE_TIMEOUT", map[string]string{"STORE_TIMEOUT": "2s"}, "", func(c Config) bool { return c.Checkout().StoreTimeout == 2*time.Second }},
		{"STORE_TIMEOUT zero", map[string]string{"STORE_TIMEOUT": "0s"}, "STORE_TIMEOUT", nil},
		{"OUTBOX_BATCH", map[string]string{"OUTBOX_BATCH": "3"}, "", func(c Config) bool { return c.Checkout().Batch == 3 }},
		{"OUTBOX_BATCH zero", map[string]string{"OUTBOX_BATCH": "0"}, "OUTBOX_BATCH", nil},
		{"OUTBOX_RETRY_BASE", map[string]string{"OUTBOX_RETRY_BASE": "250ms"}, "", func(c Config) bool { return c.Checkout().RetryBase == 250*time.Millisecond }},
		{"OUTBOX_RETRY_BASE above the max", map[string]string{"OUTBOX_RETRY_BASE": "2m"}, "OUTBOX_RETRY_BASE", nil},
		{"OUTBOX_RETRY_MAX", map[string]string{"OUTBOX_RETRY_MAX": "5m"}, "", func(c Config) bool { return c.Checkout().RetryMax == 5*time.Minute }},
		{"OUTBOX_RETRY_MAX zero", map[string]string{"OUTBOX_RETRY_MAX": "0s"}, "OUTBOX_RETRY_MAX", nil},
		{"no COPILOT_ENVIRONMENT_NAME", map[string]string{"COPILOT_ENVIRONMENT_NAME": ""}, "COPILOT_ENVIRONMENT_NAME", nil},
		{"LOG_LEVEL", map[string]string{"LOG_LEVEL": "debug"}, "", func(c Config) bool { return c.Telemetry.LogLevel == "debug" }},
		{"LOG_LEVEL unknown", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL", nil},
		{"METRICS_INTERVAL", map[string]string{"METRICS_INTERVAL": "5s"}, "", func(c Config) bool { return c.Telemetry.MetricsInterval == 5*time.Second }},
		{"METRICS_INTERVAL below a second", map[string]string{"METRICS_INTERVAL": "10ms"}, "METRICS_INTERVAL", nil},
		{"TRACE_SAMPLE_RATIO", map[string]string{"TRACE_SAMPLE_RATIO": "0.05"}, "", func(c Config) bool { return c.Telemetry.TraceSampleRatio == 0.05 }},
		{"TRACE_SAMPLE_RATIO above 1", map[string]string{"TRACE_SAMPLE_RATIO": "5"}, "TRACE_SAMPLE_RATIO", nil},
		{"OTEL_EXPORTER_OTLP_ENDPOINT not a URL", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318"}, "OTEL_EXPORTER_OTLP_ENDPOINT", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(testEnv(tc.set))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("loadConfig: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("loadConfig error = %v; want one naming %s", err, tc.wantErr)
			case tc.check != nil && !tc.check(c):
				t.Errorf("config = %+v; want %s applied", c, tc.set)
			}
		})
	}
}

// TestCheckConfig: -check-config prints the configuration, a setting a line,
// and returns; a bad configuration is its error.
func TestCheckConfig(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"publisher", "-check-config"}, testEnv(map[string]string{"PORT": "8080"}), &out); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"PORT=8080", "PUBLISH_TIMEOUT=5s", "COPILOT_SNS_TOPIC_ARNS={\"ordersTopic\":\"" + testTopicARN + "\"}"} {
		if !strings.Contains(out.String(), line+"\n") {
			t.Errorf("-check-config printed\n%s\nwant the line %s", out.String(), line)
		}
	}
	err := run(context.Background(), []string{"publisher", "-check-config"}, testEnv(map[string]string{"ORDERS_TABLE_NAME": ""}), &out)
	if err == nil || !strings.Contains(err.Error(), "ORDERS_TABLE_NAME") {
		t.Errorf("-check-config without ORDERS_TABLE_NAME: %v; want an error naming it", err)
	}
}

// loadConfig loads the configuration as run does, without the flag.
func loadConfig(getenv func(string) string) (Config, error) {
	var c Config
	err := envconf.Load(getenv, &c)
	return c, err
}
