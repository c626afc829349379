package main

import (
	"testing"

	"github.com/pubsub-app/pubsub/cmd/internal/workerconf/workerconftest"
)

func TestCheckConfig(t *testing.T) {
	workerconftest.CheckConfig(t, run, "promotion", "COUPONS_TABLE_NAME")
}
