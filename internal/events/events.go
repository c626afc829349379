// Package events defines the OrderPlaced event that the publisher sends to the
// orders topic and the workers receive, and its encoding on the wire.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pubsub-app/pubsub/internal/order"
)

// Where OrderPlaced events are published: the topic ordersTopic of the
// publisher service, as copilot/publisher/manifest.yml declares it.
const (
	PublisherService = "publisher"
	Topic            = "ordersTopic"
)

// Wire constants of the OrderPlaced event.
const (
	TypeOrderPlaced = "OrderPlaced"
	Version         = 1
	// AmountAttribute is the SNS message attribute (DataType Number) that
	// subscription filter policies match on.
	AmountAttribute = "amount"
)

// ErrMalformed marks an event that can never be processed, however often it is
// retried: bad JSON, an unknown type or version, or an invalid order.
var ErrMalformed = errors.New("malformed event")

// OrderPlaced is published once an order is stored.
type OrderPlaced struct {
	Order order.Order
}

type wireOrder struct {
	ID        string `json:"id"`
	Customer  string `json:"customer"`
	Amount    string `json:"amount"`
	CreatedAt string `json:"createdAt"`
}

type wireEvent struct {
	Type    string     `json:"type"`
	Version int        `json:"version"`
	Order   *wireOrder `json:"order"`
}

// Marshal encodes e as the JSON body of an SNS message.
func Marshal(e OrderPlaced) ([]byte, error) {
	o := e.Order
	return json.Marshal(wireEvent{
		Type:    TypeOrderPlaced,
		Version: Version,
		Order: &wireOrder{
			ID:        o.ID,
			Customer:  o.Customer,
			Amount:    o.Amount.String(),
			CreatedAt: o.CreatedAt.UTC().Format(time.RFC3339Nano),
		},
	})
}

// Decode parses and validates an OrderPlaced event. Every error wraps
// ErrMalformed, since retrying the same bytes cannot succeed.
func Decode(b []byte) (OrderPlaced, error) {
	var w wireEvent
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&w); err != nil {
		return OrderPlaced{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := dec.Decode(new(json.RawMessage)); err != io.EOF {
		return OrderPlaced{}, fmt.Errorf("%w: trailing data after the event", ErrMalformed)
	}
	switch {
	case w.Type != TypeOrderPlaced:
		return OrderPlaced{}, fmt.Errorf("%w: type %q, want %q", ErrMalformed, w.Type, TypeOrderPlaced)
	case w.Version != Version:
		return OrderPlaced{}, fmt.Errorf("%w: version %d, want %d", ErrMalformed, w.Version, Version)
	case w.Order == nil:
		return OrderPlaced{}, fmt.Errorf("%w: no order", ErrMalformed)
	}
	o, err := order.Parse(w.Order.ID, w.Order.Customer, w.Order.Amount)
	if err != nil {
		return OrderPlaced{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if o.CreatedAt, err = time.Parse(time.RFC3339Nano, w.Order.CreatedAt); err != nil {
		return OrderPlaced{}, fmt.Errorf("%w: createdAt: %v", ErrMalformed, err)
	}
	// Marshal writes UTC; a time whose UTC year has no four-digit form could
	// not be written back.
	if y := o.CreatedAt.UTC().Year(); y < 0 || y > 9999 {
		return OrderPlaced{}, fmt.Errorf("%w: createdAt %q is outside years 0000-9999 in UTC", ErrMalformed, w.Order.CreatedAt)
	}
	return OrderPlaced{Order: o}, nil
}

// Envelope is the JSON document SNS delivers to an SQS queue when raw message
// delivery is off, as Copilot leaves it.
type Envelope struct {
	Type              string     `json:"Type"`
	MessageID         string     `json:"MessageId"`
	TopicARN          string     `json:"TopicArn"`
	Message           string     `json:"Message"`
	Timestamp         string     `json:"Timestamp"`
	MessageAttributes Attributes `json:"MessageAttributes"`
}

// EnvelopeAttribute is one message attribute inside an SNS envelope.
type EnvelopeAttribute struct {
	Type  string `json:"Type"`
	Value string `json:"Value"`
}

// Unwrap parses an SQS body holding an SNS notification envelope. Errors wrap
// ErrMalformed.
func Unwrap(body []byte) (Envelope, error) {
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil {
		return Envelope{}, fmt.Errorf("%w: not an SNS envelope: %v", ErrMalformed, err)
	}
	if env.Type != "Notification" {
		return Envelope{}, fmt.Errorf("%w: SNS envelope type %q, want Notification", ErrMalformed, env.Type)
	}
	if env.Message == "" {
		return Envelope{}, fmt.Errorf("%w: SNS envelope has no Message", ErrMalformed)
	}
	return env, nil
}

// Open validates an SQS body as a whole SNS notification and decodes the
// OrderPlaced it carries: an envelope of type Notification with a Message,
// sent by the topic whose ARN is wantTopicARN, holding a valid event.
//
// The ARN is compared whole (partition, region, account and name), not by
// name: a topic of the same name in another account or region is anyone's
// to create, and SQS takes a SendMessage from whoever the queue's policy
// lets in, so the envelope's TopicArn is only trusted to be ours when every
// part of it is. wantTopicARN "" accepts any topic. Every error wraps
// ErrMalformed.
func Open(body []byte, wantTopicARN string) (OrderPlaced, error) {
	_, e, err := OpenNotification(body, wantTopicARN)
	return e, err
}

// OpenNotification is Open that also returns the envelope, whose
// MessageAttributes carry the trace context. The envelope is returned only
// with the event it holds, once both are accepted; with any error it is the
// zero Envelope, so nothing a sender chose (the attributes of a notification
// from another topic, say) is read from a message that was not accepted.
func OpenNotification(body []byte, wantTopicARN string) (Envelope, OrderPlaced, error) {
	env, err := Unwrap(body)
	if err != nil {
		return Envelope{}, OrderPlaced{}, err
	}
	if wantTopicARN != "" && env.TopicARN != wantTopicARN {
		return Envelope{}, OrderPlaced{}, fmt.Errorf("%w: notification from topic %q, want topic %q", ErrMalformed, clip(env.TopicARN), wantTopicARN)
	}
	e, err := Decode([]byte(env.Message))
	if err != nil {
		return Envelope{}, OrderPlaced{}, err
	}
	return env, e, nil
}

// topicName returns the name part of a topic ARN (arn:aws:sns:region:account:name).
func topicName(arn string) string {
	return arn[strings.LastIndexByte(arn, ':')+1:]
}

// clip shortens a sender's string for an error message: a forged TopicArn
// may be as long as the message, and each error is logged.
func clip(s string) string {
	const max = 320 // a topic ARN: a name of at most 256 characters and its prefix
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
