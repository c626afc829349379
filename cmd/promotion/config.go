package main

import (
	"github.com/pubsub-app/pubsub/cmd/internal/workerconf"
)

// Config is the promotion worker's configuration: its queue and tuning
// (shared with the fulfilment worker) and its table.
type Config struct {
	Worker workerconf.Config
	// From the couponsTable addon's output couponsTableName.
	Table string `env:"COUPONS_TABLE_NAME, required"`
}
