package load

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/baseline"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/tracing"
	"github.com/ordersaga/ordersaga/workflows"
)

// jobResult is how one job ended.
type jobResult struct {
	kind loadKind
	jobEnd
	err     error
	latency time.Duration
	ended   bool
}

// jobEnd is what a job learned of its ending.
type jobEnd struct {
	id     string
	status workflows.Status // "" when it never got an ending
	// answer is how long the order took to answer its placement with its
	// reservation or refusal; 0 when it did not answer (a baseline job, an
	// order that did not answer in time).
	answer time.Duration
}

// jobFunc runs the job index of kind to its end: it returns the ID it used
// and how it ended, or an error if it could not tell.
type jobFunc func(ctx context.Context, index int, kind loadKind) (jobEnd, error)

// sagaJob places an order as `starter place` does (answered with its
// reservation, which it times) and waits for its end,
// cancelling it first when its kind asks. Orders not of the cancel kind
// get the cancel window window.
func sagaJob(oc *orderclient.Client, run string, window time.Duration) jobFunc {
	return func(ctx context.Context, index int, kind loadKind) (jobEnd, error) {
		order := workflows.Order{
			ID:           loadOrderID(run, index),
			CustomerID:   "load-" + run,
			Items:        []inventory.Item{{SKU: "STICKER-PACK", Qty: 1}},
			PaymentToken: kind.token,
			Address:      "1 Load Test Way",
			CancelWindow: workflows.Duration(window),
		}
		if kind.cancel {
			order.CancelWindow = workflows.Duration(loadCancelWindow)
		}
		end := jobEnd{id: order.ID}
		placed, answer, err := placeAnswered(ctx, oc, order)
		if err != nil {
			return end, err
		}
		end.answer = answer
		if kind.cancel {
			if err := cancelWhenAwaiting(ctx, oc, order.ID); err != nil {
				return end, err
			}
		}
		v, err := oc.Await(ctx, placed)
		if err != nil {
			return end, err
		}
		end.status = v.Status
		return end, nil
	}
}

// loadOrderID is the ID of a run's order index.
func loadOrderID(run string, index int) string { return fmt.Sprintf("load-%s-%d", run, index) }

// loadSpanName names the root span of each order that load places.
const loadSpanName = "starter load"

// tracedOrders makes each order's job the root span of a trace of its own,
// with the order's ID (tracing.OrderIDKey) as place's span has it, so that
// a load's orders are found in a trace viewer as placed ones are. The span
// is in error when the order could not be followed to its end or ended
// otherwise than its kind asked. With tracing off the tracer is a no-op.
func tracedOrders(tracer trace.Tracer, run string, job jobFunc) jobFunc {
	return func(ctx context.Context, index int, kind loadKind) (jobEnd, error) {
		ctx, span := tracer.Start(ctx, loadSpanName, trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(tracing.OrderIDKey.String(loadOrderID(run, index))))
		defer span.End()
		end, err := job(ctx, index, kind)
		switch {
		case err != nil:
			span.SetStatus(codes.Error, cli.OneLine(err))
		case end.status != kind.want:
			span.SetStatus(codes.Error, fmt.Sprintf("ended %s, asked for %s", end.status, kind.want))
		}
		return end, err
	}
}

// placeAnswered places the order as `starter place` does, answered with
// its reservation, and returns how long the answer took (0 if the order did
// not answer in time). A refused order is placed all the same: its ending
// tells whether its kind asked for it.
func placeAnswered(ctx context.Context, oc *orderclient.Client, order workflows.Order) (orderclient.View, time.Duration, error) {
	began := time.Now()
	placed, err := oc.PlaceAndAnswer(ctx, order)
	took := time.Since(began)
	var refused *orderclient.PlacementRefusedError
	switch {
	case errors.As(err, &refused):
		return refused.View, took, nil
	case errors.Is(err, orderclient.ErrNoAnswer):
		return placed, 0, nil
	case err != nil:
		return orderclient.View{}, 0, err
	}
	return placed, took, nil
}

// awaitPoll is how often a cancel order's status is read while load waits
// for its cancel window to open.
const awaitPoll = 100 * time.Millisecond

// cancelWhenAwaiting waits, within the cancel window, until the order is
// AWAITING_FULFILLMENT, then cancels it as `starter cancel` does. An order
// that ends first is left alone, and so is one that refuses the cancel:
// its ending tells.
func cancelWhenAwaiting(ctx context.Context, oc *orderclient.Client, orderID string) error {
	deadline := time.Now().Add(loadCancelWindow)
	tick := time.NewTicker(awaitPoll)
	defer tick.Stop()
	for {
		v, err := oc.Snapshot(ctx, orderID)
		if err != nil {
			return err
		}
		switch {
		case v.TemporalStatus != "Running":
			return nil
		case v.Status == workflows.AwaitingFulfillment:
			_, err := oc.Cancel(ctx, orderID, "load test cancel")
			return loadCancelError(err)
		case time.Now().After(deadline):
			return fmt.Errorf("order %s did not reach %s within %s (last %s)", orderID, workflows.AwaitingFulfillment, loadCancelWindow, v.Status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// loadCancelError is what a load's cancel error says of its job: nothing
// when the order refused the cancel or had already ended, since how the
// order ends is what the load judges (a refused cancel leaves it to end
// COMPLETED, which its kind did not ask); the error otherwise.
func loadCancelError(err error) error {
	var refused *orderclient.RefusedError
	var ended *orderclient.EndedError
	if errors.As(err, &refused) || errors.As(err, &ended) {
		return nil
	}
	return err
}

// baselineJob starts the baseline workflow and waits for it to end.
func baselineJob(c client.Client, run string) jobFunc {
	return func(ctx context.Context, index int, _ loadKind) (jobEnd, error) {
		id := fmt.Sprintf("%s%s-%d", baseline.WorkflowIDPrefix, run, index)
		end := jobEnd{id: id}
		wr, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
			ID:                    id,
			TaskQueue:             baseline.TaskQueue,
			WorkflowIDReusePolicy: enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		}, baseline.WorkflowType)
		if err != nil {
			return end, fmt.Errorf("start baseline workflow %s: %w", id, err)
		}
		if err := wr.Get(ctx, nil); err != nil {
			end.status = workflows.Failed
			return end, fmt.Errorf("baseline workflow %s: %w", id, err)
		}
		end.status = workflows.Completed
		return end, nil
	}
}
