package workflows

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
)

// OrderWorkflow is the order saga. It reserves the stock, charges the total,
// waits out the cancel window and ships; each step registers its
// compensation before it runs. If a step fails, or the order is cancelled
// (by the cancel-order signal or update, or by Temporal's own cancellation)
// before the shipment exists, the compensations run in reverse order and
// the order ends FAILED or CANCELLED. Once the shipment exists, cancels are
// refused.
//
// A compensation that cannot succeed within the Config's
// CompensationTimeout, or that its service refuses, stops the order in
// NEEDS_ATTENTION until an operator resumes it (the resume-compensation
// update); then it tries that compensation and the rest again.
//
// It returns the final OrderState for a COMPLETED order. A FAILED order ends
// the workflow as failed (an OrderFailed application error) and a CANCELLED
// one as cancelled; both carry the OrderState in their details, so the
// workflow's status in Temporal and the Web UI matches the order's.
func OrderWorkflow(ctx workflow.Context, order Order) (OrderState, error) {
	return Config{}.OrderWorkflow(ctx, order)
}

// OrderWorkflow is the order saga (see the function OrderWorkflow) with
// this configuration; Register registers it.
func (cfg Config) OrderWorkflow(ctx workflow.Context, order Order) (OrderState, error) {
	return cfg.orderWorkflow(ctx, order, restingStatuses)
}

// orderWorkflow is the order's whole story. The order checks itself and
// claims its ID; then it runs the forward steps while it listens for
// cancels. If they all ran, it is COMPLETED; if they stopped (o.stopped
// says why), it undoes what they did.
func (cfg Config) orderWorkflow(ctx workflow.Context, order Order, writes statusWrites) (OrderState, error) {
	o := newOrderRun(ctx, order, cfg)
	o.writes = writes
	o.metrics.started()
	if err := o.registerHandlers(ctx); err != nil {
		return OrderState{}, err
	}
	o.listed(ctx)
	o.rules = workflow.GetVersion(ctx, orderRulesChange, workflow.DefaultVersion, placementsVersion)
	if err := o.validate(); err != nil {
		o.fail(StepValidate, ReasonInvalid, "invalid order: "+err.Error())
		return o.end(ctx, Failed, nil)
	}
	if o.rules >= placementsVersion {
		o.state.Placement = placementOf(ctx)
		if err := o.claim(ctx); err != nil {
			return o.end(ctx, Failed, err)
		}
	}

	steps, stopSteps := workflow.WithCancel(ctx)
	o.cancels, o.stopSteps = workflow.GetSignalChannel(ctx, ordersaga.CancelOrderSignal), stopSteps
	workflow.Go(ctx, o.listenForCancels)

	err := o.runSteps(steps)
	o.answerCancels(ctx) // none is left unread when the order ends
	if o.stopped != notStopped {
		return o.compensate(ctx, err)
	}
	if ctx.Err() != nil { // Temporal's cancellation came once the shipment existed
		o.refuseCancel(ctx, temporalCancelReason, "the shipment was already created")
	}
	return o.end(ctx, Completed, nil)
}

// orderRun is one order's saga: its state, its compensations, and why its
// forward steps stopped, if they did.
type orderRun struct {
	order  Order
	cfg    Config
	state  OrderState
	saga   saga
	logger log.Logger
	// rules is the version of orderRulesChange the order started under.
	rules workflow.Version
	// writes is which status changes reach the OrderStatus search attribute.
	writes statusWrites

	// metrics emits the order's business metrics; failedStep and
	// failureKind label a FAILED order's: the step that failed and the kind
	// of its error.
	metrics                 orderMetrics
	failedStep, failureKind string

	// cancels receives the cancel-order signal; asks are the cancel-order
	// updates not yet answered; stopSteps stops the forward steps once a
	// cancel is accepted.
	cancels   workflow.ReceiveChannel
	asks      []*cancelAsk
	stopSteps workflow.CancelFunc

	// stopped is why the forward steps stopped, if they did, and
	// stopReason the reason that goes with it: the cancel's, or the
	// failure's (also the state's FailureReason). Only stop sets them.
	stopped    stopCause
	stopReason string
	// shipped marks the point of no return: the shipment exists.
	shipped bool
}

// stopCause is why an order's forward steps stopped before they all ran.
type stopCause int

