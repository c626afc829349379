package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/internal/logging"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/worker"
)

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	checkOnly, err := envconf.CheckConfigFlag(args, stdout)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configure promotion: %w", err)
	}
	if checkOnly {
		return envconf.Print(stdout, cfg)
	}
	log := logging.New(stdout, "promotion", cfg.LogLevel)

	// AWS: region, credentials and endpoints come from the SDK's own loading.
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("load AWS configuration: %w", err)
	}

	engine := cfg.Engine()
	log.Info("worker starting", "queue_url", engine.QueueURL, "table", cfg.Table,
		"topic", engine.Topic, "concurrency", engine.Concurrency, "drain_timeout", engine.DrainTimeout.String())
	h := promotion.NewHandler(dynamodb.NewFromConfig(awsCfg), cfg.Table, time.Now)
	return worker.New(sqs.NewFromConfig(awsCfg), h, engine, log).Run(ctx)
}
