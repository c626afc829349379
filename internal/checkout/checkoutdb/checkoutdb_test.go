package checkoutdb_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"

	"github.com/pubsub-app/pubsub/internal/checkout"
	"github.com/pubsub-app/pubsub/internal/checkout/checkoutdb"
	"github.com/pubsub-app/pubsub/internal/ddb/ddbtest"
	"github.com/pubsub-app/pubsub/internal/events"
	"github.com/pubsub-app/pubsub/internal/order"
)

const testTable = "pubsub-test-publisher-ordersTable"

type item = ddbtest.Item

// fakeDB is the shared fake DynamoDB with the orders table (partition key
// id, and the sparse KEYS_ONLY index outbox on outbox and leaseUntil), and
// the table's items in reach.
type fakeDB struct {
	*ddbtest.DB
	items map[string]item
}

func newFakeDB(t *testing.T) fakeDB {
	db := ddbtest.New(t, ddbtest.Table{Name: testTable, Key: "id", Index: &ddbtest.Index{Name: checkoutdb.OutboxIndex, Hash: "outbox", Range: "leaseUntil"}})
	return fakeDB{db, db.Items(testTable)}
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// Test data.

var (
	now     = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	created = time.Date(2026, 5, 1, 11, 59, 30, 123456789, time.UTC)
)

func testID(i int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", i) }

func testOrder(i int) order.Order {
	return order.Order{ID: testID(i), Customer: "Ada Lovelace", Amount: 9550, CreatedAt: created}
}

// lease formats t as the store writes leases: fixed-width UTC microseconds,
// so that string order is time order in the index.
func lease(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func s(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func n(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }

// pendingItem is an unpublished order leased until leaseUntil, as Create
// stores it.
func pendingItem(i int, leaseUntil time.Time) item {
	return item{
		"id":           s(testID(i)),
		"customer":     s("Ada Lovelace"),
		"amount":       s("95.50"),
		"createdAt":    s(created.Format(time.RFC3339Nano)),
		"publishState": s("pending"),
		"outbox":       s(shardKey(i)),
		"leaseUntil":   s(lease(leaseUntil)),
	}
}

// legacyItem is pendingItem as a publisher wrote it before the outbox was
// sharded: under the single outbox key "pending".
func legacyItem(i int, leaseUntil time.Time) item {
	it := pendingItem(i, leaseUntil)
	it["outbox"] = s("pending")
	return it
}

// shardKey is the outbox shard pendingItem puts test order i in: Create
// draws an order's shard at random, so the tests that fill the shards pick
// them by the index.
func shardKey(i int) string { return fmt.Sprintf("pending#%d", i%checkoutdb.OutboxShards) }

// shardOf returns the indexes i of the first n test orders in each outbox
// shard (shardKey), by shard key.
func shardOf(n int) map[string][]int {
	m := map[string][]int{}
	for i := range n * checkoutdb.OutboxShards {
		m[shardKey(i)] = append(m[shardKey(i)], i)
	}
	return m
}

func publishedItem(i int) item {
	return item{
		"id":           s(testID(i)),
		"customer":     s("Ada Lovelace"),
		"amount":       s("95.50"),
		"createdAt":    s(created.Format(time.RFC3339Nano)),
		"publishState": s("published"),
		"publishedAt":  s(now.Add(-time.Minute).Format(time.RFC3339Nano)),
		"messageId":    s("sns-old"),
	}
}

func diffItems(t *testing.T, what string, want, got map[string]item) {
	t.Helper()
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(
		types.AttributeValueMemberS{}, types.AttributeValueMemberN{},
	)); diff != "" {
		t.Errorf("%s (-want +got):\n%s", what, diff)
	}
}

func TestCreate(t *testing.T) {
	db := newFakeDB(t)
	store := checkoutdb.New(db, testTable)
	o := testOrder(1)
	o.CreatedAt = created.In(time.FixedZone("CEST", 2*60*60))
	leaseUntil := now.Add(30 * time.Second).In(time.FixedZone("CEST", 2*60*60))

	if err := store.Create(context.Background(), o, leaseUntil); err != nil {
		t.Fatalf("Create: %v", err)
	}
	// Stored unpublished, in the outbox (a shard drawn at random: see
	// TestCreateSpreadsOverShards), leased in UTC at fixed width.
	want := pendingItem(1, now.Add(30*time.Second))
	shard := str(db.items[testID(1)]["outbox"])
	if !regexp.MustCompile(`^pending#[0-7]$`).MatchString(shard) {
		t.Errorf("outbox key %q; want pending#<0-7>", shard)
	}
	want["outbox"] = s(shard)
	diffItems(t, "stored items", map[string]item{testID(1): want}, db.items)
}

// oldShard is the shard of an order as the store drew it before: an FNV
// hash of the id, which the client chooses.
func oldShard(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return "pending#" + strconv.Itoa(int(h.Sum32()%checkoutdb.OutboxShards))
}

// TestCreateSpreadsOverShards: the order id is the client's (the form
// carries it), so its outbox shard must not follow from it. Orders whose
// ids a client picked to hash into one shard (800 of them, all pending#0 by
// the FNV hash of the id) spread over every shard, and the same id created
// again and again lands in different shards.
//
// The shards are drawn at random, so the bounds are probabilities, chosen
// so the test cannot fail while the draw is uniform: 800 draws over 8 shards
// (100 a shard on average, standard deviation 9.4) leave a shard empty with
// probability under 8×(7/8)^800 < 10^-45, and put more than 200 in one
// with probability under 10^-13 (a Chernoff bound); 64 creations of one id
// all land in one shard with probability 8^-63 < 10^-56.
func TestCreateSpreadsOverShards(t *testing.T) {
	const n = 800
	db := newFakeDB(t)
	store := checkoutdb.New(db, testTable)
	var ids []string
	for i := 0; len(ids) < n; i++ {
		if id := testID(i); oldShard(id) == "pending#0" {
			ids = append(ids, id)
		}
	}
	for _, id := range ids {
		o := testOrder(0)
		o.ID = id
		if err := store.Create(context.Background(), o, now); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}
	counts := map[string]int{}
	for _, id := range ids {
		counts[str(db.items[id]["outbox"])]++
	}
	for k := range counts {
		if !regexp.MustCompile(`^pending#[0-7]$`).MatchString(k) {
			t.Errorf("outbox key %q; want pending#<0-7>", k)
		}
	}
	if len(counts) != checkoutdb.OutboxShards || slices.Max(slices.Collect(maps.Values(counts))) > n/4 {
		t.Errorf("%d orders whose ids the id hash puts in pending#0 landed in %d shards: %v; want all %d shards, none with more than %d",
			n, len(counts), counts, checkoutdb.OutboxShards, n/4)
	}

	same := map[string]bool{}
	for range 64 {
		db := newFakeDB(t)
		if err := checkoutdb.New(db, testTable).Create(context.Background(), testOrder(1), now); err != nil {
			t.Fatalf("Create: %v", err)
		}
		same[str(db.items[testID(1)]["outbox"])] = true
	}
	if len(same) < 2 {
		t.Errorf("order %s created 64 times landed in %v each time; want the shard drawn, not a function of the id", testID(1), slices.Collect(maps.Keys(same)))
	}
}

// TestCreateExisting: a second Create of the same id must change nothing
// and say so: the stored order is the first one.
func TestCreateExisting(t *testing.T) {
	db := newFakeDB(t)
	db.items[testID(1)] = publishedItem(1)
	store := checkoutdb.New(db, testTable)
	o := testOrder(1)
	o.Customer = "Grace Hopper"

	err := store.Create(context.Background(), o, now.Add(30*time.Second))
	if !errors.Is(err, checkout.ErrExists) {
		t.Fatalf("Create of a stored id = %v; want checkout.ErrExists", err)
	}
	diffItems(t, "stored items", map[string]item{testID(1): publishedItem(1)}, db.items)
}

func TestCreateError(t *testing.T) {
	db := newFakeDB(t)
	db.Err = errors.New("throttled")
	err := checkoutdb.New(db, testTable).Create(context.Background(), testOrder(1), now)
	if !errors.Is(err, db.Err) || errors.Is(err, checkout.ErrExists) {
		t.Errorf("Create = %v; want it to wrap %v, not ErrExists", err, db.Err)
	}
	if err != nil && !strings.Contains(err.Error(), testID(1)) {
		t.Errorf("Create error %q does not name the order", err)
	}
}

func TestGet(t *testing.T) {
	published := publishedItem(2)
	leased := pendingItem(1, now)
	leased["publishAttempts"] = n("2")
	for _, tc := range []struct {
		name    string
		stored  item
		want    checkout.Record
		wantErr string // "" for no error
	}{
		{
			name:   "pending",
			stored: leased,
			want:   checkout.Record{Order: testOrder(1), Attempts: 2, LeaseUntil: now},
		},
		{
			name:   "published",
			stored: published,
			want:   checkout.Record{Order: testOrder(2), Published: true, PublishedAt: now.Add(-time.Minute), MessageID: "sns-old"},
		},
		{
			name:    "bad amount",
			stored:  item{"id": s(testID(3)), "amount": s("95.5.0"), "createdAt": s(created.Format(time.RFC3339Nano))},
			wantErr: `decode order ` + testID(3) + `: amount "95.5.0"`,
		},
		{
			name:    "bad createdAt",
			stored:  item{"id": s(testID(4)), "amount": s("1.00"), "createdAt": s("yesterday")},
			wantErr: "decode order " + testID(4) + ": createdAt",
		},
		{
			name:    "not an order",
			stored:  item{"id": s(testID(5)), "amount": n("1")},
			wantErr: "decode order",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newFakeDB(t)
			id := str(tc.stored["id"])
			db.items[id] = tc.stored
			got, err := checkoutdb.New(db, testTable).Get(context.Background(), id)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Get = %v; want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("record (-want +got):\n%s", diff)
			}
			// Read-your-write: the order page must show an order just placed.
			if in := db.Gets[0]; !aws.ToBool(in.ConsistentRead) {
				t.Errorf("GetItem ConsistentRead = %v; want true", in.ConsistentRead)
			}
		})
	}
}

func TestGetNotFound(t *testing.T) {
	_, err := checkoutdb.New(newFakeDB(t), testTable).Get(context.Background(), testID(1))
	if !errors.Is(err, checkout.ErrNotFound) {
		t.Errorf("Get of a missing order = %v; want checkout.ErrNotFound", err)
	}
}

func TestGetError(t *testing.T) {
	db := newFakeDB(t)
	db.Err = errors.New("throttled")
	_, err := checkoutdb.New(db, testTable).Get(context.Background(), testID(1))
	if !errors.Is(err, db.Err) || errors.Is(err, checkout.ErrNotFound) {
		t.Errorf("Get = %v; want it to wrap %v, not ErrNotFound", err, db.Err)
	}
}

func TestMarkPublished(t *testing.T) {
	at := now.In(time.FixedZone("CEST", 2*60*60))
	for _, tc := range []struct {
		name    string
		stored  map[string]item
		want    map[string]item
		wantErr bool
	}{
		{
			name:   "pending order leaves the outbox",
			stored: map[string]item{testID(1): pendingItem(1, now)},
			want: map[string]item{testID(1): {
				"id":           s(testID(1)),
				"customer":     s("Ada Lovelace"),
				"amount":       s("95.50"),
				"createdAt":    s(created.Format(time.RFC3339Nano)),
				"publishState": s("published"),
				"publishedAt":  s(now.Format(time.RFC3339Nano)),
				"messageId":    s("sns-1"),
			}},
		},
		{
			// UpdateItem would create the item: the condition must refuse.
			name:    "missing order is not created",
			stored:  map[string]item{},
			want:    map[string]item{},
			wantErr: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newFakeDB(t)
			maps.Copy(db.items, tc.stored)
			err := checkoutdb.New(db, testTable).MarkPublished(context.Background(), testID(1), "sns-1", at)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("MarkPublished = %v; want error: %v", err, tc.wantErr)
			}
			diffItems(t, "stored items", tc.want, db.items)
		})
	}
}

