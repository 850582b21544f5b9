package orderclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// DefaultCancelTimeout bounds how long Cancel waits for the
// order's worker to answer, unless the Client's CancelTimeout says
// otherwise. An accepted cancel answers as soon as the forward steps have
// stopped, so only a missing or stuck worker makes it wait this long.
const DefaultCancelTimeout = 30 * time.Second

func (c *Client) cancelTimeout() time.Duration {
	if c.CancelTimeout > 0 {
		return c.CancelTimeout
	}
	return DefaultCancelTimeout
}

// Cancellation is an order's answer to a cancel: the update's result, and
// where to find the order.
type Cancellation struct {
	workflows.CancelResult
	OrderID    string `json:"order_id"`
	WorkflowID string `json:"workflow_id"`
	RunID      string `json:"run_id"`
	WebURL     string `json:"web_url"`
}

// NoAnswerError means that no worker answered a cancel within the time
// given. The server keeps the cancel until a worker takes the order's next
// task, so it may still be answered then.
type NoAnswerError struct {
	OrderID string
	Timeout time.Duration
}

func (e *NoAnswerError) Error() string {
	return fmt.Sprintf("order %s did not answer the cancel within %s: is a worker running for task queue %q? The cancel may still take effect once one runs",
		e.OrderID, e.Timeout, ordersaga.OrdersTaskQueue)
}

// Cancel is the way to cancel an order: it asks the running order to
// cancel, through the cancel-order update, and returns its answer once it
// has decided: for an accepted cancel, once the forward steps have stopped
// and the order is undoing them. A cancel the order refuses (its shipment
// exists, it is already failing or being cancelled) is a *RefusedError
// that says why, and leaves nothing in the order's history unless it raced
// the shipment's result; an order that has ended gets an *EndedError. The
// order service's worker answers the update, so with none running Cancel
// gives up after CancelTimeout with a *NoAnswerError; SignalCancel, which
// needs no worker, is for a caller that cannot wait for one.
func (c *Client) Cancel(ctx context.Context, orderID, reason string) (Cancellation, error) {
	v, err := c.cancellable(ctx, orderID, reason)
	if err != nil {
		return Cancellation{}, err
	}
	out := Cancellation{OrderID: orderID, WorkflowID: v.WorkflowID, RunID: v.RunID, WebURL: v.WebURL}
	timeout := c.cancelTimeout()
	uctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out.CancelResult, err = c.updateCancel(uctx, v, reason)
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &appErr):
		return out, &RefusedError{OrderID: orderID, Reason: appErr.Message()}
	case errors.As(err, &notFound):
		// It ended between the check and the update.
		if ended, serr := c.Snapshot(ctx, orderID); serr == nil && ended.TemporalStatus != "Running" {
			return out, endedError(ended, "")
		}
	case err != nil && ctx.Err() == nil && uctx.Err() != nil:
		return out, &NoAnswerError{OrderID: orderID, Timeout: timeout}
	}
	if err != nil {
		return out, fmt.Errorf("cancel order %s: %w", orderID, err)
	}
	if !out.Accepted {
		// The order saw its shipment's result before the cancel.
		return out, &RefusedError{OrderID: orderID, Reason: fmt.Sprintf("order %s cannot be cancelled: %s", orderID, out.Why)}
	}
	return out, nil
}

// cancellable returns the order's Snapshot if a cancel with reason may be
// sent to it: the reason fits (CheckCancelReason) and the order still
// runs; an order that has ended gets an *EndedError. The update and the
// signal are refused alike, before either reaches the order.
func (c *Client) cancellable(ctx context.Context, orderID, reason string) (View, error) {
	if err := CheckCancelReason(reason); err != nil {
		return View{}, err
	}
	v, err := c.Snapshot(ctx, orderID)
	if err != nil {
		return View{}, err
	}
	if v.TemporalStatus != "Running" {
		return View{}, endedError(v, "")
	}
	return v, nil
}

// updateCancel sends the cancel-order update and waits for its result.
func (c *Client) updateCancel(ctx context.Context, v View, reason string) (workflows.CancelResult, error) {
	var res workflows.CancelResult
	err := c.update(ctx, v, ordersaga.CancelOrderUpdate, workflows.CancelRequest{Reason: reason}, &res)
	return res, err
}

// update sends the update name with arg to the order's run v and waits
// until the order has answered it, decoding the answer into result.
func (c *Client) update(ctx context.Context, v View, name string, arg, result any) error {
	handle, err := c.Temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		WorkflowID:   v.WorkflowID,
		RunID:        v.RunID,
		UpdateName:   name,
		Args:         []any{arg},
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err != nil {
		return err
	}
	return handle.Get(ctx, result)
}
