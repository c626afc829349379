// Package copilotenv reads a service's configuration from the variables
// Copilot injects into its container (and the few of our own a manifest may
// set), with errors that name the variable.
package copilotenv

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Getenv looks up one variable, like os.Getenv.
type Getenv func(string) string

// Required returns the named variable or an error naming it.
func Required(getenv Getenv, name string) (string, error) {
	v := getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s is not set: Copilot injects it on deploy; set it when running locally", name)
	}
	return v, nil
}

// TopicARN returns the ARN of one of the service's topics from
// COPILOT_SNS_TOPIC_ARNS, a JSON object of topic name to ARN.
func TopicARN(getenv Getenv, topic string) (string, error) {
	raw, err := Required(getenv, "COPILOT_SNS_TOPIC_ARNS")
	if err != nil {
		return "", err
	}
	var arns map[string]string
	if err := json.Unmarshal([]byte(raw), &arns); err != nil {
		return "", fmt.Errorf("COPILOT_SNS_TOPIC_ARNS is not a JSON object of topic names to ARNs: %w", err)
	}
	arn := arns[topic]
	if arn == "" {
		return "", fmt.Errorf("COPILOT_SNS_TOPIC_ARNS has no topic %q", topic)
	}
	return arn, nil
}

// Int returns the named variable as a positive integer, or def when unset.
func Int(getenv Getenv, name string, def int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s=%q: want a positive whole number", name, v)
	}
	return n, nil
}

// Duration returns the named variable as a Go duration ("20s", "1m30s"), or
// def when unset.
func Duration(getenv Getenv, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q: want a duration such as 20s or 1m30s", name, v)
	}
	return d, nil
}
