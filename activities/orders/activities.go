package orders

import (
	"context"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga/internal/platform/apperr"
)

// Activities are the order service's activities: a thin adapter over the
// register that logs what it did and tells business failures from
// transient ones. The order workflow runs them as local activities, in the
// order service's own worker.
type Activities struct {
	Store *Store
	// RequireEncryption refuses to claim the ID of an order whose input
	// arrived unencrypted: the workers have a key ring, and an order that
	// a client sent in clear (the starter without the keys, the Temporal
	// CLI, the Web UI) must not run silently.
	RequireEncryption bool
}

// ClaimOrderID claims the order ID for the placement. Called again for the
// same placement (a retry, a replay, a reset run) it returns the first
// claim; for another placement it fails with a non-retryable OrderIDUsed
// error, and the order ends before it touches anything.
//
// With RequireEncryption, an order whose input arrived unencrypted fails
// with a non-retryable EncryptionRequired error before its ID is claimed,
// so that it can be placed again with the key ring. The order's history
// records the outcome of the claim, so a replay by a worker with another
// setting agrees with it, and orders that claimed their ID before
// encryption was required run on.
func (a *Activities) ClaimOrderID(ctx context.Context, req ClaimRequest) (Claim, error) {
	if a.RequireEncryption && !req.InputEncrypted {
		activity.GetLogger(ctx).Warn("order refused: its input arrived unencrypted and this worker requires encryption",
			"order_id", req.OrderID, "workflow_id", req.WorkflowID, "placement", req.Placement)
		return Claim{}, temporal.NewNonRetryableApplicationError(ErrInputNotEncrypted.Error(), EncryptionRequiredError, nil)
	}
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