const (
	// notStopped: the forward steps are running, or they all ran.
	notStopped stopCause = iota
	// stoppedBySignal, stoppedByUpdate: the order accepted a cancel-order
	// signal or update.
	stoppedBySignal
	stoppedByUpdate
	// stoppedByTemporal: Temporal cancelled the workflow.
	stoppedByTemporal
	// stoppedByFailure: the order is invalid, its ID was already used, or a
	// step failed.
	stoppedByFailure
)

// temporalCancelReason is the reason of a cancel that came through
// Temporal's cancellation of the workflow, which carries none.
const temporalCancelReason = "cancellation requested through Temporal"

// asked reports whether the order accepted a cancel someone asked it for,
// by the cancel-order signal or update.
func (c stopCause) asked() bool { return c == stoppedBySignal || c == stoppedByUpdate }

// cancelled reports whether the steps stopped for a cancel, of any kind.
func (c stopCause) cancelled() bool { return c.asked() || c == stoppedByTemporal }

// by is how a cancelled order was cancelled, as OrderState.CancelledBy and
// the metrics name it.
func (c stopCause) by() string {
	switch c {
	case stoppedBySignal:
		return CancelledBySignal
	case stoppedByUpdate:
		return CancelledByUpdate
	case stoppedByTemporal:
		return CancelledByTemporal
	}
	return ""
}

// stop records why the forward steps stopped. The first cause stays, with
// one exception: a cancel the order accepts after Temporal's cancellation
// stopped the steps, and before the order starts undoing them, replaces
// Temporal's, so the order names who asked.
func (o *orderRun) stop(cause stopCause, reason string) {
	if o.stopped != notStopped && (o.stopped != stoppedByTemporal || !cause.asked()) {
		return
	}
	o.stopped, o.stopReason = cause, reason
	if cause == stoppedByFailure {
		o.state.FailureReason = reason
	}
}

// fail stops the order for a failure of step, of the given kind (the
// metrics' label), for reason.
func (o *orderRun) fail(step, kind, reason string) {
	o.failedStep, o.failureKind = step, kind
	o.stop(stoppedByFailure, reason)
}

// stepsCancelled records that the forward steps' context was cancelled, or
// that a step came back cancelled: by the cancel the order accepted, if it
// accepted one, or else by Temporal.
func (o *orderRun) stepsCancelled() { o.stop(stoppedByTemporal, temporalCancelReason) }

func newOrderRun(ctx workflow.Context, order Order, cfg Config) *orderRun {
	info := workflow.GetInfo(ctx)
	now := workflow.Now(ctx)
	// The state, the logs and the search attributes take the IDs clipped
	// to their limits: an invalid order's may be of any size.
	orderID := clipTo(order.ID, MaxIDLength)
	return &orderRun{
		order:  order,
		cfg:    cfg,
		logger: log.With(workflow.GetLogger(ctx), "order_id", orderID),
		state: OrderState{
			OrderID:       orderID,
			WorkflowID:    info.WorkflowExecution.ID,
			CustomerID:    clipTo(order.CustomerID, MaxCustomerLength),
			Status:        Pending,
			StartedAt:     now,
			Steps:         []StepRecord{},
			Compensations: []CompensationRecord{},
			Transitions:   []Transition{{Status: Pending, At: now}},
		},
		metrics: newOrderMetrics(ctx),
	}
}

// registerHandlers answers the order-status query and the
// resume-compensation, cancel-order and order-placed updates.
func (o *orderRun) registerHandlers(ctx workflow.Context) error {
	err := workflow.SetQueryHandlerWithOptions(ctx, ordersaga.OrderStatusQuery,
		func() (OrderState, error) { return o.state, nil },
		workflow.QueryHandlerOptions{Description: "The order's whole state: status, total, steps done, compensations run, IDs and reasons."})
	if err != nil {
		return err
	}
	err = workflow.SetUpdateHandlerWithOptions(ctx, ordersaga.ResumeCompensationUpdate, o.resume,
		workflow.UpdateHandlerOptions{
			Validator:   o.validateResume,
			Description: "Try the remaining compensations of an order in NEEDS_ATTENTION again, once the cause of the failure is fixed.",
		})
	if err != nil {
		return err
	}
	if err := o.registerCancelUpdate(ctx); err != nil {
		return err
	}
	return o.registerPlacedUpdate(ctx)
}

