package topology_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

// TestFilterPolicyRoutesOrders publishes orders either side of the promotion
// threshold to the provisioned topic and reads what reached each queue, raw:
// the subscription's filter policy, not any handler, decides.
func TestFilterPolicyRoutesOrders(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	pub := events.NewPublisher(sns.NewFromConfig(emu.Config), dep.Topics["publisher:ordersTopic"])
	for _, amount := range []string{"20.00", "79.99", "80.00", "150.00"} {
		c, err := money.Parse(amount)
		if err != nil {
			t.Fatal(err)
		}
		o := order.Order{ID: order.NewID(), Customer: "Ada Lovelace", Amount: c, CreatedAt: time.Now()}
		if _, err := pub.Publish(ctx, events.OrderPlaced{Order: o}); err != nil {
			t.Fatal(err)
		}
	}

	client := sqs.NewFromConfig(emu.Config)
	for _, tc := range []struct {
		svc  string
		want []string
	}{
		{"fulfilment", []string{"150.00", "20.00", "79.99", "80.00"}},
		{"promotion", []string{"150.00", "80.00"}},
	} {
		got := drainAmounts(ctx, t, client, dep.Services[tc.svc].QueueURL, len(tc.want))
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("amounts that reached the %s queue (-want +got):\n%s", tc.svc, diff)
		}
	}
}

// drainAmounts receives until the queue has yielded want messages and then
// stays empty for one short poll, and returns the decoded amounts, sorted.
func drainAmounts(ctx context.Context, t *testing.T, c *sqs.Client, url string, want int) []string {
	t.Helper()
	var got []string
	for empty := 0; empty < 2; {
		wait := int32(1)
		if len(got) < want {
			wait = 5
		}
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: wait})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			if len(got) >= want {
				empty++
			} else if ctx.Err() != nil {
				t.Fatalf("queue %s yielded %d messages, want %d", url, len(got), want)
			}
			continue
		}
		for _, m := range out.Messages {
			got = append(got, amountOf(t, m))
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(got)
	return got
}

func amountOf(t *testing.T, m sqstypes.Message) string {
	t.Helper()
	env, err := events.Unwrap([]byte(aws.ToString(m.Body)))
	if err != nil {
		t.Fatal(err)
	}
	if a := env.MessageAttributes[events.AmountAttribute]; a.Type != "Number" {
		t.Errorf("attribute amount has type %q, want Number", a.Type)
	}
	e, err := events.Decode([]byte(env.Message))
	if err != nil {
		t.Fatal(err)
	}
	return e.Order.Amount.String()
}