func TestMarkPublishedError(t *testing.T) {
	db := newFakeDB(t)
	db.Err = errors.New("throttled")
	err := checkoutdb.New(db, testTable).MarkPublished(context.Background(), testID(1), "sns-1", now)
	if !errors.Is(err, db.Err) {
		t.Errorf("MarkPublished = %v; want it to wrap %v", err, db.Err)
	}
}

func TestReschedule(t *testing.T) {
	next := now.Add(8 * time.Second)
	rescheduled := pendingItem(1, next)
	rescheduled["publishAttempts"] = n("3")
	for _, tc := range []struct {
		name   string
		stored map[string]item
		want   map[string]item
	}{
		{
			name:   "pending order",
			stored: map[string]item{testID(1): pendingItem(1, now)},
			want:   map[string]item{testID(1): rescheduled},
		},
		{
			// Another task published it meanwhile: it must not go back into the outbox.
			name:   "published order is left alone",
			stored: map[string]item{testID(1): publishedItem(1)},
			want:   map[string]item{testID(1): publishedItem(1)},
		},
		{
			name:   "missing order is not created",
			stored: map[string]item{},
			want:   map[string]item{},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newFakeDB(t)
			maps.Copy(db.items, tc.stored)
			if err := checkoutdb.New(db, testTable).Reschedule(context.Background(), testID(1), 3, next); err != nil {
				t.Fatalf("Reschedule = %v; want nil", err)
			}
			diffItems(t, "stored items", tc.want, db.items)
		})
	}
}

