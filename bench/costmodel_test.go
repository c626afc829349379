package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
)

func TestParseUSD(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Microdollars
		wantErr bool
	}{
		{"0.625", 625_000, false},
		{"0.40", 400_000, false},
		{"0.5", 500_000, false},
		{"2", 2_000_000, false},
		{"0.000001", 1, false},
		{"12.345678", 12_345_678, false},
		{"0.0000001", 0, true}, // a seventh decimal
		{"", 0, true},
		{".5", 0, true},
		{"-1", 0, true},
		{"1,5", 0, true},
		{"$1", 0, true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseUSD(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseUSD(%q) error %v; want error %t", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("parseUSD(%q) = %d; want %d", tc.in, got, tc.want)
			}
		})
	}
}

// TestStrings: money to the last microdollar with at least cents, units
// to the thousandth without trailing zeros.
func TestStrings(t *testing.T) {
	for _, tc := range []struct {
		in   fmt.Stringer
		want string
	}{
		{Microdollars(0), "$0.00"}, {Microdollars(500_000), "$0.50"}, {Microdollars(2_985_000), "$2.985"},
		{Microdollars(27_756), "$0.027756"}, {Microdollars(1), "$0.000001"}, {Microdollars(12_000_000), "$12.00"},
		{Microdollars(-1_500_000), "-$1.50"},
		{Milli(500), "0.5"}, {Milli(1000), "1"}, {Milli(2000), "2"}, {Milli(1250), "1.25"}, {Milli(0), "0"},
	} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("%T(%d).String() = %q; want %q", tc.in, tc.in, got, tc.want)
		}
	}
}

func TestUnits(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  Milli
		want Milli
	}{
		{"write of an empty item is one WRU", WriteUnits(0, false), 1000},
		{"write of 1 KB", WriteUnits(1024, false), 1000},
		{"write of 1 KB and a byte", WriteUnits(1025, false), 2000},
		{"transactional write of 3 KB", WriteUnits(3072, true), 6000},
		{"transactional write of 500 B", WriteUnits(500, true), 2000},
		{"eventual read of nothing (an empty Query)", ReadUnits(0, Eventual), 500},
		{"eventual read of 4 KB", ReadUnits(4096, Eventual), 500},
		{"eventual read of 8 KB", ReadUnits(8192, Eventual), 1000},
		{"strong read of 4 KB", ReadUnits(4096, Strong), 1000},
		{"strong read of 4 KB and a byte", ReadUnits(4097, Strong), 2000},
		{"transactional read of 100 B", ReadUnits(100, Transactional), 2000},
		{"request without payload", Chunks64KB(0), 1000},
		{"request of 64 KB", Chunks64KB(64 * 1024), 1000},
		{"request of 64 KB and a byte", Chunks64KB(64*1024 + 1), 2000},
		{"request of 256 KB", Chunks64KB(256 * 1024), 4000},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %s units; want %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestItemSize(t *testing.T) {
	s := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberS{Value: v} }
	n := func(v string) ddbtypes.AttributeValue { return &ddbtypes.AttributeValueMemberN{Value: v} }
	for _, tc := range []struct {
		name string
		item map[string]ddbtypes.AttributeValue
		want int
	}{
		{"string: name and UTF-8 bytes", map[string]ddbtypes.AttributeValue{"id": s("abc")}, 5},
		{"multi-byte string", map[string]ddbtypes.AttributeValue{"c": s("Zoë")}, 1 + 4},
		{"number, trailing zeros trimmed", map[string]ddbtypes.AttributeValue{"p": n("100")}, 1 + 2},
		{"number of five digits", map[string]ddbtypes.AttributeValue{"p": n("12345")}, 1 + 4},
		{"negative fraction, leading zeros trimmed", map[string]ddbtypes.AttributeValue{"p": n("-0.0012")}, 1 + 2},
		{"boolean and null", map[string]ddbtypes.AttributeValue{"b": &ddbtypes.AttributeValueMemberBOOL{Value: true}, "z": &ddbtypes.AttributeValueMemberNULL{Value: true}}, 2 + 2},
		{"map", map[string]ddbtypes.AttributeValue{"m": &ddbtypes.AttributeValueMemberM{Value: map[string]ddbtypes.AttributeValue{"a": s("b")}}}, 1 + 3 + 1 + 1 + 1},
		{"list", map[string]ddbtypes.AttributeValue{"l": &ddbtypes.AttributeValueMemberL{Value: []ddbtypes.AttributeValue{s("x"), n("1")}}}, 1 + 3 + (1 + 1) + (1 + 2)},
		{"string set", map[string]ddbtypes.AttributeValue{"ss": &ddbtypes.AttributeValueMemberSS{Value: []string{"ab", "c"}}}, 2 + 3},
		{"number set", map[string]ddbtypes.AttributeValue{"ns": &ddbtypes.AttributeValueMemberNS{Value: []string{"12", "3"}}}, 2 + 2 + 2},
		{"binary set", map[string]ddbtypes.AttributeValue{"bs": &ddbtypes.AttributeValueMemberBS{Value: [][]byte{[]byte("ab"), []byte("c")}}}, 2 + 3},
		{"the original sample's largest order", map[string]ddbtypes.AttributeValue{"id": s(strings.Repeat("x", 36)), "customer": s(strings.Repeat("x", 100)), "amount": s("1000000.00")}, 2 + 36 + 8 + 100 + 6 + 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := ItemSize(tc.item); got != tc.want {
				t.Errorf("ItemSize = %d; want %d", got, tc.want)
			}
		})
	}
	if originalItemBytes != 162 {
		t.Errorf("originalItemBytes = %d; want 162", originalItemBytes)
	}
}

