package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/sync/errgroup"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/checkout/checkoutdb"
	"github.com/pubsub-app/pubsub/internal/devstack/awscalls"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/fulfilment"
	"github.com/pubsub-app/pubsub/internal/journey"
	"github.com/pubsub-app/pubsub/internal/money"
	"github.com/pubsub-app/pubsub/internal/order"
	"github.com/pubsub-app/pubsub/internal/promotion"
	"github.com/pubsub-app/pubsub/internal/web"
	"github.com/pubsub-app/pubsub/internal/worker"
)

// The components whose requests are counted apart.
const (
	compPublisher  = "publisher"  // POST /orders
	compPage       = "order page" // GET /orders/{id}, each view
	compRelay      = "relay"      // the outbox relay, in the publisher task
	compFulfilment = "fulfilment"
	compPromotion  = "promotion"
)

// The tables, by the addons' logical ids.
const (
	tblOrders      = "ordersTable"
	tblFulfilments = "fulfilmentsTable"
	tblCoupons     = "couponsTable"
)

// costFigures runs the whole pipeline at opt.rate orders a second for
// opt.duration, counts every AWS request of each component, and prices
// them beside the original sample's design.
func (b *bench) costFigures(ctx context.Context, rep *report) error {
	b.progress("cost: the whole pipeline at %.0f orders/s for %s", b.opt.rate, b.opt.duration)
	run, err := b.costRun(ctx)
	if err != nil {
		return fmt.Errorf("cost run: %w", err)
	}
	b.progress("cost: %d orders (%d of them %s or more), %d order page views; relay %.0f queries/min",
		run.orders, run.promoted, promotion.Threshold, run.views, run.relayPerMinute())

	ours, err := run.ourBill()
	if err != nil {
		return err
	}
	theirs := originalBill(run.orders, run.promoted)
	ourIdle, theirIdle := ourIdleBill(relayInterval), originalIdleBill()

	p := usEast1
	const million = 1_000_000
	oursM, err := ours.Cost(p, million)
	if err != nil {
		return err
	}
	theirsM, err := theirs.Cost(p, million)
	if err != nil {
		return err
	}
	ourIdleD, err := ourIdle.Cost(p, 1)
	if err != nil {
		return err
	}
	// The relay's share, and what a slower relay would idle at.
	const slowRelay = 10 * time.Second
	slowIdleD, err := ourIdleBill(slowRelay).Cost(p, 1)
	if err != nil {
		return err
	}
	theirIdleD, err := theirIdle.Cost(p, 1)
	if err != nil {
		return err
	}
	var busyM *Priced
	if b.busy != nil && b.busy.processed > 0 {
		pr, err := ours.withBusyWorkers(*b.busy, run.orders, run.promoted).Cost(p, million)
		if err != nil {
			return err
		}
		busyM = &pr
	}

	// The summary, in the figures table.
	ratio := func(a, b Microdollars) string {
		if b <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f", float64(a)/float64(b))
	}
	perOrder := func(bill Bill, service string) float64 {
		return float64(bill.Requests(service)) / float64(bill.Over)
	}
	rep.section(fmt.Sprintf("COST (%s list prices, checked %s; requests only; the pipeline at %.0f orders/s, %d orders)", p.Region, p.Checked, b.opt.rate, run.orders))
	rep.add("(h) AWS requests per order, ours vs the original sample", perOrder(ours, ""), perOrder(theirs, ""), "%.2f", "original, computed from its call pattern")
	rep.addText("(h) cost per million orders", oursM.Total.String(), theirsM.Total.String(), "original sample", ratio(oursM.Total, theirsM.Total))
	if busyM != nil {
		rep.addText("(h) same, ours with busy workers (SQS calls per message of (a))", busyM.Total.String(), theirsM.Total.String(), "original sample", ratio(busyM.Total, theirsM.Total))
	}
	rep.addText("(h) idle cost per day, 1 task of each service", ourIdleD.Total.String(), theirIdleD.Total.String(), "original: an empty receive per 5 s per worker", ratio(ourIdleD.Total, theirIdleD.Total))

	// The detail: per design, component and API.
	detail := table{
		title:  fmt.Sprintf("Requests per order and cost per million orders, by service and API (%s list prices, checked %s)", p.Region, p.Checked),
		header: []string{"design", "component", "service API", "requests/order", "units/request", "per million orders", "units from"},
		right:  map[int]bool{3: true, 4: true, 5: true},
	}
	addBill := func(design string, bill Bill, pr Priced) {
		for i, l := range bill.Lines {
			detail.rows = append(detail.rows, []string{design, l.Component, l.Service + " " + l.API,
				fmt.Sprintf("%.3f", float64(l.Requests)/float64(bill.Over)), l.Units.String() + " " + l.Unit.String(), pr.Lines[i].String(), l.Why})
		}
		detail.rows = append(detail.rows, []string{design, "total", fmt.Sprintf("SNS %.2f + SQS %.2f + DynamoDB %.2f", perOrder(bill, "SNS"), perOrder(bill, "SQS"), perOrder(bill, "DynamoDB")),
			fmt.Sprintf("%.3f", perOrder(bill, "")), "", pr.Total.String(), ""})
	}
	addBill("ours, measured", ours, oursM)
	addBill("original, computed", theirs, theirsM)
	detail.notes = append(detail.notes,
		fmt.Sprintf("prices per million units: SNS Publish %s (a request per 64 KB; deliveries to SQS free); SQS standard %s (a request per 64 KB; the first million a month free, ignored); DynamoDB on-demand %s per write and %s per read request unit (since the cut of 1 November 2024)",
			p.PerMillion[SNSRequest], p.PerMillion[SQSRequest], p.PerMillion[WRU], p.PerMillion[RRU]),
		fmt.Sprintf("ours: every request of POST /orders, of the order page (%.2f views per order: the redirect, then the page's own reloads while a step is pending, as a customer who stays on it; %d of %d first views asked for one), and of the fulfilment and promotion engines (20 s polls, concurrency %d), counted per attempt in each component's SDK clients from the first order until the last was processed",
			float64(run.views)/float64(run.orders), run.refreshed, run.orders, b.opt.concurrency),
		fmt.Sprintf("the outbox relay's polls are the same with or without orders: they are priced under idle (%d of its requests fell in this run's window)", run.relayQueries),
		fmt.Sprintf("the original: the same %d orders, %d of them (%.1f%%) %s or more and so on its promotion queue, priced from its call pattern (see originalBill); its workers only log, so it writes no fulfilment or coupon",
			run.orders, run.promoted, 100*float64(run.promoted)/float64(run.orders), promotion.Threshold),
		fmt.Sprintf("item sizes measured in the run (DynamoDB's rules): order %d B as put, %d B as stored; outbox index entry %d B; fulfilment %d B; coupon or code claim %d B; SNS message %d B at most; all below 1 KB, so a write is 1 WRU and a read 1 RRU (strong) or 0.5 (eventual)",
			run.maxPut[tblOrders], run.maxStored[tblOrders], run.maxEntry, run.maxStored[tblFulfilments], run.maxStored[tblCoupons], run.maxPublish),
	)
	if busyM != nil {
		detail.notes = append(detail.notes, fmt.Sprintf("busy workers: each worker's SQS requests replaced by the engine's calls per message in the round of (a) nearest the median (%s, over %d messages); a worker whose queue never empties", b.busy.calls, b.busy.processed))
	}
	rep.tables = append(rep.tables, detail)

	idle := table{
		title:  "Idle cost per day: no orders, 1 task of each service",
		header: []string{"design", "component", "service API", "requests/day", "units/request", "per day", "why"},
		right:  map[int]bool{3: true, 4: true, 5: true},
	}
	addIdle := func(design string, bill Bill, pr Priced) {
		for i, l := range bill.Lines {
			idle.rows = append(idle.rows, []string{design, l.Component, l.Service + " " + l.API, strconv.FormatInt(l.Requests, 10), l.Units.String() + " " + l.Unit.String(), pr.Lines[i].String(), l.Why})
		}
		idle.rows = append(idle.rows, []string{design, "total", "", strconv.FormatInt(bill.Requests(""), 10), "", pr.Total.String(), ""})
	}
	addIdle("ours", ourIdle, ourIdleD)
	addIdle("original", theirIdle, theirIdleD)
	idle.notes = append(idle.notes,
		fmt.Sprintf("measured: the relay made %.0f outbox queries a minute in the run (computed: %d per %s, %d a minute); the idle engine's empty receives per minute are figure (e)",
			run.relayPerMinute(), relayQueries, relayInterval, int64(time.Minute/relayInterval)*relayQueries),
		fmt.Sprintf("the relay is %s of our %s a day; with OUTBOX_INTERVAL=%s (an order whose publish failed then waits up to %s longer) ours would idle at %s a day",
			ourIdleD.Lines[0], ourIdleD.Total, slowRelay, slowRelay-relayInterval, slowIdleD.Total),
		"left out: the load balancer's health checks (DescribeTable at most once per 5 s: control plane, free), Fargate, the load balancer, CloudWatch Logs and metrics, X-Ray, data transfer",
	)
	rep.tables = append(rep.tables, idle)
	return nil
}

