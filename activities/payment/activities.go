package payment

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/ordersaga/ordersaga/internal/platform/apperr"
)

// Activities are the payment service's Temporal activities: thin adapters
// over the store that log what they did and tell business failures from
// transient ones.
type Activities struct {
	Store *Store
}

// ChargePayment charges the order total. A declined card, a reused key or
// a key that a refund voided first fails the order; a gateway timeout is
// retried with backoff.
func (a *Activities) ChargePayment(ctx context.Context, req ChargeRequest) (Charge, error) {
	charge, err := a.Store.Charge(ctx, req, activity.GetInfo(ctx).Attempt)
	if err != nil {
		return Charge{}, classify(err)
	}
	activity.GetLogger(ctx).Info("payment captured", "order_id", req.OrderID, "key", req.Key,
		"charge_id", charge.ID, "amount_cents", charge.AmountCents)
	return charge, nil
}

// RefundPayment gives a charge back, at the gateway and in the store. It
// undoes ChargePayment, so anything that goes wrong (the gateway or the
// store unavailable) is retried until it succeeds, but for one business
// failure: a key that another placement of the order ID holds. That charge
// is an earlier order's, no retry makes it this one's, and refunding it
// would give back the earlier order's money, so it fails at once,
// non-retryable, as KeyConflictError.
func (a *Activities) RefundPayment(ctx context.Context, req RefundRequest) (RefundResult, error) {
	res, err := a.Store.Refund(ctx, req)
	if err != nil {
		return RefundResult{}, apperr.Classify(err, apperr.Kind{Err: ErrKeyConflict, Type: KeyConflictError})
	}
	activity.GetLogger(ctx).Info("payment refunded", "order_id", req.OrderID, "key", req.Key,
		"status", res.Status, "amount_cents", res.AmountCents)
	return res, nil
}

func classify(err error) error {
	return apperr.Classify(err,
		apperr.Kind{Err: ErrDeclined, Type: DeclinedError},
		apperr.Kind{Err: ErrKeyConflict, Type: KeyConflictError},
		apperr.Kind{Err: ErrKeyVoided, Type: KeyVoidedError},
		apperr.Kind{Err: ErrInvalid, Type: InvalidError},
	)
}
