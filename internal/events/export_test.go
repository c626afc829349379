package events

// MessageAttributes is the carrier Publish writes the trace context into.
type MessageAttributes = messageAttributes
