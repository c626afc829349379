package main

import (
	"context"
	"fmt"
	"math"
	"time"
)

// The original Python sample's pattern, computed: each message costs one
// receive of 1 and one delete, and an idle worker returns from a 5 s poll
// twelve times a minute.
const (
	originalRequestsPerMessage = 2
	originalEmptyPerMinute     = 60 / 5
)

// workerFigures measures (a)–(e): throughput of the engine, the bare SDK
// loop, the Go CDK and the original sample's loop in interleaved rounds,
// publish-to-processed latency, and SQS requests when loaded and idle.
func (b *bench) workerFigures(ctx context.Context, rep *report) error {
	window := b.opt.duration / time.Duration(b.opt.rounds)

	// (a), (b), (c) and the original sample's loop: rounds in rotating
	// order, so neither drift in the emulator nor going first favours one.
	contenders := []string{kindBare, kindEngine, kindGoCDK, kindOriginal}
	runs := map[string][]throughputResult{}
	for r := range b.opt.rounds {
		for i := range contenders {
			kind := contenders[(i+r)%len(contenders)]
			res, err := b.throughput(ctx, kind, window)
			if err != nil {
				return fmt.Errorf("throughput round %d: %w", r+1, err)
			}
			b.progress("throughput round %d/%d, %s: %.1f msg/s (%d in %s), %.2f SQS requests/msg", r+1, b.opt.rounds, kind, res.rate, res.processed, window, res.reqPerMsg)
			runs[kind] = append(runs[kind], res)
		}
	}
	rates := func(kind string) []float64 {
		var xs []float64
		for _, r := range runs[kind] {
			xs = append(xs, r.rate)
		}
		return xs
	}
	reqs := func(kind string) []float64 {
		var xs []float64
		for _, r := range runs[kind] {
			xs = append(xs, r.reqPerMsg)
		}
		return xs
	}
	engine := median(rates(kindEngine))
	originalReqs := median(reqs(kindOriginal))

	// (d): latency, the engine then the bare loop, both with 20 s polls.
	lat := map[string][]time.Duration{}
	for _, kind := range []string{kindEngine, kindBare} {
		ds, err := b.latency(ctx, kind, b.opt.duration)
		if err != nil {
			return fmt.Errorf("latency: %w", err)
		}
		b.progress("latency, %s: %d orders, p50 %.1f ms, p99 %.1f ms", kind, len(ds), percentile(ds, 50), percentile(ds, 99))
		lat[kind] = ds
	}

	// (e), idle.
	b.progress("idle: polling empty queues for %s", b.opt.idle)
	idle, err := b.idle(ctx)
	if err != nil {
		return err
	}
	b.progress("idle: engine %d empty receives (%.1f/min), original sample loop %d (%.1f/min)", idle.engineN, idle.engine, idle.originalN, idle.original)

	rep.section(fmt.Sprintf("WORKER (fulfilment queue, real fulfilment handler and table; concurrency %d)", b.opt.concurrency))
	rep.add("(a) engine vs (b) bare SDK loop, msg/s (ceiling)", engine, median(rates(kindBare)), "%.1f", kindBare)
	rep.add("(a) engine vs (c) Go CDK awssnssqs, msg/s", engine, median(rates(kindGoCDK)), "%.1f", kindGoCDK)
	rep.add("(a) engine vs the original sample's loop, msg/s", engine, median(rates(kindOriginal)), "%.1f", "receive(1, 5 s)+delete, 1 at a time")
	rep.add(fmt.Sprintf("(d) publish→processed p50, ms (%.0f/s, 20 s polls)", b.opt.rate), percentile(lat[kindEngine], 50), percentile(lat[kindBare], 50), "%.1f", kindBare)
	rep.add(fmt.Sprintf("(d) publish→processed p99, ms (%.0f/s, 20 s polls)", b.opt.rate), percentile(lat[kindEngine], 99), percentile(lat[kindBare], 99), "%.1f", kindBare)
	rep.add("(e) SQS requests per message under load, engine", median(reqs(kindEngine)), originalRequestsPerMessage, "%.2f", "original sample: receive(1)+delete per message")
	rep.add("(e) same, the original sample's loop measured", originalReqs, originalRequestsPerMessage, "%.2f", "original sample, computed")
	rep.add("(e) empty receives per minute idle, engine (20 s polls)", idle.engine, originalEmptyPerMinute, "%.1f", "original sample: 5 s polls")
	rep.add("(e) same, the original sample's loop measured", idle.original, originalEmptyPerMinute, "%.1f", "original sample, computed")

	rep.note("throughput rounds, msg/s: engine %s; bare SDK loop %s; Go CDK %s; original sample's loop %s",
		formatAll(rates(kindEngine), "%.1f"), formatAll(rates(kindBare), "%.1f"), formatAll(rates(kindGoCDK), "%.1f"), formatAll(rates(kindOriginal), "%.1f"))
	// Ratios within a round compare runs seconds apart, so they shake off
	// drift between rounds that the medians above still carry.
	vsBare, vsCDK := pairedRatios(rates(kindEngine), rates(kindBare)), pairedRatios(rates(kindEngine), rates(kindGoCDK))
	vsOriginal := pairedRatios(rates(kindEngine), rates(kindOriginal))
	rep.note("per-round ratios: engine/bare %s (median %.2f); engine/Go CDK %s (median %.2f); engine/original %s (median %.2f)",
		formatAll(vsBare, "%.2f"), median(vsBare), formatAll(vsCDK, "%.2f"), median(vsCDK), formatAll(vsOriginal, "%.2f"), median(vsOriginal))
	rep.note("SQS requests per message under load (median): engine %.2f, bare SDK loop %.2f, Go CDK %.2f, original sample's loop %.2f",
		median(reqs(kindEngine)), median(reqs(kindBare)), median(reqs(kindGoCDK)), originalReqs)
	// The breakdown of the round nearest the median.
	var engineCalls string
	nearest := math.Inf(1)
	for _, r := range runs[kindEngine] {
		if d := math.Abs(r.reqPerMsg - median(reqs(kindEngine))); d < nearest {
			nearest, engineCalls = d, r.calls
			// The cost figures price a busy worker's SQS calls from it.
			b.busy = &r
		}
	}
	rep.note("engine SQS calls per message (median round): %s", engineCalls)
	rep.note("engine time per message per handler slot (concurrency ÷ throughput): %.0f ms on this emulator; the manifests' count.queue_delay.msg_processing_time is the same quantity on AWS",
		float64(b.opt.concurrency)/engine*1000)
	rep.note("latency samples: engine %d, bare SDK loop %d, over %s each; idle: engine %d empty receives, original sample's loop %d, in %s",
		len(lat[kindEngine]), len(lat[kindBare]), b.opt.duration, idle.engineN, idle.originalN, b.opt.idle)
	return nil
}