// validateResume refuses a resume, before it reaches the order's history,
// unless the order waits for one.
func (o *orderRun) validateResume(req ResumeRequest) error {
	if o.state.Status != NeedsAttention {
		return fmt.Errorf("order %s is %s, not %s: only an order whose compensation failed can be resumed", o.state.OrderID, o.state.Status, NeedsAttention)
	}
	return nil
}

// resume records an operator's resume; compensationFailed, waiting for
// it, lets the saga try the failed compensation again.
func (o *orderRun) resume(ctx workflow.Context, req ResumeRequest) (ResumeResult, error) {
	o.state.Resumes = append(o.state.Resumes, Resume{Reason: clip(req.Reason), At: workflow.Now(ctx)})
	o.logger.Info("order resumed", "reason", clip(req.Reason), "remaining", o.saga.remaining())
	return ResumeResult{Remaining: o.saga.remaining()}, nil
}

// validate checks the order under the rules it started under (o.rules).
func (o *orderRun) validate() error {
	if o.rules < strictFieldsVersion {
		return validateBeforeStrictFields(o.order)
	}
	return o.order.Validate()
}

// claimOptions are the options of the order ID's claim: a local activity
// of the order service, in the worker that runs the order, so the claim
// costs the order no task of its own on the server. It retries as the
// forward steps do.
var claimOptions = workflow.LocalActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: stepDeadline,
	RetryPolicy:            stepOptions.RetryPolicy,
}

// claim claims the order ID for this placement in the order service's
// register, before any step: an order ID that another placement used,
// however long ago and whatever Temporal still remembers of it, fails the
// order here, with nothing done and so nothing to undo. It runs in a
// context disconnected from the order's cancellation so that a claim under
// way always finishes: a cancel then stops the order before its first step,
// and the order ID stays used, as an order ID placed once is.
func (o *orderRun) claim(ctx workflow.Context) error {
	claimCtx, _ := workflow.NewDisconnectedContext(ctx)
	opts := claimOptions
	opts.Summary = "Claim order ID " + o.state.OrderID
	claimCtx = workflow.WithLocalActivityOptions(claimCtx, opts)
	req := orders.ClaimRequest{OrderID: o.order.ID, WorkflowID: o.state.WorkflowID, Placement: o.state.Placement,
		InputEncrypted: o.order.inputEncrypted}
	var claim orders.Claim
	if err := workflow.ExecuteLocalActivity(claimCtx, ordersService.ClaimOrderID, req).Get(claimCtx, &claim); err != nil {
		o.failStep(ctx, StepClaim, o.state.OrderID, err)
		return err
	}
	o.stepDone(ctx, StepClaim, o.state.OrderID, "order ID claimed by placement "+claim.Placement)
	return nil
}

// placementOf is the order's placement: the first run ID of its workflow.
// Temporal keeps it through a reset (the reset run continues the same
// placement, and finds its records), and gives another placement of the
// same order ID (a workflow started again after the first was deleted)
// another one. Where the server does not fill it (the SDK's test
// environment) the run ID stands in.
func placementOf(ctx workflow.Context) string {
	info := workflow.GetInfo(ctx)
	if info.FirstRunID != "" {
		return info.FirstRunID
	}
	return info.WorkflowExecution.RunID
}

