package orderclient

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// RefusedError is an order's refusal of a request that does not fit its
// status, such as a resume of an order that does not need attention. The
// order's history does not record it: nothing changed.
type RefusedError struct {
	OrderID string
	Reason  string
}

func (e *RefusedError) Error() string { return e.Reason }

// Resume asks an order in NEEDS_ATTENTION, whose compensation could not
// succeed, to try its remaining compensations again, once the cause is
// fixed. It returns how many the order will try. An order in any other
// status refuses with a *RefusedError; an ended one is an *EndedError. It
// needs the order service's worker, which answers the update.
func (c *Client) Resume(ctx context.Context, orderID, reason string) (workflows.ResumeResult, error) {
	if err := CheckReason("resume", reason); err != nil {
		return workflows.ResumeResult{}, err
	}
	v, err := c.Snapshot(ctx, orderID)
	if err != nil {
		return workflows.ResumeResult{}, err
	}
	if v.TemporalStatus != "Running" {
		return workflows.ResumeResult{}, &EndedError{OrderID: orderID, Status: v.Status, Nothing: "resume"}
	}
	var res workflows.ResumeResult
	err = c.update(ctx, v, ordersaga.ResumeCompensationUpdate, workflows.ResumeRequest{Reason: reason}, &res)
	var appErr *temporal.ApplicationError
	switch {
	case errors.As(err, &appErr):
		return res, &RefusedError{OrderID: orderID, Reason: appErr.Message()}
	case err != nil:
		return res, fmt.Errorf("resume order %s: %w", orderID, err)
	}
	return res, nil
}
