package telemetry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	smithytracing "github.com/aws/smithy-go/tracing"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/metrics"
)

// TestStopFlushesTheLastMetrics: logs and metrics share stdout, and what was
// recorded since the last interval is written by Stop, not lost.
func TestStopFlushesTheLastMetrics(t *testing.T) {
	var out integration.SyncBuffer
	tel, err := Start(context.Background(), &out, "publisher", Config{Env: "test", LogLevel: "info", MetricsInterval: time.Hour, TraceSampleRatio: 1})
	if err != nil {
		t.Fatal(err)
	}
	tel.Log.Info("order saved", "order_id", "x")
	tel.Metrics.Add(metrics.OrdersPlaced, 1)
	tel.Stop()

	var logs, emf int
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		l, err := metrics.Parse([]byte(line))
		switch {
		case errors.Is(err, metrics.ErrNotEMF):
			logs++
		case err != nil:
			t.Errorf("%v: %s", err, line)
		case l.Sum(metrics.OrdersPlaced) == 1 && l.Dims[metrics.DimService] == "publisher":
			emf++
		}
	}
	if logs != 1 || emf != 1 {
		t.Errorf("stdout has %d log and %d EMF lines; want 1 and 1:\n%s", logs, emf, out.String())
	}
}

func TestStartRefusesABadCollectorURL(t *testing.T) {
	if _, err := Start(context.Background(), &integration.SyncBuffer{}, "publisher", Config{Env: "test", MetricsInterval: time.Hour, OTLPEndpoint: "localhost:4318"}); err == nil {
		t.Error("Start with OTEL_EXPORTER_OTLP_ENDPOINT=localhost:4318: nil error; want one")
	}
}

// silentEndpoint accepts connections and reads requests but never answers
// them, as a black-holed AWS endpoint does, until the test ends.
func silentEndpoint(t *testing.T) string {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL
}

// TestTransportTimeoutsBoundASilentEndpoint: a call to an endpoint that
// never answers returns after the response-header timeout, not never; SQS's
// calls wait longer, for their long poll.
func TestTransportTimeoutsBoundASilentEndpoint(t *testing.T) {
	cfg := aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint:     aws.String(silentEndpoint(t)),
		RetryMaxAttempts: 1, // one attempt: its bound is the transport's
	}
	const short, long = 200 * time.Millisecond, 800 * time.Millisecond
	configureClients(&cfg, nil, transportTimeouts{dial: time.Second, tlsHandshake: time.Second, responseHeader: short, longPoll: long})

	calls := []struct {
		name string
		call func(context.Context) error
		want time.Duration
	}{
		{"DynamoDB.PutItem", func(ctx context.Context) error {
			_, err := dynamodb.NewFromConfig(cfg).PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("orders"), Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "x"}}})
			return err
		}, short},
		{"SNS.Publish", func(ctx context.Context) error {
			_, err := sns.NewFromConfig(cfg).Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:eu-west-1:123456789012:orders"), Message: aws.String("{}")})
			return err
		}, short},
		{"SQS.ReceiveMessage", func(ctx context.Context) error {
			_, err := sqs.NewFromConfig(cfg).ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String("https://sqs.eu-west-1.amazonaws.com/123456789012/q"), WaitTimeSeconds: 0})
			return err
		}, long},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			// The test's own deadline, far above the bound: reaching it
			// means the transport never gave up.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := c.call(ctx)
			took := time.Since(start)
			if err == nil {
				t.Fatal("call to an endpoint that never answers: nil error")
			}
			if ctx.Err() != nil {
				t.Fatalf("call returned only at the test's own deadline (%v): no transport timeout; err: %v", took.Round(time.Millisecond), err)
			}
			if took < c.want || took > c.want+time.Second {
				t.Errorf("call returned after %v; want about %v (its response-header timeout); err: %v", took.Round(time.Millisecond), c.want, err)
			}
		})
	}
}

// TestClientsAreConfigured: the clients the binaries build from Start's
// configuration get the transport timeouts (SQS's above its longest long
// poll) and, with tracing on, the SDK's tracing.
func TestClientsAreConfigured(t *testing.T) {
	if sdkTimeouts.longPoll <= sqsMaxWaitTime || sdkTimeouts.responseHeader <= 0 || sdkTimeouts.dial <= 0 || sdkTimeouts.tlsHandshake <= 0 {
		t.Fatalf("sdkTimeouts = %+v; want every one set and longPoll above %v", sdkTimeouts, sqsMaxWaitTime)
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	for _, endpoint := range []string{"", "http://127.0.0.1:4318"} {
		tel, err := Start(context.Background(), &integration.SyncBuffer{}, "publisher", Config{Env: "test", MetricsInterval: time.Hour, OTLPEndpoint: endpoint, TraceSampleRatio: 1})
		if err != nil {
			t.Fatal(err)
		}
		tel.Stop()
		for _, c := range []struct {
			name   string
			http   aws.HTTPClient
			tracer smithytracing.TracerProvider
			want   time.Duration
		}{
			{"dynamodb", dynamodb.NewFromConfig(tel.AWS).Options().HTTPClient, dynamodb.NewFromConfig(tel.AWS).Options().TracerProvider, sdkTimeouts.responseHeader},
			{"sns", sns.NewFromConfig(tel.AWS).Options().HTTPClient, sns.NewFromConfig(tel.AWS).Options().TracerProvider, sdkTimeouts.responseHeader},
			{"sqs", sqs.NewFromConfig(tel.AWS).Options().HTTPClient, sqs.NewFromConfig(tel.AWS).Options().TracerProvider, sdkTimeouts.longPoll},
		} {
			b, ok := c.http.(*awshttp.BuildableClient)
			if !ok {
				t.Fatalf("%s: HTTP client %T; want *awshttp.BuildableClient", c.name, c.http)
			}
			tr := b.GetTransport()
			if tr.ResponseHeaderTimeout != c.want || tr.TLSHandshakeTimeout != sdkTimeouts.tlsHandshake || b.GetDialer().Timeout != sdkTimeouts.dial {
				t.Errorf("%s: response header %v, TLS %v, dial %v; want %v, %v, %v", c.name, tr.ResponseHeaderTimeout, tr.TLSHandshakeTimeout, b.GetDialer().Timeout, c.want, sdkTimeouts.tlsHandshake, sdkTimeouts.dial)
			}
			_, nop := c.tracer.(*smithytracing.NopTracerProvider)
			if traced := !nop; traced != (endpoint != "") {
				t.Errorf("%s with OTEL_EXPORTER_OTLP_ENDPOINT=%q: tracer provider %T; want traced %t", c.name, endpoint, c.tracer, endpoint != "")
			}
		}
	}
}
