package main

import (
	"github.com/pubsub-app/pubsub/cmd/internal/workerconf"
)

// Config is the fulfilment worker's configuration: its queue and tuning
// (shared with the promotion worker) and its table.
type Config struct {
	Worker workerconf.Config
	// From the fulfilmentsTable addon's output fulfilmentsTableName.
	Table string `env:"FULFILMENTS_TABLE_NAME, required"`
}
