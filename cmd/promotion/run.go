package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/cmd/internal/telemetry"
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
	tel, err := telemetry.Start(ctx, stdout, telemetry.Settings{
		Service: "promotion", LogLevel: cfg.LogLevel, MetricsInterval: cfg.MetricsInterval,
		OTLPEndpoint: cfg.OTLPEndpoint, TraceSampleRatio: cfg.TraceSampleRatio,
	})
	if err != nil {
		return err
	}
	defer tel.Stop() // after the drain: the last spans and metrics
	log, rec, awsCfg := tel.Log, tel.Metrics, tel.AWS

	engine := cfg.Engine()
	engine.Name = "promotion" // its spans: "promotion process"
	log.Info("worker starting", "queue_url", engine.QueueURL, "table", cfg.Table,
		"topic", engine.Topic, "concurrency", engine.Concurrency, "drain_timeout", engine.DrainTimeout.String())
	h := promotion.NewHandler(dynamodb.NewFromConfig(awsCfg), cfg.Table, time.Now)
	return worker.New(sqs.NewFromConfig(awsCfg), h, engine, log).WithMetrics(rec).Run(ctx)
}
