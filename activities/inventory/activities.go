package inventory

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/ordersaga/ordersaga/internal/platform/apperr"
)

// Activities are the inventory service's Temporal activities: thin adapters
// over the store that log what they did and tell business failures from
// transient ones.
type Activities struct {
	Store *Store
}

// ReserveStock reserves the order's items and prices them. Out of stock,
// an unknown SKU or a reused key fail the order; anything else is retried.
func (a *Activities) ReserveStock(ctx context.Context, req ReserveRequest) (Reservation, error) {
	res, err := a.Store.Reserve(ctx, req)
	if err != nil {
		return Reservation{}, classify(err)
	}
	activity.GetLogger(ctx).Info("stock reserved", "order_id", req.OrderID, "key", req.Key,
		"reservation_id", res.ID, "total_cents", res.TotalCents)
	return res, nil
}

// ReleaseStock gives the stock of a reservation back. It undoes ReserveStock,
// so anything that goes wrong is retried until it succeeds, but for one
// business failure: a key that another placement of the order ID holds.
// That reservation is an earlier order's, no retry makes it this one's, and
// releasing it would take the earlier order's stock, so it fails at once,
// non-retryable, as KeyConflictError.
func (a *Activities) ReleaseStock(ctx context.Context, req ReleaseRequest) (ReleaseResult, error) {
	res, err := a.Store.Release(ctx, req)
	if err != nil {
		return ReleaseResult{}, apperr.Classify(err, apperr.Kind{Err: ErrKeyConflict, Type: KeyConflictError})
	}
	activity.GetLogger(ctx).Info("stock released", "order_id", req.OrderID, "key", req.Key,
		"status", res.Status, "units_returned", res.UnitsReturned)
	return res, nil
}

func classify(err error) error {
	return apperr.Classify(err,
		apperr.Kind{Err: ErrOutOfStock, Type: OutOfStockError},
		apperr.Kind{Err: ErrUnknownSKU, Type: UnknownSKUError},
		apperr.Kind{Err: ErrKeyConflict, Type: KeyConflictError},
		apperr.Kind{Err: ErrKeyVoided, Type: KeyVoidedError},
		apperr.Kind{Err: ErrInvalid, Type: InvalidError},
	)
}
