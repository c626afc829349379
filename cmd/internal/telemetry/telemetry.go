// Package telemetry starts what every binary runs beside its work: JSON logs
// and EMF metrics sharing stdout, spans to the collector when one is set, and
// the AWS configuration: each call bounded at the transport, and traced.
package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	smithytracing "github.com/aws/smithy-go/tracing"
	"go.opentelemetry.io/otel"

	"github.com/pubsub-app/pubsub/cmd/internal/envconf"
	"github.com/pubsub-app/pubsub/internal/logging"
	"github.com/pubsub-app/pubsub/internal/metrics"
	"github.com/pubsub-app/pubsub/internal/tracing"
)

// Config is the telemetry configuration every binary declares (the field
// Telemetry of its own Config).
type Config struct {
	// The Copilot environment, injected into every container: the env
	// dimension of every metric, so that two environments never share a series.
	Env      string `env:"COPILOT_ENVIRONMENT_NAME, required"`
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

// Validate checks the values.
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
// SDK's own loading), its calls bounded by transport timeouts and, with
// tracing on, traced. Call Stop on the way out, after the
// drain.
func Start(ctx context.Context, stdout io.Writer, service string, c Config) (*Telemetry, error) {
	// Logs and metrics share stdout, line by line: CloudWatch Logs keeps the
	// one and turns the other (EMF lines) into metrics.
	out := logging.Sync(stdout)
	t := &Telemetry{Log: logging.New(out, service, c.LogLevel), Metrics: metrics.New(out, service, c.Env, time.Now)}
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
	var tp smithytracing.TracerProvider
	if c.OTLPEndpoint != "" {
		// Each AWS call is a span in the trace of the request or message it serves.
		tp = tracing.AWSTracerProvider(otel.GetTracerProvider())
	}
	configureClients(&t.AWS, tp, sdkTimeouts)
	return t, nil
}

// transportTimeouts bound each attempt of an AWS call at the transport: the
// SDK's own default HTTP client waits 30s for a connection, 10s for a TLS
// handshake, and for a response forever, so a DynamoDB or SNS endpoint that
// accepts a connection and never answers holds the call (and the outbox
// relay behind it) indefinitely. An attempt cut short is a timeout error
// that the SDK's retryer retries, within its attempts.
type transportTimeouts struct {
	dial, tlsHandshake time.Duration
	// responseHeader is how long an attempt waits for the response's headers
	// once its request is written; longPoll is that wait for SQS, whose
	// ReceiveMessage holds the response back for up to its WaitTimeSeconds.
	responseHeader, longPoll time.Duration
}

// sqsMaxWaitTime is the longest WaitTimeSeconds SQS accepts (worker.MaxWaitTime).
const sqsMaxWaitTime = 20 * time.Second

// sdkTimeouts fit calls that answer in milliseconds in the region (a DynamoDB
// item write, an SNS publish, throttled or not): seconds of silence mean a
// broken connection or endpoint, not a slow answer. SQS gets its long poll on
// top.
var sdkTimeouts = transportTimeouts{
	dial:           5 * time.Second,
	tlsHandshake:   5 * time.Second,
	responseHeader: 10 * time.Second,
	longPoll:       sqsMaxWaitTime + 10*time.Second,
}

// configureClients sets what each client built from cfg gets: an HTTP
// transport with t's timeouts (SQS its own, for its long poll) and, with tp
// not nil, the SDK's tracing of each call (aws.Config has no tracer provider:
// it is a client option, set here through cfg.ServiceOptions for the
// services the binaries call; TestClientsAreConfigured checks them).
func configureClients(cfg *aws.Config, tp smithytracing.TracerProvider, t transportTimeouts) {
	// Start from what the SDK's loading built (it puts AWS_CA_BUNDLE there).
	base, ok := cfg.HTTPClient.(*awshttp.BuildableClient)
	if !ok {
		base = awshttp.NewBuildableClient()
	}
	client := func(responseHeader time.Duration) *awshttp.BuildableClient {
		return base.
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = t.dial }).
			WithTransportOptions(func(tr *http.Transport) {
				tr.TLSHandshakeTimeout = t.tlsHandshake
				tr.ResponseHeaderTimeout = responseHeader
			})
	}
	cfg.HTTPClient = client(t.responseHeader) // every client built from cfg
	long := client(t.longPoll)
	cfg.ServiceOptions = append(cfg.ServiceOptions, func(_ string, o any) {
		switch o := o.(type) {
		case *dynamodb.Options:
			if tp != nil {
				o.TracerProvider = tp
			}
		case *sns.Options:
			if tp != nil {
				o.TracerProvider = tp
			}
		case *sqs.Options:
			o.HTTPClient = long
			if tp != nil {
				o.TracerProvider = tp
			}
		}
	})
}

// Stop flushes the spans still buffered, then the last interval's metrics.
func (t *Telemetry) Stop() {
	for i := len(t.stop) - 1; i >= 0; i-- {
		t.stop[i]()
	}
	t.stop = nil
}
