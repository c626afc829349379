package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"
	"golang.org/x/sync/errgroup"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/checkout/checkoutdb"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/web"
)

// publisherResult is one run of the publisher or of its ceiling.
type publisherResult struct {
	rate   float64         // orders per second completed in the window
	lat    []time.Duration // of the orders completed in the window
	orders int64           // completed in the whole run, warm-up included
	ops    map[string]int64
}

// publisher places orders from opt.clients concurrent clients for warm-up
// plus window on a fresh environment: through POST /orders on the real
// handler stack (bare false), or as the bare SDK calls one order costs
// (bare true), the ceiling.
func (b *bench) publisher(ctx context.Context, bare bool, window time.Duration) (publisherResult, error) {
	e, err := b.provision(ctx)
	if err != nil {
		return publisherResult{}, err
	}
	defer e.teardown()

	ops := newOpCounter()
	cfg := ops.config(b.cfg)
	db, snsClient := dynamodb.NewFromConfig(cfg), sns.NewFromConfig(cfg)
	place := func(ctx context.Context) error { return bareOrder(ctx, db, snsClient, e) }
	if !bare {
		post, closeServer, err := serveOrders(db, snsClient, e, b.opt.clients)
		if err != nil {
			return publisherResult{}, err
		}
		defer closeServer()
		place = post
	}

	var (
		mu        sync.Mutex
		lat       []time.Duration
		completed int64
	)
	start := time.Now()
	warmEnd := start.Add(b.opt.warmup)
	windowEnd := warmEnd.Add(window)
	runCtx, stop := context.WithTimeout(ctx, b.opt.warmup+window+time.Minute)
	defer stop()
	g, gctx := errgroup.WithContext(runCtx)
	for range b.opt.clients {
		g.Go(func() error {
			for time.Now().Before(windowEnd) && gctx.Err() == nil {
				rctx, cancel := context.WithTimeout(gctx, 30*time.Second)
				t0 := time.Now()
				err := place(rctx)
				t1 := time.Now()
				cancel()
				if err != nil {
					return err
				}
				mu.Lock()
				completed++
				if t1.After(warmEnd) && !t1.After(windowEnd) {
					lat = append(lat, t1.Sub(t0))
				}
				mu.Unlock()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return publisherResult{}, fmt.Errorf("place orders (bare %t): %w", bare, err)
	}
	return publisherResult{
		rate:   float64(len(lat)) / window.Seconds(),
		lat:    lat,
		orders: completed,
		ops:    ops.snapshot(),
	}, nil
}

// serveOrders starts the publisher's real handler stack on loopback and
// returns a function that places one order through POST /orders, as a
// form without an id (the server makes one), expecting 303 See Other.
func serveOrders(db *dynamodb.Client, snsClient *sns.Client, e *env, clients int) (post func(context.Context) error, closeServer func(), err error) {
	discard := slog.New(slog.DiscardHandler)
	store := checkoutdb.New(db, e.ordersTbl)
	// The outbox loop is not started: every publish here succeeds, and it
	// would add its own reads to the calls counted per order.
	svc, err := checkout.NewService(store, events.NewPublisher(snsClient, e.topicARN), time.Now, checkoutConfig, discard, nil)
	if err != nil {
		return nil, nil, err
	}
	srv := httptest.NewServer(web.NewServer(svc, store, nil, web.RandomSample, time.Now, discard, nil))
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = clients // every client keeps its connection
	client := &http.Client{
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	post = func(ctx context.Context) error {
		customer, amount := web.RandomSample()
		form := url.Values{"customer": {customer}, "amount": {amount}}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/orders", strings.NewReader(form.Encode()))
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("POST /orders: %w", err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			return fmt.Errorf("POST /orders: status %d, want 303: %.200s", resp.StatusCode, body)
		}
		return nil
	}
	return post, func() { transport.CloseIdleConnections(); srv.Close() }, nil
}

// checkoutConfig is the publisher's (cmd/publisher's defaults).
var checkoutConfig = checkout.Config{
	PublishTimeout: 5 * time.Second, StoreTimeout: 5 * time.Second, Lease: 30 * time.Second,
	RetryBase: 2 * time.Second, RetryMax: time.Minute, Interval: 2 * time.Second, Batch: 25,
}

// leaseLayout is the order store's lease format (fixed-width UTC).
const leaseLayout = "2006-01-02T15:04:05.000000Z"

// bareOrder makes, with the SDK alone, the three calls placing an order
// costs: the conditional PutItem of the same item the order store writes
// (outbox attributes included, so the emulator maintains the same sparse
// index), the SNS Publish with the Number attribute, and the UpdateItem
// that marks it published. It deliberately does not call the product's
// code: it is the baseline that code is measured against.
func bareOrder(ctx context.Context, db *dynamodb.Client, snsClient *sns.Client, e *env) error {
	o, err := newOrder()
	if err != nil {
		return err
	}
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	_, err = db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(e.ordersTbl),
		Item: map[string]ddbtypes.AttributeValue{
			"id":           s(o.ID),
			"customer":     s(o.Customer),
			"amount":       s(o.Amount.String()),
			"createdAt":    s(o.CreatedAt.Format(time.RFC3339Nano)),
			"publishState": s("pending"),
			"outbox":       s("pending"),
			"leaseUntil":   s(o.CreatedAt.Add(30 * time.Second).Format(leaseLayout)),
		},
		ConditionExpression:      aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{"#k": "id"},
	})
	if err != nil {
		return fmt.Errorf("put order %s: %w", o.ID, err)
	}
	body, err := events.Marshal(events.OrderPlaced{Order: o})
	if err != nil {
		return fmt.Errorf("encode order %s: %w", o.ID, err)
	}
	out, err := snsClient.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(e.topicARN),
		Message:  aws.String(string(body)),
		MessageAttributes: map[string]snstypes.MessageAttributeValue{
			events.AmountAttribute: {DataType: aws.String("Number"), StringValue: aws.String(o.Amount.String())},
		},
	})
	if err != nil {
		return fmt.Errorf("publish order %s: %w", o.ID, err)
	}
	_, err = db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(e.ordersTbl),
		Key:                 map[string]ddbtypes.AttributeValue{"id": s(o.ID)},
		ConditionExpression: aws.String("attribute_exists(id)"),
		UpdateExpression:    aws.String("SET publishState = :p, publishedAt = :t, messageId = :m REMOVE outbox, leaseUntil"),
		ExpressionAttributeValues: map[string]ddbtypes.AttributeValue{
			":p": s("published"),
			":t": s(time.Now().UTC().Format(time.RFC3339Nano)),
			":m": s(aws.ToString(out.MessageId)),
		},
	})
	if err != nil {
		return fmt.Errorf("mark order %s published: %w", o.ID, err)
	}
	return nil
}
