package events

import (
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
)

// The trace context of the order an event is about travels with the event as
// message attributes, written and read by the process's propagator (the X-Ray
// one: a single String attribute X-Amzn-Trace-Id). Subscription filter
// policies name the attributes they match (the promotion policy only
// AmountAttribute), so one more attribute routes nothing differently.

// MaxMessageAttributes is the most message attributes SNS accepts on one
// message; a Publish with more fails. The trace context is only written while
// there is room for it: it never costs an event.
const MaxMessageAttributes = 10

// Attributes are the message attributes of a notification, by name, as its
// envelope carries them. They are the carrier the trace context is read
// from: they implement go.opentelemetry.io/otel/propagation.TextMapCarrier.
type Attributes map[string]EnvelopeAttribute

// Get returns the value of the String attribute key, or "".
func (a Attributes) Get(key string) string {
	if v, ok := a[key]; ok && v.Type == "String" {
		return v.Value
	}
	return ""
}

// Set sets key to the String value, unless that would take the attributes
// past MaxMessageAttributes.
func (a Attributes) Set(key, value string) {
	if _, ok := a[key]; !ok && (a == nil || len(a) >= MaxMessageAttributes) {
		return
	}
	a[key] = EnvelopeAttribute{Type: "String", Value: value}
}

// Keys returns the attribute names, sorted.
func (a Attributes) Keys() []string { return slices.Sorted(maps.Keys(a)) }

// messageAttributes are the attributes of a message being published: the
// carrier the trace context is written into, as String attributes, within
// MaxMessageAttributes.
type messageAttributes map[string]snstypes.MessageAttributeValue

func (a messageAttributes) Get(key string) string {
	if v, ok := a[key]; ok && aws.ToString(v.DataType) == "String" {
		return aws.ToString(v.StringValue)
	}
	return ""
}

func (a messageAttributes) Set(key, value string) {
	if _, ok := a[key]; !ok && len(a) >= MaxMessageAttributes {
		return
	}
	a[key] = snstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(value)}
}

func (a messageAttributes) Keys() []string { return slices.Sorted(maps.Keys(a)) }
