package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"golang.org/x/sync/errgroup"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// chaosDriver drives the orders of a chaos run through their lives: it
// places each one, cancels it if its kind says so, and waits for its end.
// Its goroutines never touch the testing.T: they record what happened in
// the orders, and the test judges it once they are done.
type chaosDriver struct {
	oc *orderclient.Client
	// placed counts the orders placed so far: the fault schedule's clock.
	placed placedCount
}

// placedCount counts the orders placed, and wakes those waiting for a
// count.
type placedCount struct {
	mu      sync.Mutex
	n       int64
	changed chan struct{} // closed at the next change; nil until asked for
}

func (c *placedCount) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.changed != nil {
		close(c.changed)
		c.changed = nil
	}
}

// load returns the count, and a channel closed when it changes.
func (c *placedCount) load() (int64, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.changed == nil {
		c.changed = make(chan struct{})
	}
	return c.n, c.changed
}

// await waits until the count reaches n or stop is closed.
func (c *placedCount) await(n int64, stop <-chan struct{}) {
	for {
		count, changed := c.load()
		if count >= n {
			return
		}
		select {
		case <-changed:
		case <-stop:
			return
		}
	}
}

// start drives the orders, each from its placement to its end, at most
// chaosInFlight at once and placing at most rate a second. The returned
// channel is closed when every order has been driven.
func (d *chaosDriver) start(ctx context.Context, orders []*chaosOrder, rate float64) <-chan struct{} {
	jobs := make(chan *chaosOrder)
	var wg sync.WaitGroup
	for range chaosInFlight {
		wg.Go(func() {
			for o := range jobs {
				d.drive(ctx, o)
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer wg.Wait()
		defer close(jobs)
		feed(ctx, jobs, orders, rate)
	}()
	return done
}

// feed sends the orders to jobs, at most rate a second.
func feed(ctx context.Context, jobs chan<- *chaosOrder, orders []*chaosOrder, rate float64) {
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	for _, o := range orders {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		select {
		case jobs <- o:
		case <-ctx.Done():
			return
		}
	}
}

func (d *chaosDriver) drive(ctx context.Context, o *chaosOrder) {
	if !d.place(ctx, o) {
		return
	}
	d.placed.add()
	if o.kind.cancelAt != noCancel {
		d.cancel(ctx, o)
	}
	d.awaitEnd(ctx, o)
	if o.kind.reuse && o.final != nil {
		d.placeAgain(ctx, o)
	}
}

// place starts the order's workflow, retrying through crashes.
func (d *chaosDriver) place(ctx context.Context, o *chaosOrder) bool {
	if err := d.startOrder(ctx, o); err != nil {
		o.problem = "not placed: " + err.Error()
		return false
	}
	o.placed, o.placedAt = true, time.Now()
	return true
}

// startOrder starts the order's workflow, retrying through crashes. The order
// IDs are new to the server (or, placed again, forgotten by it), so a
// start refused as "already started" means that an earlier attempt (the
// test's, or the SDK's own retry) started it.
func (d *chaosDriver) startOrder(ctx context.Context, o *chaosOrder) error {
	ctx, cancel := context.WithTimeout(ctx, chaosPlaceTimeout)
	defer cancel()
	return retryCall(ctx, chaosCallTimeout, func(ctx context.Context) (bool, error) {
		_, err := d.oc.Place(ctx, o.order)
		if errors.Is(err, orderclient.ErrExists) {
			return true, nil
		}
		return err == nil, err
	})
}

// placeAgain deletes the ended order's workflow from Temporal, as the
// namespace's retention would, waits until Temporal has forgotten it, and
// places the same order again. The first placement's ending moves to
// o.first; o.final becomes the second's, once it has ended.
func (d *chaosDriver) placeAgain(ctx context.Context, o *chaosOrder) {
	if o.final.Status != workflows.Completed {
		return // a wrong ending, judged as it is
	}
	if err := d.forget(ctx, o.order.ID, o.final.RunID); err != nil {
		o.problem = "not forgotten by Temporal: " + err.Error()
		return
	}
	o.first, o.final = o.final, nil
	if err := d.startOrder(ctx, o); err != nil {
		o.problem = "not placed again: " + err.Error()
		return
	}
	o.placedAgainAt = time.Now()
	d.awaitEnd(ctx, o)
}

// chaosDeleteInterval spaces out the requests to delete a workflow that
// Temporal still knows: the request may have been lost in a crash.
const chaosDeleteInterval = 5 * time.Second

// forget deletes the order's workflow and waits until Temporal no longer
// knows it, and its list no longer shows the run: the audit judges such a
// placement by the stores alone.
func (d *chaosDriver) forget(ctx context.Context, orderID, runID string) error {
	ctx, cancel := context.WithTimeout(ctx, chaosForgetTimeout)
	defer cancel()
	wf := ordersaga.WorkflowID(orderID)
	var requested time.Time
	return retryCall(ctx, chaosCallTimeout, func(ctx context.Context) (bool, error) {
		_, err := d.oc.Temporal.DescribeWorkflowExecution(ctx, wf, "")
		var notFound *serviceerror.NotFound
		switch {
		case errors.As(err, &notFound):
		case err != nil:
			return false, err
		case time.Since(requested) < chaosDeleteInterval:
			return false, fmt.Errorf("workflow %s is still there", wf)
		default:
			_, err := d.oc.Temporal.WorkflowService().DeleteWorkflowExecution(ctx, &workflowservice.DeleteWorkflowExecutionRequest{
				Namespace: d.oc.Namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: wf},
			})
			if err == nil {
				requested = time.Now()
				err = fmt.Errorf("deletion of %s requested", wf)
			}
			return false, err
		}
		resp, err := d.oc.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: d.oc.Namespace, Query: fmt.Sprintf("WorkflowId = '%s'", wf),
		})
		if err != nil {
			return false, err
		}
		for _, e := range resp.GetExecutions() {
			if e.GetExecution().GetRunId() == runID {
				return false, fmt.Errorf("the list of workflows still shows run %s of %s", runID, wf)
			}
		}
		return true, nil
	})
}