// costRun is what one run of the pipeline counted.
type costRun struct {
	orders, promoted int64
	// views are the order page's views; refreshed is how many first views
	// asked for a reload.
	views, refreshed int64
	// counts are each component's requests, from just before the first
	// order until the last was processed.
	counts map[string]map[reqKey]int64
	// relayQueries, over relayWindow, are the relay's outbox queries.
	relayQueries int64
	relayWindow  time.Duration

	// maxPut is the largest item each table's PutItems wrote, maxStored the
	// largest each table held at the end (both by logical table); maxEntry
	// the largest outbox index entry; maxPublish the largest SNS payload.
	maxPut, maxStored    map[string]int
	maxEntry, maxPublish int
}

func (r *costRun) relayPerMinute() float64 {
	return float64(r.relayQueries) / r.relayWindow.Minutes()
}

// costRun places orders through the real handler stack at opt.rate for
// opt.duration while the outbox relay, and the fulfilment and promotion
// engines with their real handlers and the production long poll, run on
// one fresh environment. Each customer follows the redirect to the order
// page, which reads the order and what the workers recorded, and stays on
// it, as it reloads itself, until the order is through.
func (b *bench) costRun(ctx context.Context) (*costRun, error) {
	e, err := b.provision(ctx)
	if err != nil {
		return nil, err
	}
	defer e.teardown()

	logical := map[string]string{e.ordersTbl: tblOrders, e.fulfilTbl: tblFulfilments, e.couponsTbl: tblCoupons}
	uncounted := dynamodb.NewFromConfig(b.cfg) // the bench's own reads
	indexKeys, err := outboxIndexKeys(ctx, uncounted, e.ordersTbl)
	if err != nil {
		return nil, err
	}
	sizes := &sizeRecorder{logical: logical, put: map[string]int{}, indexTable: tblOrders, indexKeys: indexKeys}
	// Each component's clients record their requests, labelled with its name (an app id has
	// no spaces).
	requests, components := awscalls.New(), map[string]string{}
	configFor := func(component string) aws.Config {
		cfg := b.cfg.Copy()
		cfg.AppID = strings.ReplaceAll(component, " ", "-")
		components[cfg.AppID] = component
		cfg.HTTPClient = requests.Client(cfg.HTTPClient)
		cfg.APIOptions = append(cfg.APIOptions, sizes.middleware)
		return cfg
	}
	pubCfg, pageCfg, relayCfg := configFor(compPublisher), configFor(compPage), configFor(compRelay)
	fulCfg, promoCfg := configFor(compFulfilment), configFor(compPromotion)
	discard := slog.New(slog.DiscardHandler)

	// The publisher, wired as cmd/publisher wires it, but with the request
	// path, the order page and the relay on clients of their own so that
	// their requests are told apart.
	store := checkoutdb.New(dynamodb.NewFromConfig(pubCfg), e.ordersTbl)
	svc, err := checkout.NewService(store, events.NewPublisher(sns.NewFromConfig(pubCfg), e.topicARN), time.Now, checkoutConfig, discard, nil)
	if err != nil {
		return nil, err
	}
	pageDB := dynamodb.NewFromConfig(pageCfg)
	pageStore := checkoutdb.New(pageDB, e.ordersTbl)
	relayConfig := checkoutConfig
	relayConfig.Interval, relayConfig.Batch = relayInterval, relayBatch
	relay, err := checkout.NewService(checkoutdb.New(dynamodb.NewFromConfig(relayCfg), e.ordersTbl),
		events.NewPublisher(sns.NewFromConfig(relayCfg), e.topicARN), time.Now, relayConfig, discard, nil)
	if err != nil {
		return nil, err
	}
	srv := httptest.NewServer(web.NewServer(splitOrders{place: svc, get: pageStore.Get}, store,
		journey.NewReader(pageDB, e.fulfilTbl, e.couponsTbl), web.RandomSample, time.Now, discard, nil))
	defer srv.Close()

	// The workers, each noting the orders it finished.
	var (
		mu                 sync.Mutex
		fulfilled, coupons = map[string]bool{}, map[string]bool{}
	)
	record := func(set map[string]bool) func(events.OrderPlaced) {
		return func(ev events.OrderPlaced) {
			mu.Lock()
			set[ev.Order.ID] = true
			mu.Unlock()
		}
	}
	finished := func() (int64, int64) {
		mu.Lock()
		defer mu.Unlock()
		return int64(len(fulfilled)), int64(len(coupons))
	}
	var handlerErrs firstError
	engine := func(name string, cfg aws.Config, h worker.Handler, queueURL string, done func(events.OrderPlaced)) (*worker.Engine, error) {
		return worker.New(sqs.NewFromConfig(cfg), &doneHandler{h: h, done: done, errs: &handlerErrs},
			engineConfig(name, queueURL, e.topicARN, b.opt.concurrency, ourWait), discard, nil)
	}
	fulEngine, err := engine("fulfilment", fulCfg, fulfilment.NewHandler(dynamodb.NewFromConfig(fulCfg), e.fulfilTbl, time.Now), e.queueURL, record(fulfilled))
	if err != nil {
		return nil, err
	}
	promoEngine, err := engine("promotion", promoCfg, promotion.NewHandler(dynamodb.NewFromConfig(promoCfg), e.couponsTbl, time.Now), e.promoURL, record(coupons))
	if err != nil {
		return nil, err
	}

	runCtx, stop := context.WithTimeout(ctx, b.opt.duration+3*time.Minute)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(func() error { return fulEngine.Run(gctx) })
	g.Go(func() error { return promoEngine.Run(gctx) })
	g.Go(func() error { relay.RunOutbox(gctx); return nil })
	sleep(gctx, time.Second) // the first long polls open, as at rest

	before, t0 := len(requests.Calls()), time.Now()
	load, loadErr := b.placeOrders(gctx, srv.URL)
	if loadErr == nil {
		deadline := time.Now().Add(time.Minute)
		for {
			f, c := finished()
			if f >= load.placed && c >= load.promoted {
				break
			}
			if time.Now().After(deadline) || gctx.Err() != nil {
				loadErr = fmt.Errorf("%d of %d orders fulfilled, %d of %d coupons issued within a minute of the last order", f, load.placed, c, load.promoted)
				break
			}
			sleep(gctx, 20*time.Millisecond)
		}
		// The engines delete in batches a few milliseconds after the last
		// handler.
		sleep(gctx, 500*time.Millisecond)
	}
	window, t1 := requests.Calls()[before:], time.Now()
	stop() // the engines finish their open polls (up to 20 s) and stop
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("run the workers: %w", err)
	}
	if loadErr != nil {
		return nil, loadErr
	}
	if err := handlerErrs.get(); err != nil {
		return nil, err
	}

	run := &costRun{
		orders: load.placed, promoted: load.promoted, views: load.views, refreshed: load.refreshed,
		counts: map[string]map[reqKey]int64{}, relayWindow: t1.Sub(t0),
		maxPut: sizes.put, maxEntry: sizes.entry, maxPublish: sizes.publish, maxStored: map[string]int{},
	}
	for _, c := range window {
		comp := components[c.Caller]
		if run.counts[comp] == nil {
			run.counts[comp] = map[reqKey]int64{}
		}
		run.counts[comp][keyOf(c, logical)]++
	}
	for k, n := range run.counts[compRelay] {
		if k.Op == "Query" {
			run.relayQueries += n
		}
	}
	for physical, name := range logical {
		if run.maxStored[name], err = largestItem(ctx, uncounted, physical); err != nil {
			return nil, err
		}
	}
	return run, nil
}