func TestRescheduleError(t *testing.T) {
	db := newFakeDB(t)
	db.Err = errors.New("throttled")
	err := checkoutdb.New(db, testTable).Reschedule(context.Background(), testID(1), 1, now)
	if !errors.Is(err, db.Err) {
		t.Errorf("Reschedule = %v; want it to wrap %v", err, db.Err)
	}
}

// TestDueOrders reads, from every shard and the legacy key, the orders whose
// lease ran out by now, a lease ending exactly now included, and claims none:
// the caller claims each just before publishing it.
func TestDueOrders(t *testing.T) {
	db := newFakeDB(t)
	maps.Copy(db.items, map[string]item{
		testID(1): pendingItem(1, now.Add(-time.Minute)),
		testID(2): pendingItem(2, now), // the boundary: due
		testID(3): pendingItem(3, now.Add(time.Microsecond)),
		testID(4): publishedItem(4),
		testID(5): legacyItem(5, now.Add(-time.Hour)),
		testID(6): legacyItem(6, now.Add(time.Second)),
	})
	before := maps.Clone(db.items)
	got, err := checkoutdb.New(db, testTable).DueOrders(context.Background(), now.In(time.FixedZone("CEST", 2*60*60)), 10)
	if err != nil {
		t.Fatalf("DueOrders: %v", err)
	}
	slices.SortFunc(got, func(a, b checkout.Due) int { return strings.Compare(a.ID, b.ID) })
	want := []checkout.Due{
		{ID: testID(1), LeaseUntil: now.Add(-time.Minute)},
		{ID: testID(2), LeaseUntil: now},
		{ID: testID(5), LeaseUntil: now.Add(-time.Hour)},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("due (-want +got):\n%s", diff)
	}
	diffItems(t, "stored items", before, db.items)
	var keys []string
	for _, q := range db.Queries {
		keys = append(keys, str(q.ExpressionAttributeValues[":o"]))
		if got := aws.ToInt32(q.Limit); got != 10 {
			t.Errorf("Query Limit = %d; want 10 (per shard)", got)
		}
	}
	wantKeys := []string{"pending#0", "pending#1", "pending#2", "pending#3", "pending#4", "pending#5", "pending#6", "pending#7", "pending"}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("outbox keys queried (-want +got):\n%s", diff)
	}
}