// testPrices are round prices, so the expected costs can be checked by hand.
var testPrices = Prices{Region: "test", PerMillion: map[Unit]Microdollars{
	SNSRequest: mustUSD("0.50"), SQSRequest: mustUSD("0.40"), WRU: mustUSD("0.625"), RRU: mustUSD("0.125"),
}}

func TestBillCost(t *testing.T) {
	line := func(unit Unit, requests int64, units Milli) Line {
		return Line{Component: "c", Service: "S", API: "A", Requests: requests, Units: units, Unit: unit}
	}
	for _, tc := range []struct {
		name      string
		bill      Bill
		prices    Prices
		n         int64
		wantLines []Microdollars
		wantErr   string
	}{
		{
			name: "two SQS requests an order, per million orders",
			bill: Bill{Over: 1, Lines: []Line{line(SQSRequest, 2, 1000)}}, prices: testPrices, n: 1_000_000,
			wantLines: []Microdollars{800_000},
		},
		{
			name: "a write of 1 KB with its index entry, per million orders",
			bill: Bill{Over: 1, Lines: []Line{line(WRU, 1, 2000)}}, prices: testPrices, n: 1_000_000,
			wantLines: []Microdollars{1_250_000},
		},
		{
			name: "requests counted over 300 orders",
			bill: Bill{Over: 300, Lines: []Line{line(SNSRequest, 300, 1000), line(SQSRequest, 421, 1000)}}, prices: testPrices, n: 1_000_000,
			// 421/300 × $0.40 = $0.561333…
			wantLines: []Microdollars{500_000, 561_333},
		},
		{
			name: "half read units a day",
			bill: Bill{Over: 1, Lines: []Line{line(RRU, 388_800, 500)}}, prices: testPrices, n: 1,
			wantLines: []Microdollars{24_300},
		},
		{
			name:   "a half microdollar rounds up, and each line is rounded before the sum",
			bill:   Bill{Over: 1, Lines: []Line{line(SQSRequest, 1, 1000), line(SQSRequest, 1, 1000)}},
			prices: Prices{Region: "test", PerMillion: map[Unit]Microdollars{SQSRequest: 1}}, n: 500_000,
			wantLines: []Microdollars{1, 1},
		},
		{
			name:   "just under a half rounds down",
			bill:   Bill{Over: 1, Lines: []Line{line(SQSRequest, 1, 1000)}},
			prices: Prices{Region: "test", PerMillion: map[Unit]Microdollars{SQSRequest: 1}}, n: 499_999,
			wantLines: []Microdollars{0},
		},
		{
			name: "free units cost nothing",
			bill: Bill{Over: 1, Lines: []Line{line(RRU, 1000, 0)}}, prices: testPrices, n: 1_000_000,
			wantLines: []Microdollars{0},
		},
		{
			name: "no price for a unit",
			bill: Bill{Over: 1, Lines: []Line{line(WRU, 1, 1000)}}, prices: Prices{Region: "test"}, n: 1,
			wantErr: "no price for WRU",
		},
		{
			name: "counted over no orders",
			bill: Bill{Over: 0, Lines: []Line{line(WRU, 1, 1000)}}, prices: testPrices, n: 1,
			wantErr: "over 0 orders",
		},
		{
			name: "negative requests",
			bill: Bill{Over: 1, Lines: []Line{line(WRU, -1, 1000)}}, prices: testPrices, n: 1,
			wantErr: "negative",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.bill.Cost(tc.prices, tc.n)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Cost error %v; want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantLines, got.Lines); diff != "" {
				t.Errorf("line costs (-want +got):\n%s", diff)
			}
			var sum Microdollars
			for _, c := range tc.wantLines {
				sum += c
			}
			if got.Total != sum {
				t.Errorf("Total = %d; want %d, the sum of the lines", got.Total, sum)
			}
		})
	}
}