// splitOrders serves POST /orders from place and the order page from get,
// so that the page's reads are counted apart.
type splitOrders struct {
	place interface {
		Place(ctx context.Context, o order.Order) (checkout.Record, error)
	}
	get func(ctx context.Context, id string) (checkout.Record, error)
}

func (s splitOrders) Place(ctx context.Context, o order.Order) (checkout.Record, error) {
	return s.place.Place(ctx, o)
}

func (s splitOrders) Get(ctx context.Context, id string) (checkout.Record, error) {
	return s.get(ctx, id)
}

// loadResult is what placeOrders placed and viewed.
type loadResult struct {
	placed, promoted int64
	views, refreshed int64
}

// metaRefresh finds the order page's reload: <meta http-equiv="refresh" content="2">.
var metaRefresh = regexp.MustCompile(`http-equiv="refresh"\s+content="(\d+)"`)

// maxViews bounds the reloads one order page is followed through.
const maxViews = 10

// placeOrders places orders through POST /orders at opt.rate for
// opt.duration. Each customer follows the redirect to the order page and
// stays on it while it reloads itself. A tick that finds 64 customers
// still busy is skipped, so the rate is an upper bound.
func (b *bench) placeOrders(ctx context.Context, base string) (loadResult, error) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer client.CloseIdleConnections()
	var placed, promoted, views, refreshed atomic.Int64
	do := func(ctx context.Context, method, target, contentType, body string, want int) (*http.Response, string, error) {
		req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
		if err != nil {
			return nil, "", err
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 256<<10))
		resp.Body.Close()
		if resp.StatusCode != want {
			return nil, "", fmt.Errorf("%s %s: status %d, want %d: %.200s", method, req.URL.Path, resp.StatusCode, want, text)
		}
		return resp, string(text), nil
	}
	customer := func(ctx context.Context) error {
		name, amount := web.RandomSample()
		cents, err := money.Parse(amount)
		if err != nil {
			return fmt.Errorf("sample amount %q: %w", amount, err)
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		form := url.Values{"customer": {name}, "amount": {amount}}
		resp, _, err := do(rctx, http.MethodPost, base+"/orders", "application/x-www-form-urlencoded", form.Encode(), http.StatusSeeOther)
		if err != nil {
			return err
		}
		placed.Add(1)
		if promotion.Qualifies(cents) {
			promoted.Add(1)
		}
		page, err := resp.Location()
		if err != nil {
			return fmt.Errorf("POST /orders: %w", err)
		}
		for n := 1; n <= maxViews; n++ {
			_, text, err := do(rctx, http.MethodGet, page.String(), "", "", http.StatusOK)
			if err != nil {
				return err
			}
			views.Add(1)
			m := metaRefresh.FindStringSubmatch(text)
			if m == nil {
				return nil
			}
			secs, _ := strconv.Atoi(m[1])
			if n == 1 {
				refreshed.Add(1)
			}
			sleep(rctx, time.Duration(secs)*time.Second)
		}
		return nil
	}

	var g errgroup.Group
	g.SetLimit(64)
	tick := time.NewTicker(time.Duration(float64(time.Second) / b.opt.rate))
	defer tick.Stop()
	end := time.After(b.opt.duration)
	skipped := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tick.C:
		}
		if !g.TryGo(func() error { return customer(ctx) }) {
			skipped++
		}
	}
	if err := g.Wait(); err != nil {
		return loadResult{}, fmt.Errorf("place orders: %w", err)
	}
	if skipped > 0 {
		b.progress("cost: note: %d order ticks skipped (64 customers already busy)", skipped)
	}
	return loadResult{placed: placed.Load(), promoted: promoted.Load(), views: views.Load(), refreshed: refreshed.Load()}, ctx.Err()
}

