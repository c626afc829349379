package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

const (
	testID    = "6ba7b810-9dad-11d1-80b4-00c04fd430c8"
	testTopic = "arn:aws:sns:us-east-1:123456789012:pubsub-local-publisher-ordersTopic"
)

func testOrder() order.Order {
	return order.Order{
		ID:        testID,
		Customer:  "Ada Lovelace",
		Amount:    9550,
		CreatedAt: time.Date(2026, 5, 1, 12, 30, 0, 123456789, time.UTC),
	}
}

func TestMarshalWireFormat(t *testing.T) {
	b, err := events.Marshal(events.OrderPlaced{Order: testOrder()})
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	want := `{"type":"OrderPlaced","version":1,"order":{"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","customer":"Ada Lovelace","amount":"95.50","createdAt":"2026-05-01T12:30:00.123456789Z"}}`
	if got := string(b); got != want {
		t.Errorf("Marshal =\n%s\nwant\n%s", got, want)
	}
}

func TestMarshalDecodeRoundTrip(t *testing.T) {
	paris := time.FixedZone("CEST", 2*60*60)
	for _, tc := range []struct {
		name string
		o    order.Order
	}{
		{"typical", testOrder()},
		{"smallest amount", order.Order{ID: testID, Customer: "A", Amount: 1, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"largest amount", order.Order{ID: testID, Customer: "A", Amount: money.Max, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"unicode and markup", order.Order{ID: testID, Customer: `Zoë "李" <b>&</b> 🚀`, Amount: 710, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC)}},
		{"longest customer", order.Order{ID: testID, Customer: strings.Repeat("é", order.MaxCustomerLen), Amount: 100, CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"non-UTC time", order.Order{ID: testID, Customer: "Ada", Amount: 100, CreatedAt: time.Date(2026, 6, 1, 9, 0, 0, 0, paris)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := events.Marshal(events.OrderPlaced{Order: tc.o})
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := events.Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			// cmp compares times with Time.Equal: the same instant in any zone.
			if diff := cmp.Diff(events.OrderPlaced{Order: tc.o}, got); diff != "" {
				t.Errorf("Decode(Marshal(e)) (-want +got):\n%s", diff)
			}
			if loc := got.Order.CreatedAt.Location(); loc != time.UTC {
				t.Errorf("decoded CreatedAt location = %v; want UTC", loc)
			}
		})
	}
}

// eventJSON returns a valid OrderPlaced body after applying edit to its
// decoded form, so each error case differs from a good event in one way.
func eventJSON(t *testing.T, edit func(ev, o map[string]any)) string {
	t.Helper()
	o := map[string]any{"id": testID, "customer": "Ada Lovelace", "amount": "95.50", "createdAt": "2026-05-01T12:30:00Z"}
	ev := map[string]any{"type": "OrderPlaced", "version": 1, "order": o}
	if edit != nil {
		edit(ev, o)
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDecodeGood(t *testing.T) {
	got, err := events.Decode([]byte(eventJSON(t, func(ev, o map[string]any) {
		o["customer"] = "  Ada Lovelace  "
		o["amount"] = "95.5"
		o["createdAt"] = "2026-05-01T14:30:00+02:00"
	})))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := events.OrderPlaced{Order: order.Order{ID: testID, Customer: "Ada Lovelace", Amount: 9550, CreatedAt: time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := eventJSON(t, nil)
	for _, tc := range []struct {
		name string
		body string
	}{
		{name: "empty", body: ""},
		{name: "bad JSON", body: `{"type":`},
		{name: "not an object", body: `[1,2]`},
		{name: "null", body: `null`},
		{name: "string", body: `"OrderPlaced"`},
		{name: "trailing object", body: good + ` {}`},
		{name: "trailing garbage", body: good + `x`},
		{name: "trailing number", body: good + "\n1"},
		{name: "trailing brace", body: good + `}`},
		{name: "trailing bracket", body: good + `]`},
		{name: "wrong type", body: eventJSON(t, func(ev, o map[string]any) { ev["type"] = "OrderShipped" })},
		{name: "missing type", body: eventJSON(t, func(ev, o map[string]any) { delete(ev, "type") })},
		{name: "type not a string", body: eventJSON(t, func(ev, o map[string]any) { ev["type"] = 1 })},
		{name: "wrong version", body: eventJSON(t, func(ev, o map[string]any) { ev["version"] = 2 })},
		{name: "missing version", body: eventJSON(t, func(ev, o map[string]any) { delete(ev, "version") })},
		{name: "version as string", body: eventJSON(t, func(ev, o map[string]any) { ev["version"] = "1" })},
		{name: "version fractional", body: eventJSON(t, func(ev, o map[string]any) { ev["version"] = 1.5 })},
		{name: "missing order", body: eventJSON(t, func(ev, o map[string]any) { delete(ev, "order") })},
		{name: "null order", body: eventJSON(t, func(ev, o map[string]any) { ev["order"] = nil })},
		{name: "order not an object", body: eventJSON(t, func(ev, o map[string]any) { ev["order"] = "x" })},
		{name: "invalid amount", body: eventJSON(t, func(ev, o map[string]any) { o["amount"] = "1.234" })},
		{name: "zero amount", body: eventJSON(t, func(ev, o map[string]any) { o["amount"] = "0.00" })},
		{name: "float amount", body: eventJSON(t, func(ev, o map[string]any) { o["amount"] = 95.5 })},
		{name: "missing amount", body: eventJSON(t, func(ev, o map[string]any) { delete(o, "amount") })},
		{name: "bad id", body: eventJSON(t, func(ev, o map[string]any) { o["id"] = "42" })},
		{name: "empty customer", body: eventJSON(t, func(ev, o map[string]any) { o["customer"] = " " })},
		{name: "control character in customer", body: eventJSON(t, func(ev, o map[string]any) { o["customer"] = "Ada\u0000" })},
		{name: "bad createdAt", body: eventJSON(t, func(ev, o map[string]any) { o["createdAt"] = "yesterday" })},
		{name: "createdAt without zone", body: eventJSON(t, func(ev, o map[string]any) { o["createdAt"] = "2026-05-01T12:30:00" })},
		{name: "createdAt as number", body: eventJSON(t, func(ev, o map[string]any) { o["createdAt"] = 1777638600 })},
		{name: "missing createdAt", body: eventJSON(t, func(ev, o map[string]any) { delete(o, "createdAt") })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := events.Decode([]byte(tc.body))
			if !errors.Is(err, events.ErrMalformed) {
				t.Errorf("Decode(%s) error = %v; want it to wrap ErrMalformed", tc.body, err)
			}
			if diff := cmp.Diff(events.OrderPlaced{}, got); diff != "" {
				t.Errorf("Decode returned a non-zero event with its error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDecodeCreatedAtRoundTrips checks that a valid createdAt is accepted and
// survives Marshal and Decode again (an accepted event can be re-published),
// and that one whose UTC form falls outside years 0000-9999, which RFC 3339
// cannot write, is rejected rather than accepted and then unwritable.
func TestDecodeCreatedAtRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		createdAt string
		valid     bool
	}{
		{createdAt: "2026-05-01T14:30:00+02:00", valid: true},
		{createdAt: "2026-05-01T12:30:00.5Z", valid: true},
		{createdAt: "0001-01-01T00:00:00Z", valid: true},
		{createdAt: "9999-12-31T23:59:59.999999999Z", valid: true},
		{createdAt: "0000-01-01T00:30:00+01:00"}, // -0001-12-31T23:30:00Z
		{createdAt: "9999-12-31T23:30:00-01:00"}, // 10000-01-01T00:30:00Z
	} {
		t.Run(tc.createdAt, func(t *testing.T) {
			first, err := events.Decode([]byte(eventJSON(t, func(ev, o map[string]any) { o["createdAt"] = tc.createdAt })))
			if !tc.valid {
				if !errors.Is(err, events.ErrMalformed) {
					t.Errorf("Decode error = %v; want it to wrap ErrMalformed (its UTC year cannot be written back)", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(createdAt %s) = %v; want it accepted", tc.createdAt, err)
			}
			b, err := events.Marshal(first)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			second, err := events.Decode(b)
			if err != nil {
				t.Fatalf("Decode(Marshal(Decode(createdAt %s))) = %v; want success", tc.createdAt, err)
			}
			if diff := cmp.Diff(first, second); diff != "" {
				t.Errorf("round trip (-first +second):\n%s", diff)
			}
		})
	}
}

// motoEnvelope is an SQS body exactly as moto delivers an SNS notification
// (raw message delivery off): sorted keys, two-space indent, the event as a
// JSON string, and a Number attribute as moto normalises it.
const motoEnvelope = `{
  "Message": "{\"type\":\"OrderPlaced\",\"version\":1,\"order\":{\"id\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\",\"customer\":\"Ada Lovelace\",\"amount\":\"95.50\",\"createdAt\":\"2026-05-01T12:30:00.123456789Z\"}}",
  "MessageAttributes": {
    "amount": {
      "Type": "Number",
      "Value": "95.5"
    }
  },
  "MessageId": "8f1a3c2e-5b7d-4e1f-9a6c-0d2b4e6f8a1c",
  "Signature": "EXAMPLElDMXvB8r9R83tGoNn0ecwd5UjllzsvSvbItzfaMpN2nk5HVSw7XnOn/49IkxDKz8YrlH2qJXj2iZB0Zo2O71c4qQk1fMUDi3LGpij7RCW7AW9vYYsSqIKRnFS94ilu7NFhUzLiieYr4BKHpdTmdD6c0esKEYBpabxDSc=",
  "SignatureVersion": "1",
  "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
  "Timestamp": "2026-05-01T12:30:00.456Z",
  "TopicArn": "arn:aws:sns:us-east-1:123456789012:pubsub-local-publisher-ordersTopic",
  "Type": "Notification",
  "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:pubsub-local-publisher-ordersTopic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55"
}`

func TestUnwrapMotoEnvelope(t *testing.T) {
	env, err := events.Unwrap([]byte(motoEnvelope))
	if err != nil {
		t.Fatalf("Unwrap: %v", err)
	}
	wantEnv := events.Envelope{
		Type:      "Notification",
		MessageID: "8f1a3c2e-5b7d-4e1f-9a6c-0d2b4e6f8a1c",
		TopicARN:  testTopic,
		Message:   `{"type":"OrderPlaced","version":1,"order":{"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","customer":"Ada Lovelace","amount":"95.50","createdAt":"2026-05-01T12:30:00.123456789Z"}}`,
		Timestamp: "2026-05-01T12:30:00.456Z",
		MessageAttributes: map[string]events.EnvelopeAttribute{
			"amount": {Type: "Number", Value: "95.5"},
		},
	}
	if diff := cmp.Diff(wantEnv, env); diff != "" {
		t.Errorf("Unwrap (-want +got):\n%s", diff)
	}
	got, err := events.Decode([]byte(env.Message))
	if err != nil {
		t.Fatalf("Decode(envelope Message): %v", err)
	}
	if diff := cmp.Diff(events.OrderPlaced{Order: testOrder()}, got); diff != "" {
		t.Errorf("Decode(envelope Message) (-want +got):\n%s", diff)
	}
}

func TestUnwrapErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
	}{
		{"not JSON", "this is not an order"},
		{"empty body", ""},
		{"truncated", motoEnvelope[:len(motoEnvelope)/2]},
		{"array", `[{"Type":"Notification","Message":"x"}]`},
		{"null", `null`},
		{"subscription confirmation", strings.Replace(motoEnvelope, `"Type": "Notification"`, `"Type": "SubscriptionConfirmation"`, 1)},
		{"missing Type", `{"MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message":"{}"}`},
		{"empty Message", `{"Type":"Notification","MessageId":"m","Message":""}`},
		{"missing Message", `{"Type":"Notification","MessageId":"m"}`},
		{"Message not a string", `{"Type":"Notification","MessageId":"m","Message":{"type":"OrderPlaced"}}`},
		{"raw event without envelope", eventJSON(t, nil)},
		{"trailing data", motoEnvelope + "{}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := events.Unwrap([]byte(tc.body))
			if !errors.Is(err, events.ErrMalformed) {
				t.Errorf("Unwrap(%q) error = %v; want it to wrap ErrMalformed", tc.body, err)
			}
			if diff := cmp.Diff(events.Envelope{}, env); diff != "" {
				t.Errorf("Unwrap returned a non-zero envelope with its error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOpen: one call accepts a notification from the expected topic holding a
// valid event, and refuses, as malformed, any other envelope, topic or event.
func TestOpen(t *testing.T) {
	got, err := events.Open([]byte(motoEnvelope), testTopic)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if diff := cmp.Diff(events.OrderPlaced{Order: testOrder()}, got); diff != "" {
		t.Errorf("Open (-want +got):\n%s", diff)
	}
	if _, err := events.Open([]byte(motoEnvelope), ""); err != nil {
		t.Errorf("Open with no expected topic: %v; want any topic accepted", err)
	}
	for _, tc := range []struct {
		name, body, topic string
	}{
		{"not an envelope", eventJSON(t, nil), testTopic},
		{"not a notification", strings.Replace(motoEnvelope, `"Type": "Notification"`, `"Type": "SubscriptionConfirmation"`, 1), testTopic},
		{"no message", `{"Type":"Notification","TopicArn":"` + testTopic + `"}`, testTopic},
		{"another topic", motoEnvelope, "arn:aws:sns:us-east-1:123456789012:pubsub-test-publisher-ordersTopic"},
		{"topic name only a suffix", motoEnvelope, "arn:aws:sns:us-east-1:123456789012:ordersTopic"},
		{"topic name only", motoEnvelope, "pubsub-local-publisher-ordersTopic"},
		{"no TopicArn", `{"Type":"Notification","Message":` + strconv.Quote(eventJSON(t, nil)) + `}`, testTopic},
		{"invalid event", strings.Replace(motoEnvelope, `\"95.50\"`, `\"95.555\"`, 1), testTopic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := events.Open([]byte(tc.body), tc.topic)
			if !errors.Is(err, events.ErrMalformed) {
				t.Errorf("Open error = %v; want it to wrap ErrMalformed", err)
			}
			if diff := cmp.Diff(events.OrderPlaced{}, got); diff != "" {
				t.Errorf("Open returned a non-zero event with its error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOpenComparesTheWholeTopicARN: a notification is ours only from our
// topic in our partition, region and account. A topic of the same name is
// anyone's to create elsewhere, and whoever may send to the queue can write
// any TopicArn into a body: the name alone proves nothing. The notification
// from elsewhere carries a trace context of its sender's choosing, which
// OpenNotification does not hand back.
func TestOpenComparesTheWholeTopicARN(t *testing.T) {
	const name = "pubsub-local-publisher-ordersTopic"
	for _, tc := range []struct {
		name, from string
		accepted   bool
	}{
		{"our topic", "arn:aws:sns:us-east-1:123456789012:" + name, true},
		{"another account", "arn:aws:sns:us-east-1:999999999999:" + name, false},
		{"another region", "arn:aws:sns:eu-west-1:123456789012:" + name, false},
		{"another partition", "arn:aws-cn:sns:us-east-1:123456789012:" + name, false},
		{"another service", "arn:aws:sqs:us-east-1:123456789012:" + name, false},
		{"another topic name", "arn:aws:sns:us-east-1:123456789012:pubsub-local-publisher-otherTopic", false},
		{"a name that ends like ours", "arn:aws:sns:us-east-1:123456789012:x-" + name, false},
		{"our ARN with more after it", "arn:aws:sns:us-east-1:123456789012:" + name + ":extra", false},
		{"another case", "arn:aws:sns:us-east-1:123456789012:" + strings.ToLower(name), false},
		{"the name alone", name, false},
		{"no TopicArn", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := json.Marshal(map[string]any{
				"Type": "Notification", "MessageId": "m-1", "TopicArn": tc.from, "Message": eventJSON(t, nil),
				"Timestamp": "2026-11-25T09:00:00.000Z",
				"MessageAttributes": map[string]any{
					"amount":          map[string]string{"Type": "Number", "Value": "95.5"},
					"X-Amzn-Trace-Id": map[string]string{"Type": "String", "Value": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"},
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			env, ev, err := events.OpenNotification(body, testTopic)
			if tc.accepted {
				if err != nil || ev.Order.ID != testID || env.MessageAttributes.Get("X-Amzn-Trace-Id") == "" {
					t.Errorf("OpenNotification from %q = order %q, attributes %v, %v; want order %s with its attributes", tc.from, ev.Order.ID, env.MessageAttributes, err, testID)
				}
				return
			}
			if !errors.Is(err, events.ErrMalformed) {
				t.Errorf("OpenNotification from %q: error %v; want it to wrap ErrMalformed", tc.from, err)
			}
			if diff := cmp.Diff(events.Envelope{}, env); diff != "" {
				t.Errorf("OpenNotification from %q returned the envelope of a refused notification, its attributes readable (-want +got):\n%s", tc.from, diff)
			}
			if diff := cmp.Diff(events.OrderPlaced{}, ev); diff != "" {
				t.Errorf("OpenNotification from %q returned an event (-want +got):\n%s", tc.from, diff)
			}
		})
	}
}

// TestOpenClipsALongTopicARN: the refused TopicArn is the sender's, as long
// as the message; the error, which is logged, quotes only its start.
func TestOpenClipsALongTopicARN(t *testing.T) {
	long := "arn:aws:sns:us-east-1:999999999999:" + strings.Repeat("x", 200_000)
	body := strings.Replace(motoEnvelope, testTopic+`",`, long+`",`, 1)
	_, err := events.Open([]byte(body), testTopic)
	if !errors.Is(err, events.ErrMalformed) || len(err.Error()) > 1000 {
		t.Errorf("Open error of %d bytes (%.100s...); want ErrMalformed in under 1000 bytes", len(fmt.Sprint(err)), err)
	}
}

// fakeSNS records the PublishInput it is given.
type fakeSNS struct {
	calls []*sns.PublishInput
	err   error
}

func (f *fakeSNS) Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error) {
	f.calls = append(f.calls, in)
	if f.err != nil {
		return nil, f.err
	}
	return &sns.PublishOutput{MessageId: aws.String("sns-message-1")}, nil
}

func TestPublisherPublish(t *testing.T) {
	client := &fakeSNS{}
	p := events.NewPublisher(client, testTopic)
	e := events.OrderPlaced{Order: testOrder()}

	id, err := p.Publish(context.Background(), e)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if id != "sns-message-1" {
		t.Errorf("Publish message id = %q; want %q", id, "sns-message-1")
	}
	if len(client.calls) != 1 {
		t.Fatalf("SNS Publish called %d times; want 1", len(client.calls))
	}
	in := client.calls[0]
	if got := aws.ToString(in.TopicArn); got != testTopic {
		t.Errorf("TopicArn = %q; want %q", got, testTopic)
	}
	got, err := events.Decode([]byte(aws.ToString(in.Message)))
	if err != nil {
		t.Fatalf("Decode(published Message %q): %v", aws.ToString(in.Message), err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("published event (-want +got):\n%s", diff)
	}
	if n := len(in.MessageAttributes); n != 1 {
		t.Errorf("got %d message attributes; want 1 (amount)", n)
	}
	attr, ok := in.MessageAttributes[events.AmountAttribute]
	if !ok {
		t.Fatalf("MessageAttributes has no %q: %v", events.AmountAttribute, in.MessageAttributes)
	}
	if got := aws.ToString(attr.DataType); got != "Number" {
		t.Errorf("amount DataType = %q; want %q", got, "Number")
	}
	if got := aws.ToString(attr.StringValue); got != "95.50" {
		t.Errorf("amount StringValue = %q; want %q", got, "95.50")
	}
	if attr.BinaryValue != nil {
		t.Errorf("amount BinaryValue = %v; want nil", attr.BinaryValue)
	}
}

func TestPublisherPublishError(t *testing.T) {
	boom := errors.New("throttled")
	client := &fakeSNS{err: boom}
	id, err := events.NewPublisher(client, testTopic).Publish(context.Background(), events.OrderPlaced{Order: testOrder()})
	if !errors.Is(err, boom) {
		t.Errorf("Publish error = %v; want it to wrap %v", err, boom)
	}
	if err != nil && !strings.Contains(err.Error(), testID) {
		t.Errorf("Publish error %q does not name the order %s", err, testID)
	}
	if id != "" {
		t.Errorf("Publish message id = %q on error; want \"\"", id)
	}
}