// TestDesignBills checks the designs' call patterns and their cost at the
// us-east-1 prices, worked out by hand.
func TestDesignBills(t *testing.T) {
	for _, tc := range []struct {
		name         string
		bill         Bill
		n            int64
		wantRequests int64 // over the bill's Over
		wantTotal    Microdollars
	}{
		{
			// 1 WRU $0.625 + Publish $0.50 + ½ RRU $0.0625 + 2 SQS $0.80 +
			// 0.2 × 2 SQS $0.16.
			name: "original, per million orders, a fifth promoted",
			bill: originalBill(1000, 200), n: 1_000_000,
			wantRequests: 1000*5 + 200*2, wantTotal: 2_147_500,
		},
		{
			// 2 × 17,280 empty receives × $0.40 per million.
			name: "original, idle day",
			bill: originalIdleBill(), n: 1,
			wantRequests: 2 * 17_280, wantTotal: 13_824,
		},
		{
			// 388,800 queries × ½ RRU × $0.125 per million = $0.0243; 2 ×
			// 4,320 empty receives × $0.40 per million = $0.003456.
			name: "ours, idle day",
			bill: ourIdleBill(relayInterval), n: 1,
			wantRequests: 388_800 + 2*4_320, wantTotal: 24_300 + 3_456,
		},
		{
			// 77,760 queries × ½ RRU × $0.125 per million = $0.00486.
			name: "ours, idle day, the relay polling every 10 s",
			bill: ourIdleBill(10 * time.Second), n: 1,
			wantRequests: 77_760 + 2*4_320, wantTotal: 4_860 + 3_456,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.bill.Requests(""); got != tc.wantRequests {
				t.Errorf("requests = %d; want %d", got, tc.wantRequests)
			}
			got, err := tc.bill.Cost(usEast1, tc.n)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != tc.wantTotal {
				t.Errorf("cost = %s; want %s", got.Total, tc.wantTotal)
			}
		})
	}
}

func TestWithBusyWorkers(t *testing.T) {
	ours := Bill{Over: 10, Lines: []Line{
		{Component: compPublisher, Service: "SNS", API: "Publish", Requests: 10, Units: 1000, Unit: SNSRequest},
		{Component: compFulfilment, Service: "SQS", API: "ReceiveMessage", Requests: 12, Units: 1000, Unit: SQSRequest},
		{Component: compPromotion, Service: "SQS", API: "DeleteMessageBatch", Requests: 2, Units: 1000, Unit: SQSRequest},
	}}
	// A busy engine: 1 receive and 1.2 deletes per 10 messages (over 50).
	busy := throughputResult{processed: 50, receives: 5, deletes: 6}
	got := ours.withBusyWorkers(busy, 10, 2)
	if got.Over != 500 {
		t.Errorf("Over = %d; want 500", got.Over)
	}
	want := map[string]int64{
		"publisher SNS Publish":             500,
		"fulfilment SQS ReceiveMessage":     50,
		"fulfilment SQS DeleteMessageBatch": 60,
		"promotion SQS ReceiveMessage":      10,
		"promotion SQS DeleteMessageBatch":  12,
	}
	gotReq := map[string]int64{}
	for _, l := range got.Lines {
		gotReq[l.Component+" "+l.Service+" "+l.API] = l.Requests
	}
	if diff := cmp.Diff(want, gotReq); diff != "" {
		t.Errorf("requests (-want +got):\n%s", diff)
	}
}