// reqKey is a kind of AWS request: the operation and, for DynamoDB, the
// table (by logical id) and whether a read is strongly consistent.
type reqKey struct {
	Service, Op, Table string
	Strong             bool
}

// keyOf is the kind of a recorded request, a DynamoDB table named by its logical id.
func keyOf(c awscalls.Call, logical map[string]string) reqKey {
	k := reqKey{Service: serviceID[c.Service], Op: c.API, Strong: c.Consistent}
	if c.Service == "dynamodb" && len(c.Resources) == 1 {
		k.Table = cmp.Or(logical[c.Resources[0]], c.Resources[0])
	}
	return k
}

// sizeRecorder notes, from the requests themselves, the largest item each
// table's PutItems wrote, the largest outbox index entry they created and
// the largest SNS payload published.
type sizeRecorder struct {
	logical    map[string]string
	indexTable string   // logical
	indexKeys  []string // the attributes of an index entry (KEYS_ONLY)

	mu             sync.Mutex
	put            map[string]int
	entry, publish int
}

func (s *sizeRecorder) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("benchItemSizes",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			s.note(in.Parameters)
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (s *sizeRecorder) note(params any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch in := params.(type) {
	case *dynamodb.PutItemInput:
		t := s.logical[aws.ToString(in.TableName)]
		s.put[t] = max(s.put[t], ItemSize(in.Item))
		if t != s.indexTable {
			return
		}
		entry := map[string]ddbtypes.AttributeValue{}
		for _, k := range s.indexKeys {
			v, ok := in.Item[k]
			if !ok {
				return // not in the sparse index
			}
			entry[k] = v
		}
		s.entry = max(s.entry, ItemSize(entry))
	case *sns.PublishInput:
		n := len(aws.ToString(in.Message))
		for name, a := range in.MessageAttributes {
			n += len(name) + len(aws.ToString(a.DataType)) + len(aws.ToString(a.StringValue)) + len(a.BinaryValue)
		}
		s.publish = max(s.publish, n)
	}
}

// outboxIndexKeys reads the attributes of an outbox index entry from the
// table's description: the table's key and the index's (KEYS_ONLY).
func outboxIndexKeys(ctx context.Context, db *dynamodb.Client, table string) ([]string, error) {
	out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	var keys []string
	for _, k := range out.Table.KeySchema {
		keys = append(keys, aws.ToString(k.AttributeName))
	}
	for _, gsi := range out.Table.GlobalSecondaryIndexes {
		if aws.ToString(gsi.IndexName) != checkoutdb.OutboxIndex {
			continue
		}
		if gsi.Projection != nil && gsi.Projection.ProjectionType != ddbtypes.ProjectionTypeKeysOnly {
			return nil, fmt.Errorf("table %s: index %s projects %s; the cost model prices KEYS_ONLY entries", table, checkoutdb.OutboxIndex, gsi.Projection.ProjectionType)
		}
		for _, k := range gsi.KeySchema {
			keys = append(keys, aws.ToString(k.AttributeName))
		}
		return keys, nil
	}
	return nil, fmt.Errorf("table %s has no index %s", table, checkoutdb.OutboxIndex)
}

// largestItem scans table for the size of its largest item.
func largestItem(ctx context.Context, db *dynamodb.Client, table string) (int, error) {
	largest := 0
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("scan %s: %w", table, err)
		}
		for _, it := range page.Items {
			largest = max(largest, ItemSize(it))
		}
	}
	return largest, nil
}
