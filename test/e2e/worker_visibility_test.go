package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/pubsub-app/pubsub/internal/devstack/integration"
)

// TestWorkersKeepSlowOrdersAndShedBadMessages runs the worker binaries with
// every DynamoDB call slowed past the queues' visibility timeout, and a
// malformed message in each queue. Each slow order is handled exactly once
// (the heartbeat extends its visibility while the handler runs), and each
// malformed message reaches its dead-letter queue after its receives (made
// visible again early each time). Both need sqs:ChangeMessageVisibility on
// AWS, which the IAM check after the tests holds the rendered stacks to.
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

	client := sqs.NewFromConfig(emu.Config)
	extra := map[string][]string{}
	for _, w := range []string{"fulfilment", "promotion"} {
		if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
			QueueUrl:   aws.String(dep.Services[w].QueueURL),
			Attributes: map[string]string{"VisibilityTimeout": strconv.Itoa(int(visibility / time.Second))},
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:    aws.String(dep.Services[w].QueueURL),
			MessageBody: aws.String(`{"Type":"Notification","Message":"not an event"}`),
		}); err != nil {
			t.Fatal(err)
		}
		extra[w] = []string{"WORKER_VISIBILITY_TIMEOUT=" + visibility.String(), "AWS_ENDPOINT_URL_DYNAMODB=" + slow}
	}
	s := startServices(t, emu, dep, extra)
	id := placeOrder(t, s.BaseURL, "Grace Hopper", "95.00")

	waitUntil(t, "both workers to handle the slow order and dead-letter the malformed messages", 2*time.Minute, func() bool {
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
