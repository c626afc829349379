package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pubsub-app/pubsub/internal/checkout/checkoutdb"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// The deployment the idle bills are for: one task of each service, the
// manifests' minimum count.
const (
	publisherTasks = 1
	workerTasks    = 1 // of each worker
	day            = 24 * time.Hour
)

// Our design's time-based requests, from the production defaults.
const (
	// ourWait is the engine's long poll, WORKER_WAIT_TIME's default: an idle
	// engine has one poll open at a time, so it makes one empty receive per
	// 20 s.
	ourWait = worker.MaxWaitTime
	// relayInterval is how often the outbox relay polls, OUTBOX_INTERVAL's
	// default (cmd/publisher). Each poll queries every
	// shard of the outbox index and the legacy key, relayQueries in all,
	// each returning at most relayBatch entries (OUTBOX_BATCH's default).
	relayInterval = 2 * time.Second
	relayQueries  = checkoutdb.OutboxShards + 1
	relayBatch    = 25
)

// The original sample's design, from its code (see COPILOT.md): the POST
// puts the item {id, customer, amount} (no condition, no index), publishes
// {"customer","amount"} to SNS and redirects to a page showing the stored
// item, read with boto3's default GetItem (eventually consistent; the page
// does not reload). Each worker loops on ReceiveMessage of 1 message with
// a 5 s wait, then DeleteMessage; it only logs (no table). Under load a
// receive returns at once with its one message: 2 SQS requests per message
// per queue; idle, an empty receive every 5 s.
const originalWait = 5 * time.Second

// originalItemBytes is the original sample's order item at its largest:
// {id: a UUID, customer: 100 characters, amount: "1000000.00"}.
var originalItemBytes = ItemSize(map[string]ddbtypes.AttributeValue{
	"id":       &ddbtypes.AttributeValueMemberS{Value: strings.Repeat("x", 36)},
	"customer": &ddbtypes.AttributeValueMemberS{Value: strings.Repeat("x", 100)},
	"amount":   &ddbtypes.AttributeValueMemberS{Value: "1000000.00"},
})

// originalBill is the original sample's requests for orders orders,
// promoted of them through its promotion queue.
func originalBill(orders, promoted int64) Bill {
	one := Chunks64KB(0)
	return Bill{Over: orders, Lines: []Line{
		{Component: compPublisher, Service: "DynamoDB", API: "PutItem", Requests: orders, Units: WriteUnits(originalItemBytes, false), Unit: WRU, Why: fmt.Sprintf("order ≤ %d B, no index", originalItemBytes)},
		{Component: compPublisher, Service: "SNS", API: "Publish", Requests: orders, Units: one, Unit: SNSRequest, Why: "{customer, amount}"},
		{Component: compPage, Service: "DynamoDB", API: "GetItem", Requests: orders, Units: ReadUnits(originalItemBytes, Eventual), Unit: RRU, Why: "one view, eventually consistent (boto3's default)"},
		{Component: compFulfilment, Service: "SQS", API: "ReceiveMessage", Requests: orders, Units: one, Unit: SQSRequest, Why: "1 message per receive"},
		{Component: compFulfilment, Service: "SQS", API: "DeleteMessage", Requests: orders, Units: one, Unit: SQSRequest, Why: "1 per message"},
		{Component: compPromotion, Service: "SQS", API: "ReceiveMessage", Requests: promoted, Units: one, Unit: SQSRequest, Why: "1 message per receive"},
		{Component: compPromotion, Service: "SQS", API: "DeleteMessage", Requests: promoted, Units: one, Unit: SQSRequest, Why: "1 per message"},
	}}
}

// ourIdleBill is our design's requests in a day without orders, the relay
// polling every interval: each worker task's empty long polls, and the
// relay's outbox queries, each an empty eventually consistent index read
// (the minimum, half a unit).
func ourIdleBill(interval time.Duration) Bill {
	polls := int64(day/ourWait) * workerTasks
	queries := int64(day/interval) * relayQueries * publisherTasks
	pollWhy := fmt.Sprintf("one %s long poll at a time", ourWait)
	return Bill{Over: 1, Lines: []Line{
		{Component: compRelay, Service: "DynamoDB", API: "Query (ordersTable outbox index)", Requests: queries, Units: ReadUnits(0, Eventual), Unit: RRU, Why: fmt.Sprintf("%d queries per %s, empty, eventually consistent", relayQueries, interval)},
		{Component: compFulfilment, Service: "SQS", API: "ReceiveMessage", Requests: polls, Units: Chunks64KB(0), Unit: SQSRequest, Why: pollWhy},
		{Component: compPromotion, Service: "SQS", API: "ReceiveMessage", Requests: polls, Units: Chunks64KB(0), Unit: SQSRequest, Why: pollWhy},
	}}
}

// originalIdleBill is the original sample's requests in a day without
// orders: an empty receive every 5 s per worker.
func originalIdleBill() Bill {
	polls := int64(day/originalWait) * workerTasks
	why := fmt.Sprintf("receive(1) with a %s wait", originalWait)
	return Bill{Over: 1, Lines: []Line{
		{Component: compFulfilment, Service: "SQS", API: "ReceiveMessage", Requests: polls, Units: Chunks64KB(0), Unit: SQSRequest, Why: why},
		{Component: compPromotion, Service: "SQS", API: "ReceiveMessage", Requests: polls, Units: Chunks64KB(0), Unit: SQSRequest, Why: why},
	}}
}

// componentOrder is the order of a bill's lines.
var componentOrder = []string{compPublisher, compRelay, compPage, compFulfilment, compPromotion}