// publisherFigures measures (f) and (g): POST /orders through the real
// handler stack and the bare SDK calls an order costs, alternating rounds
// so drift in the emulator favours neither.
func (b *bench) publisherFigures(ctx context.Context, rep *report) error {
	window := b.opt.duration / time.Duration(b.opt.rounds)
	type totals struct {
		rates  []float64
		lat    []time.Duration
		orders int64
		ops    map[string]int64
	}
	all := map[bool]*totals{false: {ops: map[string]int64{}}, true: {ops: map[string]int64{}}}
	for r := range b.opt.rounds {
		for _, bare := range []bool{r%2 == 1, r%2 == 0} {
			res, err := b.publisher(ctx, bare, window)
			if err != nil {
				return fmt.Errorf("publisher round %d: %w", r+1, err)
			}
			name := "POST /orders"
			if bare {
				name = "bare SDK calls"
			}
			b.progress("publisher round %d/%d, %s: %.1f orders/s, p50 %.1f ms, p99 %.1f ms", r+1, b.opt.rounds, name, res.rate, percentile(res.lat, 50), percentile(res.lat, 99))
			t := all[bare]
			t.rates = append(t.rates, res.rate)
			t.lat = append(t.lat, res.lat...)
			t.orders += res.orders
			for op, n := range res.ops {
				t.ops[op] += n
			}
		}
	}
	web, bare := all[false], all[true]
	perOrder := func(t *totals) float64 { return float64(total(t.ops, "")) / float64(max(t.orders, 1)) }

	rep.section(fmt.Sprintf("PUBLISHER (POST /orders, real handler stack in-process; %d clients)", b.opt.clients))
	rep.add("(f) POST /orders vs (g) the bare SDK calls, orders/s", median(web.rates), median(bare.rates), "%.1f", "bare SDK calls")
	rep.add("(f) POST /orders latency p50, ms", percentile(web.lat, 50), percentile(bare.lat, 50), "%.1f", "bare SDK calls")
	rep.add("(f) POST /orders latency p99, ms", percentile(web.lat, 99), percentile(bare.lat, 99), "%.1f", "bare SDK calls")
	rep.add("(f) AWS calls per order", perOrder(web), perOrder(bare), "%.2f", "bare: PutItem+Publish+UpdateItem")

	rep.note("publisher rounds, orders/s: POST /orders %s; bare SDK calls %s (latency percentiles pooled over the rounds)",
		formatAll(web.rates, "%.1f"), formatAll(bare.rates, "%.1f"))
	paired := pairedRatios(web.rates, bare.rates)
	rep.note("per-round ratios POST /orders/bare: %s (median %.2f)", formatAll(paired, "%.2f"), median(paired))
	rep.note("AWS calls per order, POST /orders: %s (%d orders); bare: %s", describe(web.ops, web.orders), web.orders, describe(bare.ops, bare.orders))
	return nil
}

// pairedRatios divides each round's value by the same round's baseline.
func pairedRatios(values, baselines []float64) []float64 {
	out := make([]float64, 0, len(values))
	for i := range min(len(values), len(baselines)) {
		if baselines[i] > 0 {
			out = append(out, values[i]/baselines[i])
		}
	}
	return out
}
