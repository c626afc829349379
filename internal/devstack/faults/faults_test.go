package faults

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
)

// backend answers every call as a healthy service would, as far as the
// clients below need: an empty JSON object, or SNS's PublishResponse.
func backend(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") == "" {
			w.Header().Set("Content-Type", "text/xml")
			_, _ = w.Write([]byte(`<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>m-1</MessageId></PublishResult><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PublishResponse>`))
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func start(t *testing.T) *Proxy {
	t.Helper()
	p, err := Start(backend(t).URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// config is an SDK configuration for the proxy that makes one attempt per
// call, so each call shows the fault itself.
func config(p *Proxy, appID string) aws.Config {
	return aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
		BaseEndpoint: aws.String(p.URL()),
		AppID:        appID,
		Retryer:      func() aws.Retryer { return retry.AddWithMaxAttempts(retry.NewStandard(), 1) },
	}
}

type calls struct {
	dynamodb func(ctx context.Context) error
	sqs      func(ctx context.Context) error
	sns      func(ctx context.Context) error
}

func clients(cfg aws.Config) calls {
	db, q, n := dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg), sns.NewFromConfig(cfg)
	return calls{
		dynamodb: func(ctx context.Context) error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String("t"), Item: map[string]ddbtypes.AttributeValue{"id": &ddbtypes.AttributeValueMemberS{Value: "1"}}})
			return err
		},
		sqs: func(ctx context.Context) error {
			_, err := q.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String("http://q/123456789012/q")})
			return err
		},
		sns: func(ctx context.Context) error {
			_, err := n.Publish(ctx, &sns.PublishInput{TopicArn: aws.String("arn:aws:sns:eu-west-1:123456789012:t"), Message: aws.String("m")})
			return err
		},
	}
}

// TestErrorsInEachServicesWireFormat checks that the SDK reads each injected
// error as the service's own, and classifies it as AWS would have it
// retried: throttles as throttles, 5xx as retryable.
func TestErrorsInEachServicesWireFormat(t *testing.T) {
	p := start(t)
	c := clients(config(p, ""))
	throttle := retry.IsErrorThrottles(retry.DefaultThrottles)
	retryable := retry.IsErrorRetryables(retry.DefaultRetryables)
	for _, tc := range []struct {
		service  string
		call     func(context.Context) error
		kind     Kind
		code     string
		throttle bool
	}{
		{"dynamodb", c.dynamodb, Throttle, "ProvisionedThroughputExceededException", true},
		{"dynamodb", c.dynamodb, ThrottleAlt, "ThrottlingException", true},
		{"dynamodb", c.dynamodb, ServerError, "InternalFailure", false},
		{"dynamodb", c.dynamodb, Unavailable, "ServiceUnavailable", false},
		{"sqs", c.sqs, Throttle, "ThrottlingException", true},
		{"sqs", c.sqs, ThrottleAlt, "RequestThrottled", true},
		{"sqs", c.sqs, ServerError, "InternalFailure", false},
		{"sqs", c.sqs, Unavailable, "ServiceUnavailable", false},
		{"sns", c.sns, Throttle, "Throttling", true},
		{"sns", c.sns, ServerError, "InternalFailure", false},
		{"sns", c.sns, Unavailable, "ServiceUnavailable", false},
	} {
		t.Run(tc.service+" "+string(tc.kind), func(t *testing.T) {
			p.Set(Rule{Service: tc.service, Kind: tc.kind})
			err := tc.call(context.Background())
			var api smithy.APIError
			if !errors.As(err, &api) {
				t.Fatalf("error = %v; want an API error %s", err, tc.code)
			}
			if api.ErrorCode() != tc.code {
				t.Errorf("error code = %q; want %q (%v)", api.ErrorCode(), tc.code, err)
			}
			if tc.service == "dynamodb" && tc.kind == Throttle {
				var pte *ddbtypes.ProvisionedThroughputExceededException
				if !errors.As(err, &pte) {
					t.Errorf("error = %T; want *types.ProvisionedThroughputExceededException", err)
				}
			}
			if got := throttle.IsErrorThrottle(err) == aws.TrueTernary; got != tc.throttle {
				t.Errorf("SDK sees a throttle: %v; want %v", got, tc.throttle)
			}
			if retryable.IsErrorRetryable(err) != aws.TrueTernary && !tc.throttle {
				t.Errorf("SDK does not retry %v; want it retryable", err)
			}
		})
	}
	p.Set()
	for name, call := range map[string]func(context.Context) error{"dynamodb": c.dynamodb, "sqs": c.sqs, "sns": c.sns} {
		if err := call(context.Background()); err != nil {
			t.Errorf("%s with no rule: %v; want it through", name, err)
		}
	}
}

func TestRulesMatchServiceAPIAndCaller(t *testing.T) {
	p := start(t)
	fulfilment, publisher := clients(config(p, "fulfilment")), clients(config(p, "publisher"))
	p.Set(Rule{Service: "dynamodb", APIs: []string{"PutItem"}, Callers: []string{"fulfilment"}, Kind: Unavailable})
	if err := fulfilment.dynamodb(context.Background()); err == nil {
		t.Error("fulfilment's PutItem went through; want 503")
	}
	if err := publisher.dynamodb(context.Background()); err != nil {
		t.Errorf("publisher's PutItem: %v; want it through (the rule names fulfilment)", err)
	}
	if err := fulfilment.sqs(context.Background()); err != nil {
		t.Errorf("fulfilment's ReceiveMessage: %v; want it through (the rule names dynamodb)", err)
	}
	if got := p.Injected()[Fault{Caller: "fulfilment", Service: "dynamodb", API: "PutItem", Kind: Unavailable}]; got != 1 {
		t.Errorf("injected = %v; want fulfilment dynamodb:PutItem 503 once", p.Injected())
	}
}

func TestShareOfCalls(t *testing.T) {
	p := start(t)
	c := clients(config(p, ""))
	p.Set(Rule{Service: "sqs", Kind: ServerError, Share: 0.2})
	const n = 300
	failed := 0
	for range n {
		if c.sqs(context.Background()) != nil {
			failed++
		}
	}
	// Binomial(300, 0.2): mean 60, sd 6.9; 30..90 is beyond 4 sd either way.
	if failed < 30 || failed > 90 {
		t.Errorf("%d of %d calls failed; want about 20%%", failed, n)
	}
	if got := p.Injected()[Fault{Service: "sqs", API: "ReceiveMessage", Kind: ServerError}]; got != failed {
		t.Errorf("Injected counts %d; want the %d failures seen", got, failed)
	}
}

func TestLatencyResetAndBlackHole(t *testing.T) {
	p := start(t)
	c := clients(config(p, ""))

	p.Set(Rule{Service: "dynamodb", Kind: Latency, Delay: 300 * time.Millisecond})
	began := time.Now()
	if err := c.dynamodb(context.Background()); err != nil {
		t.Errorf("delayed call: %v; want it through", err)
	}
	if took := time.Since(began); took < 300*time.Millisecond {
		t.Errorf("delayed call took %v; want at least 300ms", took)
	}

	p.Set(Rule{Service: "sqs", Kind: Reset})
	err := c.sqs(context.Background())
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("reset call: %v; want connection reset by peer", err)
	}
	if retry.IsErrorRetryables(retry.DefaultRetryables).IsErrorRetryable(err) != aws.TrueTernary {
		t.Errorf("SDK does not retry a reset connection: %v", err)
	}

	p.Set(Rule{Service: "sns", Kind: BlackHole})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := c.sns(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("black-holed call: %v; want it to hang until the deadline", err)
	}
}
