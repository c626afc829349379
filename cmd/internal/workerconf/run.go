package workerconf

import (
	"context"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/cmd/internal/telemetry"
	"github.com/pubsub-app/pubsub/internal/ddb"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// Run is the run of the worker binary name: it loads its configuration C
// (parts returns the shared part and the table it names) from getenv, and
// runs the engine with newHandler's handler on the table until ctx ends.
func Run[C any, H worker.Handler](ctx context.Context, name string, args []string, getenv func(string) string, stdout io.Writer,
	parts func(C) (Config, string), newHandler func(ddb.Putter, string, func() time.Time) H) error {
	c, done, err := envconf.Configure[C](name, args, getenv, stdout)
	if done {
		return err
	}
	cfg, table := parts(c)
	tel, err := telemetry.Start(ctx, stdout, name, cfg.Telemetry)
	if err != nil {
		return err
	}
	defer tel.Stop() // after the drain: the last spans and metrics

	engine := cfg.Engine(name) // its spans: "<name> process"
	tel.Log.Info("worker starting", "queue_url", engine.QueueURL, "table", table,
		"topic_arn", engine.TopicARN, "concurrency", engine.Concurrency, "drain_timeout", engine.DrainTimeout.String())
	h := newHandler(dynamodb.NewFromConfig(tel.AWS), table, time.Now)
	e, err := worker.New(sqs.NewFromConfig(tel.AWS), h, engine, tel.Log, tel.Metrics)
	if err != nil {
		return err
	}
	return e.Run(ctx)
}
