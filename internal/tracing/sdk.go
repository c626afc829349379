package tracing

import (
	"context"

	smithytracing "github.com/aws/smithy-go/tracing"
	"github.com/aws/smithy-go/tracing/smithyoteltracing"
	"go.opentelemetry.io/otel/trace"
)

// AWSTracerProvider is what the AWS SDK's clients trace their calls with
// (aws.Config.TracerProvider): one client span per call, named as the SDK
// names it (service id and operation: "DynamoDB.PutItem", "SNS.Publish",
// "SQS.ReceiveMessage"), with rpc.system aws-api, rpc.service and rpc.method,
// which the collector's awsxray exporter turns into an AWS subsegment. It
// adapts tp with smithy-go's OpenTelemetry adapter, the SDK's own tracing
// hooks (otelaws, the contrib middleware this replaces, was deprecated in
// September 2026).
//
// The SDK also opens about ten internal spans inside every call
// (OperationSerializer, ResolveEndpoint, GetIdentity, SignRequest,
// RetryLoop, Attempt, DoHTTPRequest, ...): each would be one more X-Ray
// subsegment per AWS call, in every order's trace, saying how the SDK works
// rather than what the order did. Those are dropped here, before they
// exist; the call's own span keeps its duration, status and error.
func AWSTracerProvider(tp trace.TracerProvider) smithytracing.TracerProvider {
	return callsOnly{smithyoteltracing.Adapt(tp)}
}

type callsOnly struct{ next smithytracing.TracerProvider }

func (p callsOnly) Tracer(scope string, opts ...smithytracing.TracerOption) smithytracing.Tracer {
	return callsOnlyTracer{p.next.Tracer(scope, opts...)}
}

type callsOnlyTracer struct{ next smithytracing.Tracer }

var nopSpan = func() smithytracing.Span {
	_, s := smithytracing.NopTracerProvider{}.Tracer("").StartSpan(context.Background(), "")
	return s
}()

func (t callsOnlyTracer) StartSpan(ctx context.Context, name string, opts ...smithytracing.SpanOption) (context.Context, smithytracing.Span) {
	var o smithytracing.SpanOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.Kind != smithytracing.SpanKindClient {
		// ctx unchanged: the adapter expects every span it finds in a
		// context to be one of its own.
		return ctx, nopSpan
	}
	return t.next.StartSpan(ctx, name, opts...)
}
