package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
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

// TestWorkersKeepSlowOrdersAndShedBadMessages runs the worker binaries with
// every DynamoDB call slowed past the queues' visibility timeout, and a
// forged notification in each queue: sent straight (SendMessage, as anyone
// the queue's policy lets in could), well-formed, of a valid order, naming
// our topic but in account 999999999999 (a topic anyone can create). Each
// slow order, placed through the form and published to the real topic, is
// handled exactly once (the heartbeat extends its visibility while the
// handler runs). The forged one is never processed (no fulfilment, no
// coupon): it is received 3 times (the manifests' dead_letter.tries, made
// visible again early each time) and lands in each dead-letter queue. Both
// need sqs:ChangeMessageVisibility on AWS, which the IAM check after the
// tests holds the rendered stacks to.
func TestWorkersKeepSlowOrdersAndShedBadMessages(t *testing.T) {
	emu := integration.Start(t)
	_, dep := emu.Deploy(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The heartbeat ticks every third of the visibility timeout and first
	// extends a message at the second tick after its receive: its first call
	// must reach the emulator within a third of the timeout (a second at 3s,
	// too little on a loaded machine). The slowness must exceed the timeout,
	// so that only the heartbeat keeps the order hidden, and stay under the
	// SDK's 10s wait for response headers (cmd/internal/telemetry), which a
	// slowed DynamoDB call would otherwise hit and retry.
	const visibility, slowness = 5 * time.Second, 7 * time.Second
	slow := slowProxy(t, recordingEndpoint(t, emu), slowness)

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
	extra := map[string][]string{}
	workers := []string{"fulfilment", "promotion"}
	for _, w := range workers {
		if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
			QueueUrl:   aws.String(dep.Services[w].QueueURL),
			Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(int(visibility / time.Second))},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:    aws.String(dep.Services[w].QueueURL),
			MessageBody: aws.String(string(body)),
		}); err != nil {
			t.Fatal(err)
		}
		extra[w] = []string{"WORKER_VISIBILITY_TIMEOUT=" + visibility.String(), "AWS_ENDPOINT_URL_DYNAMODB=" + slow}
	}
	s := startServices(t, emu, dep, extra)
	id := placeOrder(t, s.BaseURL, "Grace Hopper", "95.00")

	waitUntil(t, "both workers to handle the slow order and dead-letter the forged one", 2*time.Minute, func() bool {
		for _, w := range workers {
			if got := s.Processed(w)[forged.ID]; len(got) > 0 {
				t.Fatalf("%s processed the order %s of a notification from %s, not our topic %s: %q", w, forged.ID, forgedFrom, ours, got)
			}
		}
		return len(s.Processed("fulfilment")[id]) > 0 && len(s.Processed("promotion")[id]) > 0 &&
			emu.QueueDepth(ctx, t, dep.Services["fulfilment"].DLQURL) == 1 && emu.QueueDepth(ctx, t, dep.Services["promotion"].DLQURL) == 1
	})
	// One more visibility timeout: a message the heartbeat failed to keep
	// would come back and be handled a second time by now.
	time.Sleep(visibility + time.Second)
	for w, want := range map[string]string{"fulfilment": "fulfilled", "promotion": "coupon issued"} {
		if got := s.Processed(w)[id]; len(got) != 1 || got[0] != want {
			t.Errorf("%s outcomes for the slow order = %q; want exactly [%q] (handled once, kept invisible while it ran)", w, got, want)
		}
		// Slowed past the visibility timeout, or handled once proves no heartbeat.
		if d := handlerDuration(s, w, id); d <= visibility {
			t.Errorf("%s handled the slow order in %s; want longer than the visibility timeout (%s): are its DynamoDB calls routed through the slow proxy?", w, d, visibility)
		}
	}

	db := dynamodb.NewFromConfig(emu.Config)
	for _, tc := range []struct{ worker, table string }{
		{"fulfilment", dep.Services["fulfilment"].Tables["fulfilmentsTable"]},
		{"promotion", dep.Services["promotion"].Tables["couponsTable"]},
	} {
		if got := s.Processed(tc.worker)[forged.ID]; len(got) > 0 {
			t.Errorf("%s processed the forged order %s: %q", tc.worker, forged.ID, got)
		}
		for oid, want := range map[string]bool{forged.ID: false, id: true} {
			out, err := db.GetItem(ctx, &dynamodb.GetItemInput{
				TableName: aws.String(tc.table), ConsistentRead: aws.Bool(true),
				Key: map[string]types.AttributeValue{"orderId": &types.AttributeValueMemberS{Value: oid}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := out.Item != nil; got != want {
				t.Errorf("%s: an item for order %s: %t; want %t (forged %s, genuine %s)", tc.table, oid, got, want, forged.ID, id)
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

// handlerDuration is how long svc's handler took on order id (its "message processed" line's
// duration_ms; the last, if several).
func handlerDuration(s *Services, svc, id string) time.Duration {
	var d time.Duration
	for _, l := range logLines(s.Logs.String(), svc) {
		if ms, ok := l["duration_ms"].(float64); ok && l["msg"] == "message processed" && fmt.Sprint(l["order_id"]) == id {
			d = time.Duration(ms * float64(time.Millisecond))
		}
	}
	return d
}

// slowProxy forwards HTTP requests to target after holding each for d.
func slowProxy(t *testing.T, target string, d time.Duration) string {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		p.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}
