package shipping

import (
	"context"

	"go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// Register opens the shipping store — in PostgreSQL when dsn is a postgres://
// DSN, else in SQLite in dataDir — and registers the service's
// activities on w, a worker polling ordersaga.ShippingTaskQueue. The caller
// closes the store after the worker has stopped.
// opts are how the store is opened, as Open takes them.
func Register(ctx context.Context, w worker.Registry, dataDir, dsn string, opts ...storedb.Option) (*Store, error) {
	store, err := storedb.OpenAt(ctx, "shipping", Open, dsn, dataDir, DatabaseFile, opts...)
	if err != nil {
		return nil, err
	}
	w.RegisterActivity(&Activities{Store: store})
	return store, nil
}