// TestDueOrdersLimit: the limit holds per shard, the longest overdue first,
// so a shard full of due orders does not crowd out another's.
func TestDueOrdersLimit(t *testing.T) {
	db := newFakeDB(t)
	shards := shardOf(5)
	busy := shards["pending#0"]
	for j, i := range busy {
		db.items[testID(i)] = pendingItem(i, now.Add(-time.Duration(5-j)*time.Second))
	}
	other := shards["pending#1"][0]
	db.items[testID(other)] = pendingItem(other, now)
	got, err := checkoutdb.New(db, testTable).DueOrders(context.Background(), now, 2)
	if err != nil {
		t.Fatalf("DueOrders: %v", err)
	}
	var ids []string
	for _, d := range got {
		ids = append(ids, d.ID)
	}
	if diff := cmp.Diff([]string{testID(busy[0]), testID(busy[1]), testID(other)}, ids); diff != "" {
		t.Errorf("due ids (-want +got):\n%s", diff)
	}
}

// failQuery fails the queries of one outbox key.
type failQuery struct {
	fakeDB
	key string
	err error
}

func (f *failQuery) Query(ctx context.Context, in *dynamodb.QueryInput, opts ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	if str(in.ExpressionAttributeValues[":o"]) == f.key {
		return nil, f.err
	}
	return f.fakeDB.Query(ctx, in, opts...)
}

