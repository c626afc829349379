package worker

import (
	"cmp"
	"strings"
	"testing"
	"time"
)

// ConfigForTest is c with each zero field set for a test: the production
// values of cmd/internal/workerconf's env tags, but for a short wait and
// drain (a fake or emulated queue answers at once) and the test topic. The
// engine itself defaults nothing. Exported for the integration tests.
func ConfigForTest(c Config) Config {
	c.QueueURL = cmp.Or(c.QueueURL, testQueueURL)
	c.Name = cmp.Or(c.Name, "fulfilment")
	c.TopicARN = cmp.Or(c.TopicARN, testTopicARN)
	c.MaxReceives = cmp.Or(c.MaxReceives, 3)
	c.Concurrency = cmp.Or(c.Concurrency, 10)
	c.WaitTime = cmp.Or(c.WaitTime, time.Second)
	c.VisibilityTimeout = cmp.Or(c.VisibilityTimeout, 30*time.Second)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, 200*time.Millisecond)
	c.RetryBase = cmp.Or(c.RetryBase, 2*time.Second)
	c.RetryMax = cmp.Or(c.RetryMax, 5*time.Minute)
	c.PoisonDelay = cmp.Or(c.PoisonDelay, time.Second)
	c.HandlerTimeout = cmp.Or(c.HandlerTimeout, 5*time.Minute)
	return c
}

// TestNewRefusesInvalidConfig: a field left zero or out of range is an
// error that names it, not a default.
func TestNewRefusesInvalidConfig(t *testing.T) {
	if _, err := New(newFakeSQS(t), nil, ConfigForTest(Config{}), nil, nil); err != nil {
		t.Fatalf("New(ConfigForTest) = %v; want it valid", err)
	}
	for field, edit := range map[string]func(*Config){
		"QueueURL":          func(c *Config) { c.QueueURL = "" },
		"Name":              func(c *Config) { c.Name = "" },
		"TopicARN":          func(c *Config) { c.TopicARN = "" },
		"MaxReceives":       func(c *Config) { c.MaxReceives = 0 },
		"Concurrency":       func(c *Config) { c.Concurrency = 0 },
		"WaitTime":          func(c *Config) { c.WaitTime = 21 * time.Second },
		"VisibilityTimeout": func(c *Config) { c.VisibilityTimeout = 500 * time.Millisecond }, // SQS counts whole seconds
		"DrainTimeout":      func(c *Config) { c.DrainTimeout = 0 },
		"RetryMax":          func(c *Config) { c.RetryMax = time.Second },
		"PoisonDelay":       func(c *Config) { c.PoisonDelay = 0 },
		"HandlerTimeout":    func(c *Config) { c.HandlerTimeout = 24 * time.Hour },
	} {
		c := ConfigForTest(Config{})
		edit(&c)
		if _, err := New(newFakeSQS(t), nil, c, nil, nil); err == nil || !strings.Contains(err.Error(), "worker.Config."+field+":") {
			t.Errorf("New with %s out of range: %v; want an error naming it", field, err)
		}
	}
}