// ourBill is the run's requests over its orders, each priced by
// billingRule. The relay's outbox queries are left to the idle bill: they
// are the same with or without orders.
func (r *costRun) ourBill() (Bill, error) {
	bill := Bill{Over: r.orders}
	var errs []error
	for _, comp := range componentOrder {
		keys := make([]reqKey, 0, len(r.counts[comp]))
		for k := range r.counts[comp] {
			if !(comp == compRelay && k.Op == "Query") {
				keys = append(keys, k)
			}
		}
		slices.SortFunc(keys, func(a, b reqKey) int {
			return strings.Compare(a.Service+a.Op+a.Table, b.Service+b.Op+b.Table)
		})
		for _, k := range keys {
			units, unit, why, err := r.billingRule(comp, k)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			api := k.Op
			if k.Table != "" {
				api += " (" + k.Table + ")"
			}
			bill.Lines = append(bill.Lines, Line{Component: comp, Service: k.Service, API: api, Requests: r.counts[comp][k], Units: units, Unit: unit, Why: why})
		}
	}
	return bill, errors.Join(errs...)
}

// billingRule is what one request of a component costs, and why. Every
// kind of request counted needs one, so that none is left unpriced.
func (r *costRun) billingRule(component string, k reqKey) (Milli, Unit, string, error) {
	order := max(r.maxPut[tblOrders], r.maxStored[tblOrders])
	entry := WriteUnits(r.maxEntry, false)
	consistency, how := Eventual, "eventually consistent"
	if k.Strong {
		consistency, how = Strong, "strongly consistent"
	}
	// A receive of 10 envelopes, each at most twice the message (JSON
	// escaping) and 2 KB of SNS's own fields.
	receive := 10 * (2*r.maxPublish + 2048)
	switch k.Service + "." + k.Op {
	case "SNS.Publish":
		return Chunks64KB(r.maxPublish), SNSRequest, fmt.Sprintf("message ≤ %d B", r.maxPublish), nil
	case "SQS.ReceiveMessage":
		return Chunks64KB(receive), SQSRequest, fmt.Sprintf("≤ 10 envelopes, < %d KB", ceilDiv(receive, 1024)), nil
	case "SQS.DeleteMessageBatch", "SQS.DeleteMessage", "SQS.ChangeMessageVisibility", "SQS.ChangeMessageVisibilityBatch":
		return Chunks64KB(0), SQSRequest, "receipt handles", nil
	case "DynamoDB.DescribeTable":
		return 0, RRU, "control plane, free", nil
	case "DynamoDB.GetItem":
		return ReadUnits(r.maxStored[k.Table], consistency), RRU, fmt.Sprintf("%s, item ≤ %d B (a missing one costs the same)", how, r.maxStored[k.Table]), nil
	case "DynamoDB.Query":
		if k.Table == tblOrders {
			return ReadUnits(relayBatch*r.maxEntry, consistency), RRU, fmt.Sprintf("outbox index, %s, ≤ %d entries of %d B", how, relayBatch, r.maxEntry), nil
		}
	case "DynamoDB.PutItem":
		if k.Table == tblOrders {
			return WriteUnits(r.maxPut[tblOrders], false) + entry, WRU, fmt.Sprintf("order ≤ %d B + its outbox index entry (%d B)", r.maxPut[tblOrders], r.maxEntry), nil
		}
		size := max(r.maxPut[k.Table], r.maxStored[k.Table])
		return WriteUnits(size, false), WRU, fmt.Sprintf("item ≤ %d B, conditional (a failed condition costs the same)", size), nil
	case "DynamoDB.UpdateItem":
		if k.Table != tblOrders {
			break
		}
		// Billed on the larger of the item before and after. MarkPublished
		// takes the order out of the sparse index; the relay's Claim moves
		// its entry (one out, one in).
		if component == compRelay {
			return WriteUnits(order, false) + 2*entry, WRU, fmt.Sprintf("claim: order ≤ %d B, its index entry moved", order), nil
		}
		return WriteUnits(order, false) + entry, WRU, fmt.Sprintf("order ≤ %d B, its index entry removed", order), nil
	}
	return 0, 0, "", fmt.Errorf("%s made %s %s requests on %q, which the cost model has no billing rule for", component, k.Service, k.Op, k.Table)
}

// withBusyWorkers is b with each worker's SQS requests replaced by what the
// engine made per message when its queue never emptied (busy): the
// fulfilment queue carries every order, the promotion queue the promoted.
// Requests are scaled by busy.processed to stay whole.
func (b Bill) withBusyWorkers(busy throughputResult, orders, promoted int64) Bill {
	n := busy.processed
	out := Bill{Over: b.Over * n}
	for _, l := range b.Lines {
		if l.Service == "SQS" && (l.Component == compFulfilment || l.Component == compPromotion) {
			continue
		}
		l.Requests *= n
		out.Lines = append(out.Lines, l)
	}
	for _, w := range []struct {
		comp     string
		messages int64
	}{{compFulfilment, orders}, {compPromotion, promoted}} {
		for _, c := range []struct {
			api   string
			count int64
		}{{"ReceiveMessage", busy.receives}, {"DeleteMessageBatch", busy.deletes}, {"ChangeMessageVisibility", busy.visibility}} {
			if c.count > 0 {
				out.Lines = append(out.Lines, Line{Component: w.comp, Service: "SQS", API: c.api, Requests: c.count * w.messages, Units: Chunks64KB(0), Unit: SQSRequest, Why: "a busy engine's calls per message"})
			}
		}
	}
	return out
}
