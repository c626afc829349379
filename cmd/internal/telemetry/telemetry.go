// Package telemetry starts what every binary runs beside its work: JSON logs
// and EMF metrics sharing stdout, spans to the collector when one is set, and
// the AWS configuration with each call traced.
package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	//lint:ignore SA1019 deprecated for want of an owner in opentelemetry-go-contrib, still what ADOT documents for Go (see internal/tracing)
	"go.opentelemetry.io/contrib/instrumentation/github.com/aws/aws-sdk-go-v2/otelaws"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/internal/logging"
	"github.com/pubsub-app/pubsub/internal/metrics"
	"github.com/pubsub-app/pubsub/internal/tracing"
)

// Config is the telemetry configuration every binary declares (embedded in
// its own Config).
type Config struct {
	LogLevel string `env:"LOG_LEVEL, default=info"`
	// How often metrics are written to stdout in CloudWatch's Embedded
	// Metric Format (internal/metrics): CloudWatch's standard resolution.
	MetricsInterval time.Duration `env:"METRICS_INTERVAL, default=1m"`
	// Where spans go (internal/tracing): the OTLP/HTTP base URL of the
	// collector, on ECS Copilot's awsxray sidecar (the manifest sets it);
	// unset, nothing is traced.
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// The share of traces started here that are kept, 0 to 1 (X-Ray bills
	// $5 per million traces recorded); a continued trace keeps its origin's
	// decision.
	TraceSampleRatio float64 `env:"TRACE_SAMPLE_RATIO, default=1"`
}

// Validate checks the values; the embedding Config's Validate calls it.
func (c *Config) Validate(chk *envconf.Check) {
	chk.LogLevel(&c.LogLevel)
	chk.Duration(&c.MetricsInterval, time.Second, time.Hour)
	chk.HTTPURL(&c.OTLPEndpoint)
	chk.Ratio(&c.TraceSampleRatio)
}

// Telemetry is a started binary's logger, metrics recorder and AWS configuration.
type Telemetry struct {
	Log     *slog.Logger
	Metrics *metrics.Recorder
	AWS     aws.Config
	stop    []func()
}

// Start starts the logger and the metrics recorder on stdout, tracing, and
// loads the AWS configuration (region, credentials and endpoints from the
// SDK's own loading), its calls traced. Call Stop on the way out, after the
// drain.
func Start(ctx context.Context, stdout io.Writer, service string, c Config) (*Telemetry, error) {
	// Logs and metrics share stdout, line by line: CloudWatch Logs keeps the
	// one and turns the other (EMF lines) into metrics.
	out := logging.Sync(stdout)
	t := &Telemetry{Log: logging.New(out, service, c.LogLevel), Metrics: metrics.New(out, service, time.Now)}
	t.stop = append(t.stop, t.Metrics.Start(c.MetricsInterval))
	stopTracing, err := tracing.Start(ctx, service, c.OTLPEndpoint, c.TraceSampleRatio, t.Log)
	if err != nil {
		t.Stop()
		return nil, fmt.Errorf("start tracing: %w", err)
	}
	t.stop = append(t.stop, stopTracing)
	if t.AWS, err = config.LoadDefaultConfig(ctx); err != nil {
		t.Stop()
		return nil, fmt.Errorf("load AWS configuration: %w", err)
	}
	// Each AWS call is a span in the trace of the request or message it serves.
	otelaws.AppendMiddlewares(&t.AWS.APIOptions)
	return t, nil
}

// Stop flushes the spans still buffered, then the last interval's metrics.
func (t *Telemetry) Stop() {
	for i := len(t.stop) - 1; i >= 0; i-- {
		t.stop[i]()
	}
	t.stop = nil
}
