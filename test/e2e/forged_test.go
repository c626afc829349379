package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

// TestForgedNotificationIsNeverProcessed sends each worker's queue, straight
// (SendMessage, as anyone the queue's policy lets in could), a well-formed
// notification of a valid order that names our topic, but in account
// 999999999999: a topic anyone can create. The worker binaries, configured
// as Copilot configures them (the queue URL and the injected names), never
// process it: no fulfilment, no coupon; it is received 3 times (the
// manifests' dead_letter.tries) and lands in each dead-letter queue. An
// order placed through the form in the same run, published to the real
// topic, is processed by both.
func TestForgedNotificationIsNeverProcessed(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	ours, err := arn.Parse(dep.Topics["publisher:ordersTopic"])
	if err != nil {
		t.Fatalf("the deployed topic's ARN: %v", err)
	}
	forgedFrom := ours
	forgedFrom.AccountID = "999999999999"
	forged := order.Order{ID: order.NewID(), Customer: "Mallory", Amount: money.Cents(99_999), CreatedAt: time.Now().UTC()}
	msg, err := events.Marshal(events.OrderPlaced{Order: forged})
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{
		"Type": "Notification", "MessageId": "forged-1", "TopicArn": forgedFrom.String(), "Message": string(msg),
		"Timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "SignatureVersion": "1",
		"MessageAttributes": map[string]any{
			"amount":          map[string]string{"Type": "Number", "Value": forged.Amount.String()},
			"X-Amzn-Trace-Id": map[string]string{"Type": "String", "Value": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := sqs.NewFromConfig(emu.Config)
	workers := []string{"fulfilment", "promotion"}
	for _, w := range workers {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String(dep.Services[w].QueueURL), MessageBody: aws.String(string(body)),
		}); err != nil {
			t.Fatal(err)
		}
	}

	s := startServices(t, emu, dep, nil)
	genuine := placeOrder(t, s.BaseURL, "Grace Hopper", "95.00") // through the real topic, to both workers

	waitUntil(t, "both workers to process the genuine order and dead-letter the forged one", 2*time.Minute, func() bool {
		for _, w := range workers {
			if got := s.Processed(w)[forged.ID]; len(got) > 0 {
				t.Fatalf("%s processed the order %s of a notification from %s, not our topic %s: %q", w, forged.ID, forgedFrom, ours, got)
			}
		}
		return len(s.Processed("fulfilment")[genuine]) > 0 && len(s.Processed("promotion")[genuine]) > 0 &&
			emu.QueueDepth(ctx, t, dep.Services["fulfilment"].DLQURL) == 1 && emu.QueueDepth(ctx, t, dep.Services["promotion"].DLQURL) == 1
	})

	db := dynamodb.NewFromConfig(emu.Config)
	for _, tc := range []struct{ worker, table string }{
		{"fulfilment", dep.Services["fulfilment"].Tables["fulfilmentsTable"]},
		{"promotion", dep.Services["promotion"].Tables["couponsTable"]},
	} {
		if got := s.Processed(tc.worker)[forged.ID]; len(got) > 0 {
			t.Errorf("%s processed the forged order %s: %q", tc.worker, forged.ID, got)
		}
		for id, want := range map[string]bool{forged.ID: false, genuine: true} {
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
				TableName: aws.String(tc.table), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{"orderId": &types.AttributeValueMemberS{Value: id}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Item != nil; got != want {
				t.Errorf("%s: an item for order %s: %t; want %t (forged %s, genuine %s)", tc.table, id, got, want, forged.ID, genuine)
			}
		}

		// Received 3 times, each refused for its topic, the last labelled.
		var refusals, last int
		for _, l := range logLines(s.Logs.String(), tc.worker) {
			if reason := fmt.Sprint(l["reason"]); l["outcome"] == "poison" && strings.Contains(reason, forgedFrom.String()) {
				refusals++
				if l["dead_letter_next"] == true {
					last++
				}
				if _, ok := l["order_id"]; ok {
					t.Errorf("%s logged the forged notification with order_id %v; want nothing read from it", tc.worker, l["order_id"])
				}
			}
		}
		if refusals != 3 || last != 1 {
			t.Errorf("%s refused the forged notification %d times, %d of them labelled the last; want 3 and 1 (dead_letter.tries)", tc.worker, refusals, last)
		}

		// What waits in the dead-letter queue is the forged message itself.
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(dep.Services[tc.worker].DLQURL), MaxNumberOfMessages: 10, VisibilityTimeout: 0, WaitTimeSeconds: 1,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) != 1 || aws.ToString(out.Messages[0].Body) != string(body) {
			t.Errorf("%s's dead-letter queue holds %d messages; want just the forged one", tc.worker, len(out.Messages))
		}
	}
}
