package checkoutdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/checkout/checkoutdb"
	"github.com/pubsub-app/pubsub/internal/tracing/tracingtest"
)

// TestCreateStoresTheTrace: with tracing on, an order is stored with the
// trace context of the request that placed it, which Get and Claim return,
// so the outbox can publish it in that trace. (TestCreate: with tracing off,
// nothing more is stored.)
func TestCreateStoresTheTrace(t *testing.T) {
	tracingtest.Install(t)
	ctx, span := otel.Tracer("test").Start(context.Background(), "POST /orders")
	defer span.End()
	want := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, want)

	db := newFakeDB(t)
	store := checkoutdb.New(db, testTable)
	if err := store.Create(ctx, testOrder(1), now.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	stored, ok := db.items[testID(1)]["traceContext"].(*types.AttributeValueMemberM)
	if !ok || len(stored.Value) != 1 || str(stored.Value["X-Amzn-Trace-Id"]) != want["X-Amzn-Trace-Id"] {
		t.Fatalf("stored traceContext = %#v; want {X-Amzn-Trace-Id: %s}", db.items[testID(1)]["traceContext"], want["X-Amzn-Trace-Id"])
	}
	rec, err := store.Get(context.Background(), testID(1))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string(want), rec.TraceContext); diff != "" {
		t.Errorf("Get: TraceContext (-want +got):\n%s", diff)
	}
	claimed, err := store.Claim(context.Background(), checkout.Due{ID: testID(1), LeaseUntil: rec.LeaseUntil}, now.Add(time.Minute), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string(want), claimed.TraceContext); diff != "" {
		t.Errorf("Claim: TraceContext (-want +got):\n%s", diff)
	}
}
