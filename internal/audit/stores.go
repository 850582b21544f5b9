package audit

import (
	"context"

	"github.com/ordersaga/ordersaga/internal/stores"
)

// RunAt audits, against temporal, the stores where dataDir and dsns put
// them, opened read-only for this one audit: what the scheduled audit runs
// each time, so that its service may start before the stores exist.
// `worker audit` and `starter load` do the same two steps themselves
// (stores.OpenReadOnly, then Run), to tell a store that will not open from
// Temporal's errors.
func RunAt(ctx context.Context, dataDir string, dsns stores.DSNs, temporal Temporal, opts Options) (Report, error) {
	st, closeStores, err := stores.OpenReadOnly(ctx, dataDir, dsns)
	if err != nil {
		return Report{}, err
	}
	defer closeStores()
	return Run(ctx, st, temporal, opts)
}
