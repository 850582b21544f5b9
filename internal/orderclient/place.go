package orderclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/workflows"
)

// DefaultAnswerTimeout bounds how long PlaceAndAnswer waits for the
// order's answer when the Client's AnswerTimeout is zero: long enough for
// a busy inventory, short enough that a missing worker is reported rather
// than waited for in silence.
const DefaultAnswerTimeout = 30 * time.Second

// PlacementRefusedError is an order's refusal of its placement: it has no
// reservation and never will (invalid, its ID already used, out of stock,
// an unknown SKU, cancelled first). View is the order as it answered.
type PlacementRefusedError struct {
	View View
}

func (e *PlacementRefusedError) Error() string {
	return fmt.Sprintf("order %s refused: %s", e.View.OrderID, e.View.Refusal)
}

// ErrNoAnswer means the order started but did not answer in time: its
// reservation is still to be decided, usually because no worker runs the
// orders.
var ErrNoAnswer = errors.New("order placed, reservation not decided yet")

// PlaceAndAnswer validates the order, starts its workflow and waits, in
// the same call (Update-with-Start), for the order's answer: its
// reservation (the priced lines, the total, the reservation ID), or its
// refusal, a *PlacementRefusedError. It starts an order as Place does, never twice
// (ErrExists). An order that does not answer within the AnswerTimeout is
// left running and reported with ErrNoAnswer.
func (c *Client) PlaceAndAnswer(ctx context.Context, order workflows.Order) (View, error) {
	if err := order.Validate(); err != nil {
		return View{}, err
	}
	actx, cancel := context.WithTimeout(ctx, c.answerTimeout())
	defer cancel()
	opts := startOptions(order)
	start := c.Temporal.NewWithStartWorkflowOperation(opts, ordersaga.OrderWorkflowType, order)
	handle, err := c.Temporal.UpdateWithStartWorkflow(actx, client.UpdateWithStartWorkflowOptions{
		StartWorkflowOperation: start,
		UpdateOptions: client.UpdateWorkflowOptions{
			// The SDK would fill in the start's ID after its interceptors
			// ran; naming it here puts it on the update's span too. It
			// must be the start's.
			WorkflowID:   opts.ID,
			UpdateName:   ordersaga.OrderPlacedUpdate,
			WaitForStage: client.WorkflowUpdateStageCompleted,
		},
	})
	var answer workflows.PlacedResult
	if err == nil {
		err = handle.Get(actx, &answer)
	}
	if err != nil {
		return c.noAnswer(ctx, order, err)
	}
	run, err := start.Get(actx)
	if err != nil {
		return View{}, fmt.Errorf("place order %s: read its run: %w", order.ID, err)
	}
	return answered(c.placedView(order, run.GetRunID()), answer)
}

// noAnswer makes sense of a placement that brought no answer: an ID
// already in Temporal (ErrExists); an order that ended before it answered
// (its answer is read from its final state); or one still running past the
// timeout (ErrNoAnswer).
func (c *Client) noAnswer(ctx context.Context, order workflows.Order, err error) (View, error) {
	if exists := placeError(order, err); errors.Is(exists, ErrExists) {
		return View{}, exists
	}
	if ctx.Err() != nil {
		return View{}, ctx.Err()
	}
	v, serr := c.Snapshot(ctx, order.ID)
	if serr != nil {
		// Not even started: the placement's own error says why.
		return View{}, placeError(order, err)
	}
	if v.TemporalStatus == "Running" {
		return v, fmt.Errorf("%w: order %s started (workflow %s) but did not answer within %s (%v); is a worker running for task queue %q? See `starter status %s`",
			ErrNoAnswer, order.ID, v.WorkflowID, c.answerTimeout(), err, ordersaga.OrdersTaskQueue, order.ID)
	}
	return answered(v, workflows.PlacedAnswer(v.OrderState))
}

// answered fills v with the order's answer; a refusal is a *PlacementRefusedError.
func answered(v View, answer workflows.PlacedResult) (View, error) {
	v.Reserved, v.Refusal = answer.Reserved, answer.Refusal
	if answer.Status != "" {
		v.Status = answer.Status
	}
	if !answer.Reserved {
		return v, &PlacementRefusedError{View: v}
	}
	v.Lines, v.TotalCents, v.ReservationID = answer.Lines, answer.TotalCents, answer.ReservationID
	return v, nil
}

func (c *Client) answerTimeout() time.Duration {
	if c.AnswerTimeout > 0 {
		return c.AnswerTimeout
	}
	return DefaultAnswerTimeout
}
