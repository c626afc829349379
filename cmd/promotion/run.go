package main

import (
	"context"
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
	cfg, done, err := envconf.Configure[Config]("promotion", args, getenv, stdout)
	if done {
		return err
	}
	tel, err := telemetry.Start(ctx, stdout, "promotion", cfg.Config.Config) // the telemetry settings workerconf embeds
	if err != nil {
		return err
	}
	defer tel.Stop() // after the drain: the last spans and metrics
	log, rec, awsCfg := tel.Log, tel.Metrics, tel.AWS

	engine := cfg.Engine()
	engine.Name = "promotion" // its spans: "promotion process"
	log.Info("worker starting", "queue_url", engine.QueueURL, "table", cfg.Table,
		"topic_arn", engine.TopicARN, "concurrency", engine.Concurrency, "drain_timeout", engine.DrainTimeout.String())
	h := promotion.NewHandler(dynamodb.NewFromConfig(awsCfg), cfg.Table, time.Now)
	return worker.New(sqs.NewFromConfig(awsCfg), h, engine, log).WithMetrics(rec).Run(ctx)
}
