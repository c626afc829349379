package awscalls

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParse reads requests as the SDK sends them: who called (the app id in
// the User-Agent), the service (the credential scope), the API and the
// resources. What it cannot read is left empty, and the IAM check fails on
// an empty caller or resource list.
func TestParse(t *testing.T) {
	const (
		ua    = "aws-sdk-go-v2/1.36.3 ua/2.1 os/linux lang/go#1.26.8 md/GOOS#linux md/GOARCH#amd64 api/sqs#1.38.1 app/fulfilment m/E,g"
		auth  = "AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/%s/aws4_request, SignedHeaders=host, Signature=x"
		queue = "http://127.0.0.1:4566/000000000000/pubsub-e1-fulfilment-EventsQueue"
	)
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		want    Call
	}{
		{
			name:    "no User-Agent app id, no signature",
			headers: map[string]string{"User-Agent": "aws-sdk-go-v2/1.36.3 api/sqs#1.38.1", "X-Amz-Target": "AmazonSQS.ReceiveMessage"},
			body:    `{"QueueUrl":"` + queue + `"}`,
			want:    Call{API: "ReceiveMessage", Resources: []string{queue}},
		},
		{
			name:    "an app id that is not the last token, nor a substring of another",
			headers: map[string]string{"User-Agent": "myapp/1 app/fulfilment-b m/E", "Authorization": strings.Replace(auth, "%s", "sqs", 1), "X-Amz-Target": "AmazonSQS.DeleteMessageBatch"},
			body:    `{"QueueUrl":"` + queue + `","Entries":[]}`,
			want:    Call{Caller: "fulfilment-b", Service: "sqs", API: "DeleteMessageBatch", Resources: []string{queue}},
		},
		{
			name:    "a body that is not JSON",
			headers: map[string]string{"User-Agent": ua, "Authorization": strings.Replace(auth, "%s", "sqs", 1), "X-Amz-Target": "AmazonSQS.ReceiveMessage"},
			body:    `{`,
			want:    Call{Caller: "fulfilment", Service: "sqs", API: "ReceiveMessage"},
		},
		{
			name:    "SQS JSON protocol",
			headers: map[string]string{"User-Agent": ua, "Authorization": strings.Replace(auth, "%s", "sqs", 1), "X-Amz-Target": "AmazonSQS.ReceiveMessage"},
			body:    `{"QueueUrl":"` + queue + `","MaxNumberOfMessages":10}`,
			want:    Call{Caller: "fulfilment", Service: "sqs", API: "ReceiveMessage", Resources: []string{queue}},
		},
		{
			name:    "DynamoDB Query on an index",
			headers: map[string]string{"User-Agent": "x app/publisher", "Authorization": strings.Replace(auth, "%s", "dynamodb", 1), "X-Amz-Target": "DynamoDB_20120810.Query"},
			body:    `{"TableName":"pubsub-e1-publisher-ordersTable","IndexName":"outbox","KeyConditionExpression":"x"}`,
			want:    Call{Caller: "publisher", Service: "dynamodb", API: "Query", Resources: []string{"pubsub-e1-publisher-ordersTable"}, Index: "outbox"},
		},
		{
			name:    "DynamoDB strongly consistent GetItem",
			headers: map[string]string{"User-Agent": "x app/order-page", "Authorization": strings.Replace(auth, "%s", "dynamodb", 1), "X-Amz-Target": "DynamoDB_20120810.GetItem"},
			body:    `{"TableName":"t1","Key":{},"ConsistentRead":true}`,
			want:    Call{Caller: "order-page", Service: "dynamodb", API: "GetItem", Resources: []string{"t1"}, Consistent: true},
		},
		{
			name:    "DynamoDB BatchGetItem across tables",
			headers: map[string]string{"User-Agent": "x app/publisher", "Authorization": strings.Replace(auth, "%s", "dynamodb", 1), "X-Amz-Target": "DynamoDB_20120810.BatchGetItem"},
			body:    `{"RequestItems":{"t2":{"Keys":[]},"t1":{"Keys":[]}}}`,
			want:    Call{Caller: "publisher", Service: "dynamodb", API: "BatchGetItem", Resources: []string{"t1", "t2"}},
		},
		{
			name:    "DynamoDB TransactWriteItems, one table twice",
			headers: map[string]string{"User-Agent": "x app/promotion", "Authorization": strings.Replace(auth, "%s", "dynamodb", 1), "X-Amz-Target": "DynamoDB_20120810.TransactWriteItems"},
			body:    `{"TransactItems":[{"Put":{"TableName":"t1"}},{"ConditionCheck":{"TableName":"t2"}},{"Update":{"TableName":"t1"}}]}`,
			want:    Call{Caller: "promotion", Service: "dynamodb", API: "TransactWriteItems", Resources: []string{"t1", "t2"}},
		},
		{
			name:    "SNS query protocol",
			headers: map[string]string{"User-Agent": "x app/publisher", "Authorization": strings.Replace(auth, "%s", "sns", 1), "Content-Type": "application/x-www-form-urlencoded"},
			body:    "Action=Publish&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aeu-west-1%3A1%3Apubsub-e1-publisher-ordersTopic&Message=%7B%7D",
			want:    Call{Caller: "publisher", Service: "sns", API: "Publish", Resources: []string{"arn:aws:sns:eu-west-1:1:pubsub-e1-publisher-ordersTopic"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/", strings.NewReader(tc.body))
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			got := Parse(req, []byte(tc.body))
			if got.Caller != tc.want.Caller || got.Service != tc.want.Service || got.API != tc.want.API || got.Index != tc.want.Index || got.Consistent != tc.want.Consistent || !slices.Equal(got.Resources, tc.want.Resources) {
				t.Errorf("Parse = %+v; want %+v", got, tc.want)
			}
		})
	}
}

// TestClient records the process's own requests, each attempt with the status it got, and
// delivers them untouched.
func TestClient(t *testing.T) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		w.WriteHeader(http.StatusTeapot)
	}))
	defer srv.Close()
	rec := New()
	client := rec.Client(srv.Client())
	for _, body := range []string{`{"QueueUrl":"q1"}`, `{"QueueUrl":"q2"}`} {
		req, err := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "x app/relay")
		req.Header.Set("X-Amz-Target", "AmazonSQS.SendMessage")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := []Call{
		{Caller: "relay", API: "SendMessage", Resources: []string{"q1"}, Status: http.StatusTeapot},
		{Caller: "relay", API: "SendMessage", Resources: []string{"q2"}, Status: http.StatusTeapot},
	}
	if diff := cmp.Diff(want, rec.Calls()); diff != "" {
		t.Errorf("Calls (-want +got):\n%s", diff)
	}
	if want := []string{`{"QueueUrl":"q1"}`, `{"QueueUrl":"q2"}`}; !slices.Equal(bodies, want) {
		t.Errorf("the server got %q; want %q", bodies, want)
	}
	if err := rec.Close(); err != nil {
		t.Errorf("Close without a proxy: %v", err)
	}
}