// cancel waits for the kind's moment and cancels the order its kind's way.
func (d *chaosDriver) cancel(ctx context.Context, o *chaosOrder) {
	ctx, cancel := context.WithTimeout(ctx, chaosCancelTimeout)
	defer cancel()
	err := d.awaitCancelPoint(ctx, o)
	if err != nil {
		o.problem = fmt.Sprintf("waiting to cancel: %v", err)
		return
	}
	if o.kind.cancelBy == workflows.CancelledByTemporal {
		err = d.cancelWorkflow(ctx, o)
	} else {
		err = d.signalCancel(ctx, o)
	}
	if err != nil {
		o.problem = fmt.Sprintf("cancel by %s: %v", o.kind.cancelBy, err)
		return
	}
	o.cancelSent = true
}

// awaitCancelPoint waits for the moment the order's kind cancels at.
func (d *chaosDriver) awaitCancelPoint(ctx context.Context, o *chaosOrder) error {
	if o.kind.cancelAt == afterShipment {
		_, err := d.watchHistory(ctx, o.order.ID, shipmentCompleted)
		return err
	}
	if _, err := d.watchHistory(ctx, o.order.ID, timerStarted); err != nil {
		return err
	}
	return retryCall(ctx, chaosCallTimeout, func(ctx context.Context) (bool, error) {
		v, err := d.oc.Snapshot(ctx, o.order.ID)
		switch {
		case err != nil:
			return false, err
		case v.Status == workflows.AwaitingFulfillment:
			return true, nil
		}
		return true, fmt.Errorf("the order is %s (%s), not in its cancel window", v.Status, v.TemporalStatus)
	})
}

// eventMatcher finds an event in a history read from its start.
type eventMatcher func(*historypb.HistoryEvent) bool

// timerStarted finds the cancel window's timer, the order's only timer.
func timerStarted() eventMatcher {
	return func(e *historypb.HistoryEvent) bool { return e.GetEventType() == enumspb.EVENT_TYPE_TIMER_STARTED }
}

// shipmentCompleted finds the result of the CreateShipment activity: from
// then on the order is past its point of no return, even if no worker has
// read that result yet.
func shipmentCompleted() eventMatcher {
	shipments := map[int64]bool{} // scheduled event IDs of CreateShipment
	return func(e *historypb.HistoryEvent) bool {
		switch e.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			if e.GetActivityTaskScheduledEventAttributes().GetActivityType().GetName() == "CreateShipment" {
				shipments[e.GetEventId()] = true
			}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			return shipments[e.GetActivityTaskCompletedEventAttributes().GetScheduledEventId()]
		}
		return false
	}
}

// cancelRequested finds Temporal's request to cancel the workflow.
func cancelRequested() eventMatcher {
	return func(e *historypb.HistoryEvent) bool {
		return e.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED
	}
}

