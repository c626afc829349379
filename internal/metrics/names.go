package metrics

// Namespace is the CloudWatch namespace of every metric the services emit.
const Namespace = "pubsub"

// Dimension names. Each metric carries DimService and DimEnv (the Copilot
// environment, so that two environments in one account and region never share
// a series, and a test environment never pages for production); a few add
// one more.
const (
	DimService = "service"
	DimEnv     = "env"
	DimOutcome = "outcome"
	DimRoute   = "route"
)

// Metric names, the contract with the alarms in copilot/*/addons and with
// dashboards: rename one and the alarm consistency test fails.
const (
	// Workers.
	Messages        = "Messages"        // Count, by outcome (see Outcome*)
	HandlerDuration = "HandlerDuration" // Milliseconds
	MessageAge      = "MessageAge"      // Milliseconds, SentTimestamp to handled
	ReceivePauses   = "ReceivePauses"   // Count, receiving paused for a failing dependency

	// Publisher.
	OrdersPlaced    = "OrdersPlaced"    // Count
	OrdersPublished = "OrdersPublished" // Count
	PublishFailures = "PublishFailures" // Count
	OutboxPending   = "OutboxPending"   // Count, measured by the relay
	OutboxOldestAge = "OutboxOldestAge" // Seconds, measured by the relay
	OutboxPollAge   = "OutboxPollAge"   // Seconds since the relay last completed a poll, computed when written
	RequestLatency  = "RequestLatency"  // Milliseconds, by route
)

// Outcomes of a received message (the DimOutcome of Messages).
const (
	OutcomeProcessed    = "processed"
	OutcomeDuplicate    = "duplicate"
	OutcomeRetry        = "retry"
	OutcomePoison       = "poison"
	OutcomeDeadLettered = "dead-lettered"
	OutcomeReleased     = "released"
)

// Names lists every metric name the services emit.
func Names() []string {
	return []string{Messages, HandlerDuration, MessageAge, ReceivePauses, OrdersPlaced, OrdersPublished, PublishFailures, OutboxPending, OutboxOldestAge, OutboxPollAge, RequestLatency}
}
