package inventory

import (
	"context"
	"path/filepath"

	"go.temporal.io/sdk/worker"
)

// Register opens the inventory store in dataDir and registers the service's
// activities on w, a worker polling ordersaga.InventoryTaskQueue. The caller
// closes the store after the worker has stopped.
func Register(ctx context.Context, w worker.Registry, dataDir string) (*Store, error) {
	store, err := Open(ctx, filepath.Join(dataDir, DatabaseFile))
	if err != nil {
		return nil, err
	}
	w.RegisterActivity(&Activities{Store: store})
	return store, nil
}
