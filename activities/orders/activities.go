package orders

import (
	"context"

	"go.temporal.io/sdk/activity"

	"github.com/ordersaga/ordersaga/internal/apperr"
)

// Activities are the order service's activities: a thin adapter over the
// register that logs what it did and tells business failures from
// transient ones. The order workflow runs them as local activities, in the
// order service's own worker.
type Activities struct {
	Store *Store
}

// ClaimOrderID claims the order ID for the placement. Called again for the
// same placement (a retry, a replay, a reset run) it returns the first
// claim; for another placement it fails with a non-retryable OrderIDUsed
// error, and the order ends before it touches anything.
func (a *Activities) ClaimOrderID(ctx context.Context, req ClaimRequest) (Claim, error) {
	claim, err := a.Store.Claim(ctx, req)
	if err != nil {
		return Claim{}, apperr.Classify(err,
			apperr.Kind{Err: ErrOrderIDUsed, Type: OrderIDUsedError},
			apperr.Kind{Err: ErrInvalid, Type: InvalidError},
		)
	}
	activity.GetLogger(ctx).Info("order ID claimed", "order_id", req.OrderID, "workflow_id", req.WorkflowID,
		"placement", req.Placement)
	return claim, nil
}