func TestDueOrdersErrors(t *testing.T) {
	t.Run("every query", func(t *testing.T) {
		db := newFakeDB(t)
		db.Err = errors.New("throttled")
		got, err := checkoutdb.New(db, testTable).DueOrders(context.Background(), now, 10)
		if !errors.Is(err, db.Err) || len(got) != 0 {
			t.Errorf("DueOrders = %v, %v; want nothing and an error wrapping %v", got, err, db.Err)
		}
	})
	t.Run("one shard", func(t *testing.T) {
		// The other shards' orders still come back, with the error.
		db := newFakeDB(t)
		shards := shardOf(1)
		lost, kept := shards["pending#3"][0], shards["pending#4"][0]
		db.items[testID(lost)] = pendingItem(lost, now)
		db.items[testID(kept)] = pendingItem(kept, now)
		queryErr := errors.New("throttled")
		got, err := checkoutdb.New(&failQuery{db, "pending#3", queryErr}, testTable).DueOrders(context.Background(), now, 10)
		if !errors.Is(err, queryErr) || err == nil || !strings.Contains(err.Error(), "pending#3") {
			t.Errorf("DueOrders error = %v; want it to name pending#3 and wrap %v", err, queryErr)
		}
		if diff := cmp.Diff([]checkout.Due{{ID: testID(kept), LeaseUntil: now}}, got); diff != "" {
			t.Errorf("due (-want +got):\n%s", diff)
		}
	})
}

// TestClaim leases a due order until now+lease, conditionally on the lease
// it was read with: of several publisher tasks exactly one wins each order.
func TestClaim(t *testing.T) {
	const leaseFor = 30 * time.Second
	read := now.Add(-time.Second)
	otherLease := now.Add(time.Millisecond).Add(leaseFor) // the other task's clock reads a little later
	for _, tc := range []struct {
		name    string
		stored  map[string]item
		want    map[string]item
		wantErr error
	}{
		{
			name:   "due order",
			stored: map[string]item{testID(1): pendingItem(1, read)},
			want:   map[string]item{testID(1): pendingItem(1, now.Add(leaseFor))},
		},
		{
			name:   "legacy key",
			stored: map[string]item{testID(1): legacyItem(1, read)},
			want:   map[string]item{testID(1): legacyItem(1, now.Add(leaseFor))},
		},
		{
			name:    "claimed by another task since read",
			stored:  map[string]item{testID(1): pendingItem(1, otherLease)},
			want:    map[string]item{testID(1): pendingItem(1, otherLease)},
			wantErr: checkout.ErrNotDue,
		},
		{
			name:    "published since read",
			stored:  map[string]item{testID(1): publishedItem(1)},
			want:    map[string]item{testID(1): publishedItem(1)},
			wantErr: checkout.ErrNotDue,
		},
		{
			// UpdateItem would create the item: the condition must refuse.
			name:    "missing order is not created",
			stored:  map[string]item{},
			want:    map[string]item{},
			wantErr: checkout.ErrNotDue,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newFakeDB(t)
			maps.Copy(db.items, tc.stored)
			got, err := checkoutdb.New(db, testTable).Claim(context.Background(), checkout.Due{ID: testID(1), LeaseUntil: read}, now.In(time.FixedZone("CEST", 2*60*60)), leaseFor)
			if !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("Claim = %v; want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil {
				if diff := cmp.Diff(checkout.Record{Order: testOrder(1), LeaseUntil: now.Add(leaseFor)}, got); diff != "" {
					t.Errorf("claimed (-want +got):\n%s", diff)
				}
			}
			diffItems(t, "stored items", tc.want, db.items)
		})
	}
}

