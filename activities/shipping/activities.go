package shipping

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/ordersaga/ordersaga/internal/platform/apperr"
)

// Activities are the shipping service's Temporal activities: thin adapters
// over the store that log what they did and tell business failures from
// transient ones.
type Activities struct {
	Store *Store
}

// CreateShipment books the parcel with the carrier. An undeliverable address
// or a reused key fails the order; anything else is retried.
func (a *Activities) CreateShipment(ctx context.Context, req ShipRequest) (Shipment, error) {
	sh, err := a.Store.Ship(ctx, req)
	if err != nil {
		return Shipment{}, classify(err)
	}
	activity.GetLogger(ctx).Info("shipment created", "order_id", req.OrderID, "key", req.Key,
		"shipment_id", sh.ID, "tracking_number", sh.TrackingNumber)
	return sh, nil
}

// CancelShipment cancels a booking. It undoes CreateShipment, so anything
// that goes wrong is retried until it succeeds, but for one business
// failure: a key that another placement of the order ID holds. That
// booking is an earlier order's, no retry makes it this one's, and
// cancelling it would stop the earlier order's parcel, so it fails at once,
// non-retryable, as KeyConflictError.
func (a *Activities) CancelShipment(ctx context.Context, req CancelRequest) (CancelResult, error) {
	res, err := a.Store.Cancel(ctx, req)
	if err != nil {
		return CancelResult{}, apperr.Classify(err, apperr.Kind{Err: ErrKeyConflict, Type: KeyConflictError})
	}
	activity.GetLogger(ctx).Info("shipment cancelled", "order_id", req.OrderID, "key", req.Key, "status", res.Status)
	return res, nil
}

func classify(err error) error {
	return apperr.Classify(err,
		apperr.Kind{Err: ErrUndeliverable, Type: UndeliverableError},
		apperr.Kind{Err: ErrKeyConflict, Type: KeyConflictError},
		apperr.Kind{Err: ErrKeyVoided, Type: KeyVoidedError},
		apperr.Kind{Err: ErrInvalid, Type: InvalidError},
	)
}