// runSteps runs the forward steps in order, until they have all run or
// they stop (o.stopped says why): at the first that fails, or as soon as a
// cancel was accepted. It returns the error of the step that stopped them,
// if one did. It times each service call (not the cancel window, which is
// only a wait).
func (o *orderRun) runSteps(ctx workflow.Context) error {
	steps := []struct {
		name string
		run  func(workflow.Context) error
	}{{StepReserve, o.reserve}, {StepCharge, o.charge}, {StepCancelWindow, o.awaitCancelWindow}, {StepShip, o.ship}}
	for _, step := range steps {
		o.answerCancels(ctx)
		if ctx.Err() != nil { // stopSteps, for an accepted cancel, or Temporal
			o.stepsCancelled()
			return nil
		}
		started := workflow.Now(ctx)
		err := step.run(ctx)
		if step.name != StepCancelWindow {
			o.metrics.stepEnded(step.name, workflow.Now(ctx).Sub(started), stepOutcome(err, o.stopped))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// listenForCancels answers cancels (signals, and updates their handler
// handed over) while the order waits on a step. It waits for a signal to
// be pending rather than in Receive, which would take it out of the channel
// at once: the order's own coroutine runs before this one in a workflow
// task, so a cancel that arrives with a step's result is answered by the
// order at the step boundary (answerCancels), in the order's view of the
// world, and not after it has moved on.
func (o *orderRun) listenForCancels(ctx workflow.Context) {
	// Disconnected, so that it still answers cancels (and does not spin)
	// once Temporal has cancelled the order.
	listen, _ := workflow.NewDisconnectedContext(ctx)
	for {
		_ = workflow.Await(listen, func() bool { return o.cancels.Len() > 0 || len(o.asks) > 0 })
		o.answerCancels(ctx)
	}
}

// answerCancels answers every pending cancel: the signals first, in the
// order they arrived, then the updates, in the order they were accepted.
func (o *orderRun) answerCancels(ctx workflow.Context) {
	var req CancelRequest
	for o.cancels.ReceiveAsync(&req) {
		o.onCancel(ctx, req, stoppedBySignal)
		req = CancelRequest{}
	}
	for len(o.asks) > 0 {
		ask := o.asks[0]
		o.asks = o.asks[1:]
		ask.why, ask.answered = o.onCancel(ctx, ask.req, stoppedByUpdate), true
	}
}

// Activity stubs: the workflow names the services' activities through their
// methods, so a renamed activity fails to compile here. The services run in
// other processes; these nil pointers are never called.
var (
	ordersService    *orders.Activities
	inventoryService *inventory.Activities
	paymentService   *payment.Activities
	shippingService  *shipping.Activities
)

// stepOptions are the forward steps' activity options. A transient failure
// (a timeout, a locked database, a flaky gateway) is retried with backoff
// for up to stepDeadline; after that, or at once on a business failure, the
// order fails and compensates.
var stepOptions = workflow.ActivityOptions{
	StartToCloseTimeout:    10 * time.Second,
	ScheduleToCloseTimeout: stepDeadline,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    500 * time.Millisecond,
		BackoffCoefficient: 2,
		MaximumInterval:    10 * time.Second,
	},
}

// stepDeadline bounds how long one forward step may keep retrying. It is long
// enough to ride out a worker restart or a service outage of a few minutes.
const stepDeadline = 10 * time.Minute

func (o *orderRun) reserve(ctx workflow.Context) error {
	o.transition(ctx, Reserving, fmt.Sprintf("Reserving stock: %s.", DescribeItems(o.order.Items)))
	key := o.key(StepReserve)
	o.saga.add(compensation{name: CompensateRelease, key: key, run: func(ctx workflow.Context) (string, error) {
		var res inventory.ReleaseResult
		err := o.execute(ctx, o.cfg.compensationOptions(), ordersaga.InventoryTaskQueue, "Release stock of "+key,
			inventoryService.ReleaseStock, inventory.ReleaseRequest{Key: key, OrderID: o.order.ID, Placement: o.state.Placement}, &res)
		return fmt.Sprintf("%s: %d unit(s) returned to stock", res.Status, res.UnitsReturned), err
	}})
	var res inventory.Reservation
	err := o.execute(ctx, stepOptions, ordersaga.InventoryTaskQueue, "Reserve "+DescribeItems(o.order.Items),
		inventoryService.ReserveStock, inventory.ReserveRequest{Key: key, OrderID: o.order.ID, Placement: o.state.Placement, Items: o.order.Items}, &res)
	if err != nil {
		return o.stepFailed(ctx, StepReserve, key, err)
	}
	// The reservation is decided: the order-placed update answers with it.
	o.state.ReservationID, o.state.Lines, o.state.TotalCents = res.ID, res.Lines, res.TotalCents
	o.stepDone(ctx, StepReserve, key, fmt.Sprintf("reservation %s, total %s", res.ID, FormatCents(res.TotalCents)))
	return nil
}

func (o *orderRun) charge(ctx workflow.Context) error {
	total := FormatCents(o.state.TotalCents)
	o.transition(ctx, Charging, fmt.Sprintf("Charging %s to the customer's card.", total))
	key := o.key(StepCharge)
	o.saga.add(compensation{name: CompensateRefund, key: key, run: func(ctx workflow.Context) (string, error) {
		var res payment.RefundResult
		err := o.execute(ctx, o.cfg.compensationOptions(), ordersaga.PaymentTaskQueue, "Refund "+key,
			paymentService.RefundPayment, payment.RefundRequest{Key: key, OrderID: o.order.ID, Placement: o.state.Placement}, &res)
		return fmt.Sprintf("%s: %s given back", res.Status, FormatCents(res.AmountCents)), err
	}})
	var res payment.Charge
	err := o.execute(ctx, stepOptions, ordersaga.PaymentTaskQueue, "Charge "+total,
		paymentService.ChargePayment, payment.ChargeRequest{Key: key, OrderID: o.order.ID, Placement: o.state.Placement, AmountCents: o.state.TotalCents, Token: o.order.PaymentToken}, &res)
	if err != nil {
		return o.stepFailed(ctx, StepCharge, key, err)
	}
	o.state.ChargeID = res.ID
	o.stepDone(ctx, StepCharge, key, fmt.Sprintf("charge %s captured %s", res.ID, FormatCents(res.AmountCents)))
	return nil
}

// awaitCancelWindow holds the order, reserved and charged, for the cancel
// window: a durable timer, so it survives worker and server restarts. Only
// a cancel stops the timer.
func (o *orderRun) awaitCancelWindow(ctx workflow.Context) error {
	window := time.Duration(o.order.CancelWindow)
	o.state.CancelWindowEndsAt = workflow.Now(ctx).Add(window)
	o.transition(ctx, AwaitingFulfillment, fmt.Sprintf("Waiting out the cancel window of %s: ships at %s unless cancelled.",
		window, o.state.CancelWindowEndsAt.UTC().Format(time.RFC3339)))
	if window > 0 {
		timer := workflow.NewTimerWithOptions(ctx, window, workflow.TimerOptions{Summary: "Cancel window of " + window.String()})
		if err := timer.Get(ctx, nil); err != nil {
			o.stepsCancelled()
			return err
		}
	}
	o.stepDone(ctx, StepCancelWindow, "", fmt.Sprintf("%s passed without a cancel", window))
	return nil
}

func (o *orderRun) ship(ctx workflow.Context) error {
	o.transition(ctx, Shipping, "Creating the shipment.")
	key := o.key(StepShip)
	o.saga.add(compensation{name: CompensateCancelShipment, key: key, run: func(ctx workflow.Context) (string, error) {
		var res shipping.CancelResult
		err := o.execute(ctx, o.cfg.compensationOptions(), ordersaga.ShippingTaskQueue, "Cancel shipment "+key,
			shippingService.CancelShipment, shipping.CancelRequest{Key: key, OrderID: o.order.ID, Placement: o.state.Placement}, &res)
		return res.Status, err
	}})
	parcel := make([]shipping.Parcel, 0, len(o.order.Items))
	for _, it := range o.order.Items {
		parcel = append(parcel, shipping.Parcel{SKU: it.SKU, Qty: it.Qty})
	}
	var res shipping.Shipment
	err := o.execute(ctx, stepOptions, ordersaga.ShippingTaskQueue, "Ship "+DescribeItems(o.order.Items),
		shippingService.CreateShipment, shipping.ShipRequest{Key: key, OrderID: o.order.ID, Placement: o.state.Placement, Address: o.order.Address, Items: parcel}, &res)
	if err != nil {
		return o.stepFailed(ctx, StepShip, key, err)
	}
	o.shipped = true
	o.state.ShipmentID, o.state.TrackingNumber = res.ID, res.TrackingNumber
	o.stepDone(ctx, StepShip, key, fmt.Sprintf("shipment %s, tracking number %s", res.ID, res.TrackingNumber))
	return nil
}

// execute runs one activity on a service's task queue and waits for it.
// If ctx is cancelled meanwhile it stops waiting at once: the activity may
// still finish, which is why its compensation was registered first.
func (o *orderRun) execute(ctx workflow.Context, opts workflow.ActivityOptions, taskQueue, summary string, activity, req, res any) error {
	opts.TaskQueue = taskQueue
	opts.Summary = summary
	ctx = workflow.WithActivityOptions(ctx, opts)
	return workflow.ExecuteActivity(ctx, activity, req).Get(ctx, res)
}

func (o *orderRun) stepDone(ctx workflow.Context, name, key, detail string) {
	o.state.Steps = append(o.state.Steps, StepRecord{Name: name, Key: key, OK: true, Detail: detail, At: workflow.Now(ctx)})
}

// stepFailed records a step that came back with err. A step stopped by a
// cancel did not fail: it is recorded as stopped, and the cancel decides
// how the order ends.
func (o *orderRun) stepFailed(ctx workflow.Context, name, key string, err error) error {
	if o.stopped.asked() || temporal.IsCanceledError(err) {
		o.stepsCancelled()
		o.state.Steps = append(o.state.Steps, StepRecord{Name: name, Key: key, Detail: "stopped by the cancel", At: workflow.Now(ctx)})
		return err
	}
	o.failStep(ctx, name, key, err)
	if o.rules >= placementsVersion && keyRefused(err) {
		// The service refused the key before doing anything: it belongs to
		// another placement (whose record the compensation must not touch)
		// or this placement already undid it. There is nothing to undo.
		o.saga.drop(key)
	}
	return err
}

// failStep fails the order for err, the failure of step name (the claim
// or a forward step), and records the failed step.
func (o *orderRun) failStep(ctx workflow.Context, name, key string, err error) {
	o.fail(name, failureKind(err), failureReason(name, err))
	o.state.Steps = append(o.state.Steps, StepRecord{Name: name, Key: key, Detail: o.state.FailureReason, At: workflow.Now(ctx)})
}

// keyRefused reports whether a step's service refused its idempotency key,
// as held by another placement or already undone, without acting on it.
func keyRefused(err error) bool {
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		return false
	}
	// The three services name their key refusals alike
	// (TestServicesNameKeyRefusalsAlike).
	t := appErr.Type()
	return t == inventory.KeyConflictError || t == inventory.KeyVoidedError
}

// key is the idempotency key of one of this order's steps: the workflow ID
// and the step, so a retried or replayed activity finds its first result.
func (o *orderRun) key(step string) string { return o.state.WorkflowID + "/" + step }

// failureReason says in one line why a step failed: the service's own
// message for a business failure, or which limit ran out.
func failureReason(step string, err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return fmt.Sprintf("%s failed: %s", step, appErr.Message())
	}
	var timeoutErr *temporal.TimeoutError
	if errors.As(err, &timeoutErr) {
		return fmt.Sprintf("%s failed: the service did not succeed within %s (%s timeout)", step, stepDeadline, timeoutErr.TimeoutType())
	}
	return fmt.Sprintf("%s failed: %v", step, err)
}

