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

	"github.com/pubsub-app/pubsub/internal/logging"
	"github.com/pubsub-app/pubsub/internal/metrics"
	"github.com/pubsub-app/pubsub/internal/tracing"
)

// Settings are a binary's name and its telemetry configuration.
type Settings struct {
	Service          string
	LogLevel         string
	MetricsInterval  time.Duration
	OTLPEndpoint     string  // OTEL_EXPORTER_OTLP_ENDPOINT; "" is tracing off
	TraceSampleRatio float64 // the share of the traces started here kept
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
func Start(ctx context.Context, stdout io.Writer, s Settings) (*Telemetry, error) {
	// Logs and metrics share stdout, line by line: CloudWatch Logs keeps the
	// one and turns the other (EMF lines) into metrics.
	out := logging.Sync(stdout)
	t := &Telemetry{Log: logging.New(out, s.Service, s.LogLevel), Metrics: metrics.New(out, s.Service, time.Now)}
	t.stop = append(t.stop, t.Metrics.Start(s.MetricsInterval))
	stopTracing, err := tracing.Start(ctx, s.Service, s.OTLPEndpoint, s.TraceSampleRatio, t.Log)
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
