package iamcheck

import (
	"fmt"
)

// actionsByAPI is the IAM action each API the binaries call is authorised
// by, from AWS's Service Authorization Reference (the "Actions defined by"
// tables of Amazon SQS, Amazon SNS and Amazon DynamoDB). A batch API is
// authorised by its single-message action: SQS documents that
// DeleteMessageBatch needs sqs:DeleteMessage and ChangeMessageVisibilityBatch
// sqs:ChangeMessageVisibility (there are no batch actions), and SNS's
// PublishBatch needs sns:Publish. An API missing here fails the test, so a
// new call cannot slip past the check unmapped.
var actionsByAPI = map[string]map[string]string{
	"sqs": {
		"ReceiveMessage":               "sqs:ReceiveMessage",
		"DeleteMessage":                "sqs:DeleteMessage",
		"DeleteMessageBatch":           "sqs:DeleteMessage",
		"ChangeMessageVisibility":      "sqs:ChangeMessageVisibility",
		"ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
		"SendMessage":                  "sqs:SendMessage",
		"SendMessageBatch":             "sqs:SendMessage",
		"GetQueueAttributes":           "sqs:GetQueueAttributes",
		"GetQueueUrl":                  "sqs:GetQueueUrl",
	},
	"sns": {
		"Publish":      "sns:Publish",
		"PublishBatch": "sns:Publish",
	},
	"dynamodb": {
		"PutItem":            "dynamodb:PutItem",
		"GetItem":            "dynamodb:GetItem",
		"UpdateItem":         "dynamodb:UpdateItem",
		"DeleteItem":         "dynamodb:DeleteItem",
		"Query":              "dynamodb:Query",
		"Scan":               "dynamodb:Scan",
		"DescribeTable":      "dynamodb:DescribeTable",
		"BatchGetItem":       "dynamodb:BatchGetItem",
		"BatchWriteItem":     "dynamodb:BatchWriteItem",
		"ConditionCheckItem": "dynamodb:ConditionCheckItem",
	},
}

// ActionFor returns the IAM action that authorises api of service.
func ActionFor(service, api string) (string, error) {
	if a, ok := actionsByAPI[service][api]; ok {
		return a, nil
	}
	return "", fmt.Errorf("no IAM action known for %s:%s; add it to actionsByAPI from AWS's Service Authorization Reference", service, api)
}
