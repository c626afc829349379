package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
)

// The worker variables both workers share are tested one by one in
// cmd/internal/workerconf; here, the promotion worker's own table and that the
// shared ones reach its configuration.

func testEnv(set map[string]string) func(string) string {
	env := map[string]string{
		"COPILOT_QUEUE_URI":        "https://sqs.us-east-1.amazonaws.com/123456789012/pubsub-test-promotion-EventsQueue",
		"COPILOT_APPLICATION_NAME": "pubsub",
		"COPILOT_ENVIRONMENT_NAME": "test",
		"COUPONS_TABLE_NAME":       "pubsub-test-promotion-coupons",
	}
	for k, v := range set {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

func TestLoadConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		set     map[string]string
		wantErr string // the variable the error must name; "" for success
		check   func(Config) bool
	}{
		{"defaults", nil, "", func(c Config) bool {
			e := c.Engine()
			return c.Table == "pubsub-test-promotion-coupons" && e.TopicARN == "arn:aws:sns:us-east-1:123456789012:pubsub-test-publisher-ordersTopic" &&
				e.Concurrency == 10 && e.WaitTime == 20*time.Second && e.DrainTimeout == 20*time.Second && c.LogLevel == "info"
		}},
		{"no COUPONS_TABLE_NAME", map[string]string{"COUPONS_TABLE_NAME": ""}, "COUPONS_TABLE_NAME", nil},
		{"no COPILOT_QUEUE_URI", map[string]string{"COPILOT_QUEUE_URI": ""}, "COPILOT_QUEUE_URI", nil},
		{"WORKER_VISIBILITY_TIMEOUT", map[string]string{"WORKER_VISIBILITY_TIMEOUT": "45s"}, "", func(c Config) bool { return c.Engine().VisibilityTimeout == 45*time.Second }},
		{"WORKER_WAIT_TIME beyond 20s", map[string]string{"WORKER_WAIT_TIME": "30s", "WORKER_DRAIN_TIMEOUT": "40s"}, "WORKER_WAIT_TIME", nil},
		{"LOG_LEVEL unknown", map[string]string{"LOG_LEVEL": "chatty"}, "LOG_LEVEL", nil},
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

// TestCheckConfig: -check-config prints the configuration and returns; a bad
// configuration is its error.
func TestCheckConfig(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"promotion", "-check-config"}, testEnv(nil), &out); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"COUPONS_TABLE_NAME=pubsub-test-promotion-coupons", "WORKER_WAIT_TIME=20s", "WORKER_MAX_RECEIVES=3"} {
		if !strings.Contains(out.String(), line+"\n") {
			t.Errorf("-check-config printed\n%s\nwant the line %s", out.String(), line)
		}
	}
	err := run(context.Background(), []string{"promotion", "-check-config"}, testEnv(map[string]string{"COUPONS_TABLE_NAME": ""}), &out)
	if err == nil || !strings.Contains(err.Error(), "COUPONS_TABLE_NAME") {
		t.Errorf("-check-config without COUPONS_TABLE_NAME: %v; want an error naming it", err)
	}
}

// loadConfig loads the configuration as run does, without the flag.
func loadConfig(getenv func(string) string) (Config, error) {
	var c Config
	err := envconf.Load(getenv, &c)
	return c, err
}