// compensate undoes the started steps in reverse order and ends the order
// CANCELLED if a cancel stopped its steps, FAILED otherwise (stepErr is the
// failed step's error). It runs in a context disconnected from the order's
// cancellation, so a cancelled workflow still gets to give everything back.
func (o *orderRun) compensate(ctx workflow.Context, stepErr error) (OrderState, error) {
	undo, _ := workflow.NewDisconnectedContext(ctx)
	why := "it failed: " + o.state.FailureReason
	if o.stopped.cancelled() {
		o.state.CancelledBy, o.state.CancelReason = o.stopped.by(), o.stopReason
		why = fmt.Sprintf("it was cancelled (%s): %s", o.state.CancelledBy, o.state.CancelReason)
	}
	o.transition(undo, Compensating, fmt.Sprintf("Undoing %d step(s), newest first, because %s.", len(o.saga.stack), why))
	o.saga.compensate(undo,
		func(c compensation, detail string) {
			o.state.Compensations = append(o.state.Compensations, CompensationRecord{Name: c.name, Key: c.key, Detail: detail, At: workflow.Now(undo)})
			o.metrics.compensationRun(c.name)
		},
		func(c compensation, err error) { o.compensationFailed(undo, c, err) })
	if o.stopped.cancelled() {
		return o.end(undo, Cancelled, nil)
	}
	return o.end(undo, Failed, stepErr)
}