// watchHistory follows the order's history from its start, long polling
// for new events, until the matcher (a new one for each pass) finds an
// event (found) or the workflow closed; it starts again after an error.
func (d *chaosDriver) watchHistory(ctx context.Context, orderID string, newMatcher func() eventMatcher) (found bool, err error) {
	err = retryCall(ctx, chaosPollTimeout, func(ctx context.Context) (bool, error) {
		match := newMatcher()
		it := d.oc.Temporal.GetWorkflowHistory(ctx, ordersaga.WorkflowID(orderID), "", true, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			e, err := it.Next()
			if err != nil {
				return false, err
			}
			if match(e) {
				found = true
				return true, nil
			}
		}
		return true, nil // the workflow closed
	})
	return found, err
}

// signalCancel sends the cancel-order signal. An order that has already
// ended refuses it (its ending is judged later).
func (d *chaosDriver) signalCancel(ctx context.Context, o *chaosOrder) error {
	return retryCall(ctx, chaosCallTimeout, func(ctx context.Context) (bool, error) {
		_, err := d.oc.SignalCancel(ctx, o.order.ID, "chaos: "+o.kind.name)
		var ended *orderclient.EndedError
		if errors.As(err, &ended) {
			o.refusedEnded = true
			return true, nil
		}
		return err == nil, err
	})
}

// cancelWorkflow cancels the order through Temporal, as the Web UI's
// Cancel button does. The server accepts the request for a workflow that
// has already closed too, and does nothing with it: whether a late cancel
// reached the running order shows in the history.
func (d *chaosDriver) cancelWorkflow(ctx context.Context, o *chaosOrder) error {
	err := retryCall(ctx, chaosCallTimeout, func(ctx context.Context) (bool, error) {
		err := d.oc.Temporal.CancelWorkflow(ctx, ordersaga.WorkflowID(o.order.ID), "")
		return err == nil, err
	})
	if err != nil || o.kind.cancelAt != afterShipment {
		return err
	}
	reached, err := d.watchHistory(ctx, o.order.ID, cancelRequested)
	o.refusedEnded = !reached
	return err
}

// awaitEnd waits for the order to end and records its final state. An
// order that has not ended in time is left for settle.
func (d *chaosDriver) awaitEnd(ctx context.Context, o *chaosOrder) {
	ctx, cancel := context.WithTimeout(ctx, chaosEndTimeout)
	defer cancel()
	err := retryCall(ctx, chaosPollTimeout, func(ctx context.Context) (bool, error) {
		v, err := d.oc.Wait(ctx, o.order.ID)
		if err == nil && v.TemporalStatus == "Running" {
			err = fmt.Errorf("still running, %s", v.Status)
		}
		if err != nil {
			return false, err
		}
		o.final = &v
		return true, nil
	})
	if err != nil {
		o.lastSeen = err.Error()
	}
}

// retryCall calls fn, each call bounded by timeout, until it reports done
// or ctx ends. It returns the error of the last call.
func retryCall(ctx context.Context, timeout time.Duration, fn func(ctx context.Context) (done bool, err error)) error {
	for attempt := 1; ; attempt++ {
		callCtx, cancel := context.WithTimeout(ctx, timeout)
		done, err := fn(callCtx)
		cancel()
		if done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		case <-time.After(chaosRetryInterval):
		}
	}
}

// settle waits until every placed order that had not ended when its
// driver gave up has ended, or timeout, and records their final states.
func settle(ctx context.Context, oc *orderclient.Client, orders []*chaosOrder, timeout time.Duration) {
	var pending []*chaosOrder
	for _, o := range orders {
		if o.placed && o.final == nil {
			pending = append(pending, o)
		}
	}
	deadline := time.Now().Add(timeout)
	for len(pending) > 0 && ctx.Err() == nil {
		pending = readEndings(ctx, oc, pending)
		if time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Second) // poll interval of a deadline-bounded wait
	}
}

// readEndings reads the orders' states and returns those still running.
func readEndings(ctx context.Context, oc *orderclient.Client, orders []*chaosOrder) []*chaosOrder {
	var mu sync.Mutex
	var running []*chaosOrder
	var g errgroup.Group
	g.SetLimit(8)
	for _, o := range orders {
		g.Go(func() error {
			callCtx, cancel := context.WithTimeout(ctx, chaosCallTimeout)
			defer cancel()
			v, err := oc.Snapshot(callCtx, o.order.ID)
			switch {
			case err != nil:
				o.lastSeen = err.Error()
			case v.TemporalStatus == "Running":
				o.lastSeen = fmt.Sprintf("still running, %s", v.Status)
			default:
				o.final = &v
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			running = append(running, o)
			return nil
		})
	}
	_ = g.Wait()
	return running
}
