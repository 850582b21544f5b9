package payment

import (
	"context"
	"fmt"
	"path/filepath"

	"go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// Register opens the payment store — in PostgreSQL when dsn is a postgres://
// DSN, else in SQLite in dataDir — and registers the service's
// activities on w, a worker polling ordersaga.PaymentTaskQueue. The caller
// closes the store after the worker has stopped.
// opts are how the store is opened, as Open takes them.
func Register(ctx context.Context, w worker.Registry, dataDir, dsn string, opts ...storedb.Option) (*Store, error) {
	source, err := storedb.Source(dsn, filepath.Join(dataDir, DatabaseFile))
	if err != nil {
		return nil, fmt.Errorf("payment store: %w", err)
	}
	store, err := Open(ctx, source, opts...)
	if err != nil {
		return nil, err
	}
	store.Gateway = NewSimulatedGateway() // the only card gateway the service knows
	w.RegisterActivity(&Activities{Store: store})
	return store, nil
}