// compensationOptions are the compensations' activity options: they retry
// a transient failure for up to the Config's CompensationTimeout, because
// an order that has taken stock or money must give it back however long the
// service is down; after that, or at once on a business refusal, the order
// waits in NEEDS_ATTENTION for an operator to resume it.
func (cfg Config) compensationOptions() workflow.ActivityOptions {
	return workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: cfg.compensationTimeout(),
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    500 * time.Millisecond,
			BackoffCoefficient: 2,
			MaximumInterval:    30 * time.Second,
		},
	}
}

// compensationFailed waits until the failed compensation c should run
// again: for an operator's resume, in NEEDS_ATTENTION; or, for an order
// started before needsAttentionChange, for compensationRetryPause.
func (o *orderRun) compensationFailed(ctx workflow.Context, c compensation, err error) {
	o.metrics.compensationFailed(c.name)
	if workflow.GetVersion(ctx, needsAttentionChange, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		o.logger.Error("compensation failed; trying again", "compensation", c.name, "key", c.key, "error", err)
		_ = workflow.Sleep(ctx, compensationRetryPause)
		return
	}
	why := o.compensationError(c, err)
	o.logger.Error("compensation failed; the order needs attention", "compensation", c.name, "key", c.key, "error", why)
	o.state.Attention = &Attention{Compensation: c.name, Key: c.key, Error: why, Since: workflow.Now(ctx)}
	o.metrics.needsAttention(c.name)
	o.transition(ctx, NeedsAttention, fmt.Sprintf("The %s of %s could not be done: %s. Fix the cause, then resume the order: starter resume %s.",
		c.name, c.key, why, o.order.ID))
	resumes := len(o.state.Resumes)
	_ = workflow.Await(ctx, func() bool { return len(o.state.Resumes) > resumes })
	o.state.Attention = nil
	o.transition(ctx, Compensating, fmt.Sprintf("Resumed (%s): trying the %s of %s again, then %d more.",
		o.state.Resumes[len(o.state.Resumes)-1].Reason, c.name, c.key, o.saga.remaining()-1))
}