func TestClaimErrors(t *testing.T) {
	t.Run("write", func(t *testing.T) {
		db := newFakeDB(t)
		db.items[testID(1)] = pendingItem(1, now)
		db.Err = errors.New("throttled")
		_, err := checkoutdb.New(db, testTable).Claim(context.Background(), checkout.Due{ID: testID(1), LeaseUntil: now}, now, time.Second)
		if !errors.Is(err, db.Err) || errors.Is(err, checkout.ErrNotDue) {
			t.Errorf("Claim = %v; want it to wrap %v, not ErrNotDue", err, db.Err)
		}
		if err != nil && !strings.Contains(err.Error(), testID(1)) {
			t.Errorf("Claim error %q does not name the order", err)
		}
	})
	t.Run("undecodable order", func(t *testing.T) {
		db := newFakeDB(t)
		bad := pendingItem(1, now)
		bad["amount"] = s("lots")
		db.items[testID(1)] = bad
		_, err := checkoutdb.New(db, testTable).Claim(context.Background(), checkout.Due{ID: testID(1), LeaseUntil: now}, now, time.Second)
		if err == nil || !strings.Contains(err.Error(), `amount "lots"`) {
			t.Errorf("Claim = %v; want a decode error naming the amount", err)
		}
	})
}

// countingPublisher records the order ids it publishes, in order.
type countingPublisher struct{ ids []string }

func (p *countingPublisher) Publish(ctx context.Context, e events.OrderPlaced) (string, error) {
	p.ids = append(p.ids, e.Order.ID)
	return "sns-" + e.Order.ID, nil
}

// TestRelayDrainsEveryShard runs checkout's relay on this store: orders due
// in every shard, many in one of them, and two under the legacy key. Every
// order is published once and leaves the outbox, and the first poll already
// takes some from every shard: the busy one does not starve the others.
func TestRelayDrainsEveryShard(t *testing.T) {
	db := newFakeDB(t)
	shardOfKey := map[string]string{}
	for key, is := range shardOf(2) {
		if key == "pending#5" {
			is = shardOf(12)[key] // the hot shard
		}
		for _, i := range is {
			db.items[testID(i)] = pendingItem(i, now.Add(-time.Second))
			shardOfKey[testID(i)] = key
		}
	}
	for _, i := range []int{1000, 1001} {
		db.items[testID(i)] = legacyItem(i, now.Add(-time.Minute))
		shardOfKey[testID(i)] = "pending"
	}
	pub := &countingPublisher{}
	cfg := checkout.Config{PublishTimeout: 5 * time.Second, StoreTimeout: 5 * time.Second, Lease: 30 * time.Second,
		RetryBase: 2 * time.Second, RetryMax: time.Minute, Interval: 2 * time.Second, Batch: 3}
	svc, err := checkout.NewService(checkoutdb.New(db, testTable), pub, func() time.Time { return now }, cfg,
		slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}

	svc.DrainOutbox(context.Background())

	published := map[string]int{}
	for _, id := range pub.ids {
		published[id]++
	}
	for id, key := range shardOfKey {
		if published[id] != 1 {
			t.Errorf("order %s in %s published %d times; want once", id, key, published[id])
		}
		if it := db.items[id]; it["outbox"] != nil || str(it["publishState"]) != "published" {
			t.Errorf("order %s in %s: outbox %v, publishState %v; want out of the outbox, published", id, key, it["outbox"], it["publishState"])
		}
	}
	// The first poll reads 3 from the hot shard, 2 from each other shard and
	// the legacy key: 3 + 7×2 + 2 = 19 orders, of all 9 keys.
	firstPoll := map[string]bool{}
	for _, id := range pub.ids[:min(19, len(pub.ids))] {
		firstPoll[shardOfKey[id]] = true
	}
	if len(firstPoll) != checkoutdb.OutboxShards+1 {
		t.Errorf("the first poll published from %d outbox keys (%v); want all %d", len(firstPoll), firstPoll, checkoutdb.OutboxShards+1)
	}
	if len(db.items) != len(shardOfKey) {
		t.Errorf("%d items stored; want %d", len(db.items), len(shardOfKey))
	}
}

func TestPing(t *testing.T) {
	db := newFakeDB(t)
	store := checkoutdb.New(db, testTable)
	if err := store.Ping(context.Background()); err != nil {
		t.Errorf("Ping = %v; want nil", err)
	}
	db.Err = errors.New("no route to host")
	if err := store.Ping(context.Background()); !errors.Is(err, db.Err) || !strings.Contains(err.Error(), testTable) {
		t.Errorf("Ping = %v; want an error naming %s and wrapping %v", err, testTable, db.Err)
	}
}
