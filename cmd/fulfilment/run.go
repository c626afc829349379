package main

import (
	"context"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/worker"
	"github.com/pubsub-app/pubsub/internal/workerapp"
)

func run(ctx context.Context, _ []string, getenv func(string) string, stdout io.Writer) error {
	return workerapp.Run(ctx, workerapp.Spec{
		Service:  "fulfilment",
		TableVar: "FULFILMENTS_TABLE_NAME",
		NewHandler: func(db *dynamodb.Client, table string) worker.Handler {
			return fulfilment.NewHandler(db, table, time.Now)
		},
	}, getenv, stdout)
}