// compensationRetryPause is how long an order started before
// needsAttentionChange waits before it runs a failed compensation again.
const compensationRetryPause = time.Minute

// compensationError says in one line why a compensation gave up: its
// service's refusal, or its last error once its time ran out.
func (o *orderRun) compensationError(c compensation, err error) string {
	last := err.Error()
	var appErr *temporal.ApplicationError
	var timeoutErr *temporal.TimeoutError
	switch {
	case errors.As(err, &appErr) && appErr.NonRetryable():
		return fmt.Sprintf("%s refused: %s", c.name, appErr.Message())
	case appErr != nil:
		last = appErr.Message()
	case errors.As(err, &timeoutErr):
		last = fmt.Sprintf("%s timeout", timeoutErr.TimeoutType())
	}
	return fmt.Sprintf("%s did not succeed within %s; last error: %s", c.name, o.cfg.compensationTimeout(), last)
}

// end moves the order to its final status and returns the workflow's
// outcome: the state for a COMPLETED order; for a FAILED one, an OrderFailed
// error caused by the step's error; for a CANCELLED one, a cancellation.
// The last two carry the state in their details.
func (o *orderRun) end(ctx workflow.Context, status Status, cause error) (OrderState, error) {
	o.state.EndedAt = workflow.Now(ctx)
	o.transition(ctx, status, o.summary(status))
	switch status {
	case Completed:
		o.metrics.completed()
		return o.state, nil
	case Cancelled:
		o.metrics.cancelled(o.state.CancelledBy)
		return OrderState{}, temporal.NewCanceledError(o.state)
	}
	o.metrics.failed(o.failedStep, o.failureKind)
	return OrderState{}, temporal.NewNonRetryableApplicationError(o.state.FailureReason, OrderFailedError, cause, o.state)
}

func (o *orderRun) summary(status Status) string {
	switch status {
	case Completed:
		return fmt.Sprintf("Completed: %s charged, shipped with tracking number %s.", FormatCents(o.state.TotalCents), o.state.TrackingNumber)
	case Cancelled:
		return fmt.Sprintf("Cancelled (%s): %s. %d compensation(s) ran.", o.state.CancelledBy, o.state.CancelReason, len(o.state.Compensations))
	}
	return fmt.Sprintf("Failed: %s. %d compensation(s) ran.", o.state.FailureReason, len(o.state.Compensations))
}

// transition records a change of status and shows it where people look:
// the workflow's current details (the Web UI) and the query always, the
// OrderStatus search attribute (lists and filters) when the order can rest
// in the status (see statusWrites).
func (o *orderRun) transition(ctx workflow.Context, status Status, details string) {
	o.state.Status = status
	o.state.Transitions = append(o.state.Transitions, Transition{Status: status, At: workflow.Now(ctx)})
	switch {
	case o.writes == everyStatus:
		o.upsert(ctx, status, ordersaga.OrderStatusKey.ValueSet(string(status)), ordersaga.CustomerIDKey.ValueSet(o.state.CustomerID))
	case o.rests(status):
		o.upsert(ctx, status, ordersaga.OrderStatusKey.ValueSet(string(status)))
	}
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: %s", status, details))
	o.logger.Info("order status", "status", status, "details", details)
}