func TestBillingRule(t *testing.T) {
	run := &costRun{
		maxPut:    map[string]int{tblOrders: 240, tblFulfilments: 150},
		maxStored: map[string]int{tblOrders: 280, tblFulfilments: 150, tblCoupons: 1500},
		maxEntry:  110, maxPublish: 300,
	}
	for _, tc := range []struct {
		component string
		key       reqKey
		want      Milli
		wantUnit  Unit
		wantErr   bool
	}{
		{compPublisher, reqKey{Service: "DynamoDB", Op: "PutItem", Table: tblOrders}, 2000, WRU, false},
		{compPublisher, reqKey{Service: "DynamoDB", Op: "UpdateItem", Table: tblOrders}, 2000, WRU, false},
		{compRelay, reqKey{Service: "DynamoDB", Op: "UpdateItem", Table: tblOrders}, 3000, WRU, false},
		{compPage, reqKey{Service: "DynamoDB", Op: "GetItem", Table: tblOrders, Strong: true}, 1000, RRU, false},
		{compPage, reqKey{Service: "DynamoDB", Op: "GetItem", Table: tblCoupons}, 500, RRU, false},
		{compRelay, reqKey{Service: "DynamoDB", Op: "Query", Table: tblOrders}, 500, RRU, false},
		{compFulfilment, reqKey{Service: "DynamoDB", Op: "PutItem", Table: tblFulfilments}, 1000, WRU, false},
		{compPromotion, reqKey{Service: "DynamoDB", Op: "PutItem", Table: tblCoupons}, 2000, WRU, false}, // 1.5 KB
		{compPublisher, reqKey{Service: "SNS", Op: "Publish"}, 1000, SNSRequest, false},
		{compFulfilment, reqKey{Service: "SQS", Op: "ReceiveMessage"}, 1000, SQSRequest, false},
		{compFulfilment, reqKey{Service: "SQS", Op: "DeleteMessageBatch"}, 1000, SQSRequest, false},
		{compPublisher, reqKey{Service: "DynamoDB", Op: "DescribeTable", Table: tblOrders}, 0, RRU, false},
		{compPublisher, reqKey{Service: "DynamoDB", Op: "Scan", Table: tblOrders}, 0, 0, true},
		{compPublisher, reqKey{Service: "DynamoDB", Op: "UpdateItem", Table: tblCoupons}, 0, 0, true},
	} {
		t.Run(tc.component+" "+tc.key.Op+" "+tc.key.Table, func(t *testing.T) {
			got, unit, _, err := run.billingRule(tc.component, tc.key)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v; want error %t", err, tc.wantErr)
			}
			if got != tc.want || unit != tc.wantUnit {
				t.Errorf("billingRule = %s %s; want %s %s", got, unit, tc.want, tc.wantUnit)
			}
		})
	}
}

func TestMetaRefresh(t *testing.T) {
	for _, tc := range []struct {
		page string
		want string // the seconds, or "" for no reload
	}{
		{`<head><meta http-equiv="refresh" content="2"></head>`, "2"},
		{`<meta http-equiv="refresh"  content="15">`, "15"},
		{`<head><meta charset="utf-8"></head>`, ""},
	} {
		got := ""
		if m := metaRefresh.FindStringSubmatch(tc.page); m != nil {
			got = m[1]
		}
		if got != tc.want {
			t.Errorf("metaRefresh on %q = %q; want %q", tc.page, got, tc.want)
		}
	}
}
