package orders

import (
	"context"

	"go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga/internal/platform/storedb"
)

// Register opens the order register — in PostgreSQL when dsn is a
// postgres:// DSN, else in SQLite in dataDir — and registers the service's
// activities on w, the worker polling ordersaga.OrdersTaskQueue that runs
// the order workflow: the workflow calls them as local activities, which
// run in the workflow's own worker, from what it registered as activities.
// With requireEncryption, the activities refuse orders whose input arrived
// unencrypted (Activities.RequireEncryption). The caller closes the store
// after the worker has stopped.
// opts are how the store is opened, as Open takes them.
func Register(ctx context.Context, w worker.Registry, dataDir, dsn string, requireEncryption bool, opts ...storedb.Option) (*Store, error) {
	store, err := storedb.OpenAt(ctx, "orders", Open, dsn, dataDir, DatabaseFile, opts...)
	if err != nil {
		return nil, err
	}
	w.RegisterActivity(&Activities{Store: store, RequireEncryption: requireEncryption})
	return store, nil
}