// statusWrites is which status changes an order writes to the OrderStatus
// search attribute. Each write is a write to the Temporal server's
// visibility store, most of the saga's extra server work over a bare
// workflow, so an order writes only what a list must find.
type statusWrites int

const (
	// restingStatuses: PENDING and CustomerId at start (by the client
	// that starts the order, or else by the order), then only the statuses
	// an order can rest in: AWAITING_FULFILLMENT with a cancel window,
	// COMPENSATING, NEEDS_ATTENTION and the final ones. The forward steps
	// (RESERVING, CHARGING, SHIPPING) last at most a step's deadline; the
	// query, `starter status` and the Web UI's current details show them.
	restingStatuses statusWrites = iota
	// everyStatus is how the builds before restingStatuses wrote: every
	// status, with CustomerId, at every transition. Their orders stay
	// pinned to their build's workers; only the replay test still runs
	// it, to replay those builds' histories as they ran. It goes with
	// their histories once no order of those builds runs.
	everyStatus
)

// rests reports whether an order can rest in status, so that the
// OrderStatus search attribute must show it.
func (o *orderRun) rests(status Status) bool {
	if status == AwaitingFulfillment {
		return o.order.CancelWindow > 0
	}
	return status.Listed()
}

// listed makes sure the order can be listed by its status and customer
// from its start: the starter sets both when it starts the order; an order
// started without them (from the Web UI or the Temporal CLI) sets them
// itself, once.
func (o *orderRun) listed(ctx workflow.Context) {
	if o.writes == everyStatus {
		return
	}
	if _, ok := workflow.GetTypedSearchAttributes(ctx).GetKeyword(ordersaga.OrderStatusKey); ok {
		return
	}
	o.upsert(ctx, Pending, ordersaga.OrderStatusKey.ValueSet(string(Pending)), ordersaga.CustomerIDKey.ValueSet(o.state.CustomerID))
}

func (o *orderRun) upsert(ctx workflow.Context, status Status, updates ...temporal.SearchAttributeUpdate) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		o.logger.Warn("search attribute not updated", "status", status, "error", err)
	}
}

// Changes to the workflow that running orders must not see, for
// workflow.GetVersion. Orders started on older code replay their recorded
// history the old way; see docs/promises.md, "Changing the workflow safely".
const (
	// needsAttentionChange: a compensation that cannot succeed stops the
	// order in NEEDS_ATTENTION (version 1). Before, the order paused for
	// compensationRetryPause and tried again, forever.
	needsAttentionChange = "needs-attention"
	// orderRulesChange is the rules an order is placed under, one version
	// per change (one change ID, so that a new order records one version
	// marker and one TemporalChangeVersion update, however many changes
	// it has seen; its name is the first change's):
	//   - strictFieldsVersion: the order's customer ID must be an opaque
	//     ID, its payment token printable ASCII, its address free of
	//     control characters;
	//   - placementsVersion: the order claims its ID in the order service's
	//     register before its first step, every request it sends carries
	//     its placement, and a step refused because its key belongs to
	//     another placement, or was already undone, leaves nothing to undo.
	// Orders started before a version keep the rules they started under.
	orderRulesChange = "strict-order-fields"
)

// The versions of orderRulesChange.
const (
	strictFieldsVersion workflow.Version = 1
	placementsVersion   workflow.Version = 2
)

// validateBeforeStrictFields checks an order started before
// strictFieldsVersion as it was checked then: without the rules on the
// fields' characters. The orders of the recorded v1 and v2 histories took
// this path (v3 recorded strictFieldsVersion, v4 and v5
// placementsVersion). It may go, with the strict flag of Order.validate,
// once no order of v1 or v2 can be replayed or run: none of them still
// running, and their histories gone from the replay test.
func validateBeforeStrictFields(order Order) error { return order.validate(false) }

// StartedWithPlacements reports whether an order whose
// TemporalChangeVersion search attribute holds changeVersions started
// under placements, so that its records carry its placement: the SDK
// writes "<change ID>-<version>" there when an order records the version
// of a change, and the audit reads it in Temporal's list of orders.
func StartedWithPlacements(changeVersions []string) bool {
	for _, cv := range changeVersions {
		v, ok := strings.CutPrefix(cv, orderRulesChange+"-")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(v); err == nil && workflow.Version(n) >= placementsVersion {
			return true
		}
	}
	return false
}
