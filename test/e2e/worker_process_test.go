package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"golang.org/x/sync/errgroup"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/devstack/procgroup"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

// TestWorkerProcessStoppedMidBatch stops the fulfilment binary in the middle
// of 200 orders, by SIGTERM (ECS stopping the task: it drains and exits 0)
// and by SIGKILL (a crash: its in-flight messages reappear after the
// visibility timeout), then starts a new one: all 200 orders are fulfilled,
// none twice.
func TestWorkerProcessStoppedMidBatch(t *testing.T) {
	for _, tc := range []struct {
		name   string
		signal syscall.Signal
	}{
		{"SIGTERM", syscall.SIGTERM},
		{"SIGKILL", syscall.SIGKILL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			emu := integration.Start(t)
			_, dep := emu.Deploy(t)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			svc := dep.Services["fulfilment"]
			// A short visibility timeout, so the killed worker's messages come back soon.
			if _, err := sqs.NewFromConfig(emu.Config).SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
				QueueUrl: aws.String(svc.QueueURL), Attributes: map[string]string{"VisibilityTimeout": "5"},
			}); err != nil {
				t.Fatal(err)
			}
			const n = 200
			publishOrders(ctx, t, emu, dep.Topics["publisher:ordersTopic"], n)

			logs := &syncBuffer{}
			g := procgroup.New(logs)
			env := append(os.Environ(), awsEnv(t, emu, "fulfilment")...)
			env = append(env, svc.Environ()...)
			env = append(env, "WORKER_WAIT_TIME=1s", "WORKER_VISIBILITY_TIMEOUT=5s", "WORKER_CONCURRENCY=4")
			bin := filepath.Join(binaries(t), "fulfilment")
			first, err := g.Start("fulfilment", bin, nil, env)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				g.Stop(10 * time.Second)
				if t.Failed() {
					t.Logf("worker output:\n%s", logs.String())
				}
			})
			fulfilled := func() int {
				c := 0
				for _, l := range logLines(logs.String(), "fulfilment") {
					if l["outcome"] == "fulfilled" {
						c++
					}
				}
				return c
			}
			waitUntil(t, "the first worker to be part-way through", 2*time.Minute, func() bool { return fulfilled() >= 40 })
			first.Signal(tc.signal)
			<-first.Done()
			before := fulfilled()
			err = first.Err()
			switch tc.signal {
			case syscall.SIGTERM:
				if err != nil {
					t.Errorf("worker exited with %v after SIGTERM, want status 0", err)
				}
			case syscall.SIGKILL:
				if err == nil {
					t.Errorf("worker exited cleanly after SIGKILL?")
				}
			}
			t.Logf("first worker fulfilled %d of %d before %s", before, n, tc.name)
			if before >= n {
				t.Fatalf("the first worker finished all %d orders before it was stopped; the test proves nothing", n)
			}

			if _, err := g.Start("fulfilment", bin, nil, env); err != nil {
				t.Fatal(err)
			}
			db := dynamodb.NewFromConfig(emu.Config)
			table := svc.Tables["fulfilmentsTable"]
			waitUntil(t, "all orders fulfilled", 3*time.Minute, func() bool {
				out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), Select: "COUNT", ConsistentRead: aws.Bool(true)})
				return err == nil && out.Count == n && out.LastEvaluatedKey == nil
			})
			time.Sleep(6 * time.Second) // anything redelivered shows up within one visibility timeout
			// The table holds n fulfilments (no loss), and no order's fulfilment
			// was written twice. A worker killed between its write and its log
			// line leaves a redelivery that finds the write: a "duplicate".
			fulfilledTimes, seen := map[string]int{}, map[string]bool{}
			for _, l := range logLines(logs.String(), "fulfilment") {
				id := fmt.Sprint(l["order_id"])
				switch l["outcome"] {
				case "fulfilled":
					fulfilledTimes[id]++
					seen[id] = true
				case "duplicate":
					seen[id] = true
				}
			}
			if len(seen) != n {
				t.Errorf("the workers logged %d orders, want %d", len(seen), n)
			}
			for id, c := range fulfilledTimes {
				if c != 1 {
					t.Errorf("order %s fulfilled %d times, want once", id, c)
				}
			}
		})
	}
}

// publishOrders publishes n orders to the topic, 8 at a time.
func publishOrders(ctx context.Context, t *testing.T, emu *integration.Emulator, topicARN string, n int) {
	t.Helper()
	pub := events.NewPublisher(sns.NewFromConfig(emu.Config), topicARN)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range n {
		g.Go(func() error {
			o := order.Order{ID: order.NewID(), Customer: "Order " + strconv.Itoa(i), Amount: money.Cents(1000 + i), CreatedAt: time.Now().UTC()}
			_, err := pub.Publish(ctx, events.OrderPlaced{Order: o})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}
