package tracing_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/pubsub-app/pubsub/internal/tracing"
	"github.com/pubsub-app/pubsub/internal/tracing/tracingtest"
)

// TestAWSTracerProviderOneSpanPerCall: an SDK call made with
// AWSTracerProvider is one client span, named as the SDK names the
// operation, a child of the span it serves, with the attributes the awsxray
// exporter reads, and an error status when the call fails; the SDK's
// internal spans (serializer, signing, retry loop, ...) are not recorded.
func TestAWSTracerProviderOneSpanPerCall(t *testing.T) {
	exp := tracingtest.Install(t)
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(status)
		if status == http.StatusOK {
			w.Write([]byte(`{}`))
		} else {
			w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"no table"}`))
		}
	}))
	defer srv.Close()
	db := dynamodb.NewFromConfig(aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	}, func(o *dynamodb.Options) { o.TracerProvider = tracing.AWSTracerProvider(otel.GetTracerProvider()) })
	put := &dynamodb.PutItemInput{TableName: aws.String("fulfilments"), Item: map[string]ddbtypes.AttributeValue{"orderId": &ddbtypes.AttributeValueMemberS{Value: "o1"}}}

	ctx, msg := otel.Tracer("test").Start(context.Background(), "fulfilment process", trace.WithSpanKind(trace.SpanKindConsumer))
	if _, err := db.PutItem(ctx, put); err != nil {
		t.Fatal(err)
	}
	status = http.StatusBadRequest
	if _, err := db.PutItem(ctx, put); err == nil {
		t.Fatal("PutItem answered 400: nil error")
	}
	msg.End()

	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
	}
	if want := []string{"DynamoDB.PutItem", "DynamoDB.PutItem", "fulfilment process"}; !slices.Equal(names, want) {
		t.Fatalf("spans %q; want %q", names, want)
	}
	for i, s := range exp.GetSpans()[:2] {
		if s.SpanKind != trace.SpanKindClient || s.Parent.SpanID() != msg.SpanContext().SpanID() || s.SpanContext.TraceID() != msg.SpanContext().TraceID() {
			t.Errorf("span %d: kind %v, parent %s; want client, child of %s", i, s.SpanKind, s.Parent.SpanID(), msg.SpanContext().SpanID())
		}
		for k, want := range map[string]string{"rpc.system": "aws-api", "rpc.service": "DynamoDB", "rpc.method": "PutItem"} {
			if got, _ := tracingtest.Attr(s, k); got != want {
				t.Errorf("span %d: %s = %q; want %q", i, k, got, want)
			}
		}
		if want := []codes.Code{codes.Ok, codes.Error}[i]; s.Status.Code != want {
			t.Errorf("span %d: status %v; want %v", i, s.Status.Code, want)
		}
	}
}
