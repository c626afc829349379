package events_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
)

// FuzzDecode feeds arbitrary SQS bodies through Open, as the worker does
// (and through Unwrap and Decode, its two halves), and also feeds them to
// Decode directly (so the fuzzer can reach the event decoder without first
// building a valid envelope). Every error must wrap ErrMalformed, so the
// worker sends the message to the DLQ rather than retrying it; every accepted
// event must be valid and must survive Marshal and Decode unchanged; Open
// accepts exactly what Unwrap and Decode accept from the expected topic.
func FuzzDecode(f *testing.F) {
	raw := `{"type":"OrderPlaced","version":1,"order":{"id":"6ba7b810-9dad-11d1-80b4-00c04fd430c8","customer":"Ada Lovelace","amount":"95.50","createdAt":"2026-05-01T12:30:00.123456789Z"}}`
	for _, s := range []string{
		motoEnvelope,
		raw,
		`{"Type":"Notification","Message":"x"}`,
		`{"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message":"{\"type\":\"OrderPlaced\",\"version\":1,\"order\":{\"id\":\"6BA7B810-9DAD-11D1-80B4-00C04FD430C8\",\"customer\":\" Zoë \",\"amount\":\"007.1\",\"createdAt\":\"2026-05-01T14:30:00+02:00\"}}"}`,
		`{"Type":"Notification","Message":"{\"type\":\"OrderPlaced\",\"version\":1,\"order\":{\"id\":\"6ba7b810-9dad-11d1-80b4-00c04fd430c8\",\"customer\":\"Ada\",\"amount\":95.5,\"createdAt\":\"2026-05-01T12:30:00Z\"}}"}`,
		`{"Type":"SubscriptionConfirmation","Message":"confirm"}`,
		strings.Replace(motoEnvelope, "pubsub-local-publisher-ordersTopic", "pubsub-local-publisher-otherTopic", 1),
		strings.Replace(raw, `"95.50"`, `"1.234"`, 1),
		strings.Replace(raw, `"version":1`, `"version":2`, 1),
		strings.Replace(raw, `2026-05-01T12:30:00.123456789Z`, `yesterday`, 1),
		strings.Replace(raw, `Ada Lovelace`, `Ada\u0000`, 1),
		raw + `}`,
		raw + ` {}`,
		`null`,
		`[]`,
		"",
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := events.Unwrap(body)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("Unwrap(%q) error %v does not wrap ErrMalformed", body, err)
			}
		} else {
			if env.Type != "Notification" || env.Message == "" {
				t.Fatalf("Unwrap(%q) = %+v; want a Notification with a Message", body, env)
			}
			checkDecode(t, []byte(env.Message))
		}
		checkDecode(t, body)
		for _, topic := range []string{"", fuzzTopic} {
			ev, openErr := events.Open(body, topic)
			if openErr != nil && !errors.Is(openErr, events.ErrMalformed) {
				t.Fatalf("Open(%q, %q) error %v does not wrap ErrMalformed", body, topic, openErr)
			}
			want, wantErr := events.OrderPlaced{}, err
			if err == nil {
				want, wantErr = events.Decode([]byte(env.Message))
				if wantErr == nil && topic != "" && env.TopicARN != topic {
					want, wantErr = events.OrderPlaced{}, errors.New("another topic")
				}
			}
			if (openErr == nil) != (wantErr == nil) || !cmp.Equal(ev, want) {
				t.Fatalf("Open(%q, %q) = %+v, %v; want what Unwrap and Decode give from that topic: %+v, %v", body, topic, ev, openErr, want, wantErr)
			}
		}
	})
}

// fuzzTopic is the topic ARN Open is asked for, the one motoEnvelope comes from.
const fuzzTopic = testTopic

func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	ev, err := events.Decode(b)
	if err != nil {
		if !errors.Is(err, events.ErrMalformed) {
			t.Fatalf("Decode(%q) error %v does not wrap ErrMalformed", b, err)
		}
		if diff := cmp.Diff(events.OrderPlaced{}, ev); diff != "" {
			t.Fatalf("Decode(%q) returned a non-zero event with its error:\n%s", b, diff)
		}
		return
	}
	o := ev.Order
	if id, err := order.ParseID(o.ID); err != nil || id != o.ID {
		t.Fatalf("Decode(%q) accepted id %q: ParseID = %q, %v", b, o.ID, id, err)
	}
	if c, err := order.ParseCustomer(o.Customer); err != nil || c != o.Customer || !utf8.ValidString(o.Customer) {
		t.Fatalf("Decode(%q) accepted customer %q: ParseCustomer = %q, %v", b, o.Customer, c, err)
	}
	if o.Amount <= 0 || o.Amount > money.Max {
		t.Fatalf("Decode(%q) accepted amount %d; want 0 < cents <= %d", b, o.Amount, money.Max)
	}
	if y := o.CreatedAt.UTC().Year(); y < 0 || y > 9999 {
		// Its UTC form cannot be written as RFC 3339, so it cannot round-trip.
		t.Fatalf("Decode accepted createdAt %v, whose UTC year %d cannot be re-encoded", o.CreatedAt, y)
	}
	m, err := events.Marshal(ev)
	if err != nil {
		t.Fatalf("Marshal(Decode(%q)): %v", b, err)
	}
	again, err := events.Decode(m)
	if err != nil {
		t.Fatalf("Decode(%q) succeeded but Decode(Marshal of it = %q) failed: %v", b, m, err)
	}
	if diff := cmp.Diff(ev, again); diff != "" {
		t.Fatalf("Decode(Marshal(Decode(%q))) differs (-first +second):\n%s", b, diff)
	}
	m2, err := events.Marshal(again)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	if !bytes.Equal(m, m2) {
		t.Fatalf("Marshal is not stable across a round trip:\n%s\n%s", m, m2)
	}
}
