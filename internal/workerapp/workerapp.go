// Package workerapp wires a worker binary: configuration from the
// environment, the JSON logger, the AWS clients, a handler writing to the
// service's own table, and the engine, run until the context is cancelled.
package workerapp

import (
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/internal/copilotenv"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/logging"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// Spec says what differs between the workers.
type Spec struct {
	Service  string // the Copilot service name, for logs
	TableVar string // the variable holding the service's table name
	// NewHandler builds the service's handler over its table.
	NewHandler func(db *dynamodb.Client, table string) worker.Handler
}

// Run runs the worker until ctx is cancelled and its in-flight work drained.
func Run(ctx context.Context, spec Spec, getenv copilotenv.Getenv, stdout io.Writer) error {
	log := logging.New(stdout, spec.Service, getenv("LOG_LEVEL"))

	// Configuration: a missing variable stops the worker here, by name.
	cfg, err := worker.ConfigFromEnv(getenv, events.PublisherService, events.Topic)
	if err != nil {
		return fmt.Errorf("configure %s: %w", spec.Service, err)
	}
	table, err := copilotenv.Required(getenv, spec.TableVar)
	if err != nil {
		return fmt.Errorf("configure %s: %w", spec.Service, err)
	}

	// AWS: region, credentials and endpoints come from the SDK's own loading.
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}
	log.Info("worker starting", "queue_url", cfg.QueueURL, "table", table,
		"topic", cfg.Topic, "concurrency", cfg.Concurrency, "drain_timeout", cfg.DrainTimeout.String())

	h := spec.NewHandler(dynamodb.NewFromConfig(awsCfg), table)
	return worker.New(sqs.NewFromConfig(awsCfg), h, cfg, log).Run(ctx)
}
