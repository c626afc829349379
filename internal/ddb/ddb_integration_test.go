package ddb_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/pubsub-app/pubsub/internal/ddb"
	"github.com/pubsub-app/pubsub/internal/devstack/faults"
	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// TestProbe checks the probe against the emulator's DynamoDB: it answers nil
// on a healthy table and writes nothing; through a fault proxy that throttles
// the table, it returns DynamoDB's throttling error, which the engine takes
// for a dependency's bad minute.
func TestProbe(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	table := dep.Services["fulfilment"].Tables["fulfilmentsTable"]
	db := dynamodb.NewFromConfig(emu.Config)

	if err := ddb.Probe(ctx, db, table, "orderId"); err != nil {
		t.Fatalf("Probe of a healthy table: %v; want nil", err)
	}
	out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 0 {
		t.Errorf("the table holds %d items after a probe; want none", len(out.Items))
	}

	p, err := faults.Start(emu.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.Set(faults.Rule{Service: "dynamodb", Kind: faults.Throttle})
	throttled := dynamodb.NewFromConfig(emu.Config, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(p.URL())
		o.RetryMaxAttempts = 1
	})
	err = ddb.Probe(ctx, throttled, table, "orderId")
	if err == nil || !worker.Transient(err) {
		t.Errorf("Probe of a throttled table: %v; want a transient error", err)
	}
}
