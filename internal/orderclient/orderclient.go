// Package orderclient is the client side of orders: placing, reading,
// cancelling, listing and watching them through Temporal. The starter is a
// command-line face on it, and the audit reads the orders' final states
// through it, so both see an order the same way.
package orderclient

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/workflows"
)

// DefaultUIURL is where `make dev` serves the Temporal Web UI.
const DefaultUIURL = "http://localhost:8233"

// ErrNotFound means Temporal knows no order with that ID.
var ErrNotFound = errors.New("no such order")

// ErrExists means an order with that ID was already placed.
var ErrExists = errors.New("order already exists")

// EndedError is the refusal to cancel or resume an order that has already
// ended.
type EndedError struct {
	OrderID string
	Status  workflows.Status
	// Nothing is what there is nothing left to do: "cancel" if empty.
	Nothing string
	// How says how it ended, if its final state tells: "shipped with
	// tracking number 1Z…", the failure or the cancel's reason.
	How string
}

func (e *EndedError) Error() string {
	nothing := e.Nothing
	if nothing == "" {
		nothing = "cancel"
	}
	how := ""
	if e.How != "" {
		how = " (" + e.How + ")"
	}
	return fmt.Sprintf("order %s already ended %s%s: there is nothing to %s", e.OrderID, e.Status, how, nothing)
}

// endedError is the refusal to act on the ended order v, saying how it
// ended.
func endedError(v View, nothing string) *EndedError {
	return &EndedError{OrderID: v.OrderID, Status: v.Status, Nothing: nothing, How: endedHow(v.OrderState)}
}

// endedHow says in a few words how an order ended, from its final state.
func endedHow(s workflows.OrderState) string {
	switch {
	case s.Status == workflows.Completed && s.TrackingNumber != "":
		return fmt.Sprintf("shipped with tracking number %s, shipment %s", s.TrackingNumber, s.ShipmentID)
	case s.Status == workflows.Failed && s.FailureReason != "":
		return s.FailureReason
	case s.Status == workflows.Cancelled && s.CancelReason != "":
		return "cancelled: " + s.CancelReason
	}
	return ""
}

// Client reaches orders through a Temporal client.
type Client struct {
	Temporal  client.Client
	Namespace string
	// UIURL is the Temporal Web UI's base URL, for links to orders.
	UIURL string
	// CancelTimeout bounds how long Cancel waits for the order to
	// answer; DefaultCancelTimeout if zero.
	CancelTimeout time.Duration
	// AnswerTimeout bounds how long PlaceAndAnswer waits for the order's
	// answer; DefaultAnswerTimeout if zero.
	AnswerTimeout time.Duration
}

// View is an order as a person or a script sees it: its state, and where
// its workflow stands in Temporal.
type View struct {
	workflows.OrderState
	RunID string `json:"run_id"`
	// TemporalStatus is the workflow execution's status: Running,
	// Completed, Failed, Canceled, Terminated, TimedOut.
	TemporalStatus string `json:"temporal_status"`
	WebURL         string `json:"web_url"`
	// HistoryLength is how many events the workflow's history had when
	// the order was read; the state reflects at least those.
	HistoryLength int64 `json:"history_length"`
	// Reserved and Refusal are the order's answer to its placement
	// (PlaceAndAnswer): its stock is reserved (Lines, TotalCents and
	// ReservationID say what), or Refusal says why it never will be.
	Reserved bool   `json:"reserved,omitempty"`
	Refusal  string `json:"refusal,omitempty"`
	// Note says why the state is incomplete, when it is (a running order
	// whose worker did not answer, a terminated workflow).
	Note string `json:"note,omitempty"`
}

// Place validates the order and starts its workflow, and returns as soon
// as it started, before anything is known of the order; PlaceAndAnswer
// waits for its reservation. It never starts an order twice: an ID that
// was used before, even by an order that has ended, is refused with
// ErrExists.
func (c *Client) Place(ctx context.Context, order workflows.Order) (View, error) {
	if err := order.Validate(); err != nil {
		return View{}, err
	}
	opts := startOptions(order)
	opts.WorkflowExecutionErrorWhenAlreadyStarted = true
	run, err := c.Temporal.ExecuteWorkflow(ctx, opts, ordersaga.OrderWorkflowType, order)
	if err != nil {
		return View{}, placeError(order, err)
	}
	return c.placedView(order, run.GetRunID()), nil
}

// startOptions start an order's workflow: under its order ID, never a
// second time (REJECT_DUPLICATE for an ended one, FAIL for a running one:
// a second placement is refused, never attached to the first).
func startOptions(order workflows.Order) client.StartWorkflowOptions {
	return client.StartWorkflowOptions{
		ID:                       ordersaga.WorkflowID(order.ID),
		TaskQueue:                ordersaga.OrdersTaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			ordersaga.OrderStatusKey.ValueSet(string(workflows.Pending)),
			ordersaga.CustomerIDKey.ValueSet(order.CustomerID)),
		StaticSummary: fmt.Sprintf("Order %s for customer %s: %s", order.ID, order.CustomerID, workflows.DescribeItems(order.Items)),
		StaticDetails: fmt.Sprintf("Cancel window: %s. Cancel with `starter cancel %s` or the cancel-order signal.",
			time.Duration(order.CancelWindow), order.ID),
	}
}

// placeError says why an order could not be started: ErrExists for an ID
// Temporal already knows.
func placeError(order workflows.Order, err error) error {
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return fmt.Errorf("%w: order %s was placed before (workflow %s); order IDs cannot be reused, pick another", ErrExists, order.ID, ordersaga.WorkflowID(order.ID))
	}
	return fmt.Errorf("place order %s: %w", order.ID, err)
}

// placedView is a just-started order's view.
func (c *Client) placedView(order workflows.Order, runID string) View {
	id := ordersaga.WorkflowID(order.ID)
	return View{
		OrderState:     workflows.OrderState{OrderID: order.ID, WorkflowID: id, CustomerID: order.CustomerID, Status: workflows.Pending},
		RunID:          runID,
		TemporalStatus: "Running",
		WebURL:         c.WebURL(id, runID),
	}
}

// QueryTimeout bounds how long State waits for a worker to answer the
// order-status query of a running order.
const QueryTimeout = 10 * time.Second

// State returns the order's current state: from its workflow's result when
// it has ended (no worker needed), from the order-status query while it runs.
func (c *Client) State(ctx context.Context, orderID string) (View, error) {
	v, err := c.Snapshot(ctx, orderID)
	if err != nil || v.TemporalStatus != "Running" {
		return v, err
	}
	qctx, cancel := context.WithTimeout(ctx, QueryTimeout)
	defer cancel()
	res, err := c.Temporal.QueryWorkflow(qctx, v.WorkflowID, v.RunID, ordersaga.OrderStatusQuery)
	if err != nil {
		v.Note = fmt.Sprintf("the order's worker did not answer (%v); is a worker running for task queue %q?", err, ordersaga.OrdersTaskQueue)
		return v, nil
	}
	if err := res.Get(&v.OrderState); err != nil {
		return View{}, fmt.Errorf("read state of order %s: %w", orderID, err)
	}
	return v, nil
}

// Snapshot returns the final state of an order that has ended, and for a
// running order only its status as the OrderStatus search attribute has it
// (the status it rests in, not a forward step under way), without asking a
// worker.
func (c *Client) Snapshot(ctx context.Context, orderID string) (View, error) {
	id := ordersaga.WorkflowID(orderID)
	desc, err := c.Temporal.DescribeWorkflow(ctx, id, "")
	if err != nil {
		return View{}, c.notFound(orderID, err)
	}
	v := View{
		OrderState:     workflows.OrderState{OrderID: orderID, WorkflowID: id, Status: searchStatus(desc.TypedSearchAttributes)},
		RunID:          desc.WorkflowExecution.RunID,
		TemporalStatus: temporalStatus(desc.Status),
		WebURL:         c.WebURL(id, desc.WorkflowExecution.RunID),
		HistoryLength:  int64(desc.HistoryLength),
	}
	if desc.Status == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return v, nil
	}
	return c.outcome(ctx, v)
}

// Wait blocks until the order has ended and returns its final state. What
// the server says about the wait itself — a history poll it did not answer
// in time, a moment of being unavailable or too busy — says nothing about
// the order, so Wait polls again, as Await does, until the order has ended
// or ctx ends; an order still running is never returned as its final
// state. When its run ended by being reset or continued as new, Wait
// follows the order's newest run.
func (c *Client) Wait(ctx context.Context, orderID string) (View, error) {
	for {
		// Snapshot reads an ended order's final state from its workflow's
		// result.
		v, err := c.retrying(ctx, func() (View, error) { return c.Snapshot(ctx, orderID) })
		if err != nil || v.TemporalStatus != "Running" {
			return v, err
		}
		// The run's ending is read, with the rest of the final state, by
		// the next turn's Snapshot.
		if err := c.awaitEnd(ctx, v.WorkflowID, v.RunID, nil); err != nil {
			if ctx.Err() != nil {
				return View{}, ctx.Err()
			}
			if _, ended := endedAs(err); !ended {
				return View{}, fmt.Errorf("wait for order %s: %w", orderID, err)
			}
		}
	}
}

// retrying calls read until it answers with anything but a sign that the
// server was briefly slow or away (pollTimedOut), or ctx ends.
func (c *Client) retrying(ctx context.Context, read func() (View, error)) (View, error) {
	for {
		v, err := read()
		if err == nil || ctx.Err() != nil || !pollTimedOut(err) {
			if ctx.Err() != nil {
				return View{}, ctx.Err()
			}
			return v, err
		}
		select {
		case <-ctx.Done():
			return View{}, ctx.Err()
		case <-time.After(awaitRetryInterval):
		}
	}
}

// Await blocks until the order that Place returned as placed has ended,
// with one long poll on its run's history, and returns its final state,
// with TemporalStatus set from how the run ended. An error means the wait
// itself failed: the order's ending is unknown.
func (c *Client) Await(ctx context.Context, placed View) (View, error) {
	v := placed
	err := c.awaitEnd(ctx, v.WorkflowID, v.RunID, &v.OrderState)
	if err == nil {
		v.TemporalStatus = "Completed"
		return v, nil
	}
	status, ended := endedAs(err)
	if !ended {
		if ctx.Err() != nil {
			return View{}, ctx.Err()
		}
		return View{}, fmt.Errorf("wait for order %s: %w", v.OrderID, err)
	}
	state, ok := Outcome(err)
	if !ok {
		// No final state in the ending (a terminated or timed-out
		// workflow): Snapshot reads the status the order last had and
		// says why.
		return c.Snapshot(ctx, v.OrderID)
	}
	v.OrderState, v.TemporalStatus = state, status
	return v, nil
}

// awaitRetryInterval is how long Await waits before it polls again after
// a poll that the server did not answer in time (a variable for the tests).
var awaitRetryInterval = time.Second

// awaitEnd long-polls the run's history until it ends, and decodes its
// result into state unless state is nil. The SDK gives each poll 65 s: a
// server with thousands of open polls may not answer one in time, which
// says nothing about the order, so the wait goes on until ctx ends.
func (c *Client) awaitEnd(ctx context.Context, workflowID, runID string, state *workflows.OrderState) error {
	var result any // nil: the result is not decoded (a client without the keys could not)
	if state != nil {
		result = state
	}
	for {
		err := c.Temporal.GetWorkflow(ctx, workflowID, runID).Get(ctx, result)
		if err == nil || ctx.Err() != nil || !pollTimedOut(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(awaitRetryInterval):
		}
	}
}

// pollTimedOut reports whether err is a history poll that ran out of time
// or was shed by a busy server, rather than the workflow's ending.
func pollTimedOut(err error) bool {
	if _, ended := endedAs(err); ended {
		return false
	}
	var deadline *serviceerror.DeadlineExceeded
	var unavailable *serviceerror.Unavailable
	var exhausted *serviceerror.ResourceExhausted
	return errors.As(err, &deadline) || errors.As(err, &unavailable) || errors.As(err, &exhausted) ||
		errors.Is(err, context.DeadlineExceeded)
}

// endedAs tells how a workflow run ended from the error its Get returned
// (Failed, Canceled, Terminated, TimedOut); ended is false when err is no
// ending but a failure to wait for one.
func endedAs(err error) (status string, ended bool) {
	var wee *temporal.WorkflowExecutionError
	if !errors.As(err, &wee) {
		return "", false
	}
	switch errors.Unwrap(wee).(type) {
	case *temporal.CanceledError:
		return "Canceled", true
	case *temporal.TerminatedError:
		return "Terminated", true
	case *temporal.TimeoutError:
		return "TimedOut", true
	}
	return "Failed", true
}

// outcome fills v from the ended workflow's result, failure or
// cancellation, which all carry the final OrderState.
func (c *Client) outcome(ctx context.Context, v View) (View, error) {
	err := c.Temporal.GetWorkflow(ctx, v.WorkflowID, v.RunID).Get(ctx, &v.OrderState)
	if err == nil {
		return v, nil
	}
	if state, ok := Outcome(err); ok {
		v.OrderState = state
		return v, nil
	}
	if ctx.Err() != nil {
		return View{}, ctx.Err()
	}
	if pollTimedOut(err) {
		// The server did not answer: that says nothing about the order.
		return View{}, fmt.Errorf("read the final state of order %s: %w", v.OrderID, err)
	}
	if refusedInClear(err) {
		v.Status, v.FailureReason = workflows.Failed, "claim failed: "+orders.ErrInputNotEncrypted.Error()
		return v, nil
	}
	v.Note = fmt.Sprintf("the workflow ended %s without a final order state (%v): check its compensations in the Web UI", v.TemporalStatus, err)
	return v, nil
}

// refusedInClear reports whether err, the ending of an order whose final
// state this client could not decrypt, is the workers' refusal of an order
// sent unencrypted. A failure's type is never encrypted, so a client
// without the keys — the very one that sent the order in clear — still
// learns why, and what to do.
func refusedInClear(err error) bool {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if appErr, ok := e.(*temporal.ApplicationError); ok && appErr.Type() == orders.EncryptionRequiredError {
			return true
		}
	}
	return false
}

// Outcome extracts the final OrderState from the error of a FAILED or
// CANCELLED order's workflow.
func Outcome(err error) (workflows.OrderState, bool) {
	var state workflows.OrderState
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == workflows.OrderFailedError && appErr.HasDetails() {
		return state, appErr.Details(&state) == nil
	}
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && canceled.HasDetails() {
		return state, canceled.Details(&state) == nil
	}
	return state, false
}

// SignalCancel sends the cancel-order signal, the cancel the Web UI and
// older clients send, to a running order and returns what Snapshot knew of
// it just before. It needs no worker: the server keeps the signal until a
// worker takes it. But it does not say whether the order accepted the
// cancel (before the shipment) or refused it (after): that shows later in
// the order's state, and Wait tells how it ended. Prefer Cancel, which
// answers at once, unless no worker may be running. An order that has
// ended gets an *EndedError.
func (c *Client) SignalCancel(ctx context.Context, orderID, reason string) (View, error) {
	v, err := c.cancellable(ctx, orderID, reason)
	if err != nil {
		return View{}, err
	}
	err = c.Temporal.SignalWorkflow(ctx, v.WorkflowID, v.RunID, ordersaga.CancelOrderSignal, workflows.CancelRequest{Reason: reason})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		// It ended between the check and the signal.
		if ended, serr := c.Snapshot(ctx, orderID); serr == nil {
			return View{}, endedError(ended, "")
		}
	}
	if err != nil {
		return View{}, fmt.Errorf("signal the cancel to order %s: %w", orderID, err)
	}
	return v, nil
}

// CheckCancelReason refuses a cancel reason longer than
// workflows.MaxTextLength, the limit on an order's texts: the order keeps
// the reason in its state, which every query and its final result carry.
// Cancel and SignalCancel call it before they reach Temporal; a command
// calls it before it even connects.
func CheckCancelReason(reason string) error { return CheckReason("cancel", reason) }

// CheckReason refuses a reason for what ("cancel", "resume") longer than
// workflows.MaxTextLength, as the order itself does.
func CheckReason(what, reason string) error { return workflows.CheckReason(what, reason) }

// Summary is one order in a list.
type Summary struct {
	OrderID        string           `json:"order_id"`
	WorkflowID     string           `json:"workflow_id"`
	RunID          string           `json:"run_id"`
	Status         workflows.Status `json:"status"`
	CustomerID     string           `json:"customer_id"`
	TemporalStatus string           `json:"temporal_status"`
	StartedAt      time.Time        `json:"started_at"`
	EndedAt        time.Time        `json:"ended_at,omitzero"`
}

// Filter narrows a list of orders; zero values match everything.
type Filter struct {
	Status     workflows.Status
	CustomerID string
	// Limit caps the number of orders returned, newest first; 0 means all.
	Limit int
}

// List returns the orders that match f, newest first, from Temporal's
// visibility store (the search attributes the workflow keeps up to date).
func (c *Client) List(ctx context.Context, f Filter) ([]Summary, error) {
	query := fmt.Sprintf("WorkflowType = '%s'", ordersaga.OrderWorkflowType)
	if f.Status != "" {
		query += fmt.Sprintf(" AND %s = '%s'", ordersaga.OrderStatusAttribute, quote(string(f.Status)))
	}
	if f.CustomerID != "" {
		query += fmt.Sprintf(" AND %s = '%s'", ordersaga.CustomerIDAttribute, quote(f.CustomerID))
	}
	var out []Summary
	var token []byte
	for {
		resp, err := c.Temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: c.Namespace, Query: query, NextPageToken: token, PageSize: 1000,
		})
		if err != nil {
			return nil, fmt.Errorf("list orders (%s): %w", query, err)
		}
		for _, e := range resp.Executions {
			out = append(out, summary(e))
			if f.Limit > 0 && len(out) == f.Limit {
				return out, nil
			}
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return out, nil
		}
	}
}

// WebURL links to the workflow's page in the Temporal Web UI.
func (c *Client) WebURL(workflowID, runID string) string {
	base := strings.TrimRight(c.UIURL, "/")
	if base == "" {
		base = DefaultUIURL
	}
	ns := c.Namespace
	if ns == "" {
		ns = client.DefaultNamespace
	}
	return fmt.Sprintf("%s/namespaces/%s/workflows/%s/%s/history", base, url.PathEscape(ns), url.PathEscape(workflowID), url.PathEscape(runID))
}

func (c *Client) notFound(orderID string, err error) error {
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return fmt.Errorf("%w: %s (no workflow %s in namespace %s)", ErrNotFound, orderID, ordersaga.WorkflowID(orderID), c.Namespace)
	}
	return fmt.Errorf("read order %s: %w", orderID, err)
}

func summary(e *workflowpb.WorkflowExecutionInfo) Summary {
	s := Summary{
		WorkflowID:     e.GetExecution().GetWorkflowId(),
		RunID:          e.GetExecution().GetRunId(),
		TemporalStatus: temporalStatus(e.GetStatus()),
		StartedAt:      e.GetStartTime().AsTime(),
	}
	s.OrderID = strings.TrimPrefix(s.WorkflowID, ordersaga.WorkflowIDPrefix)
	if e.GetCloseTime() != nil {
		s.EndedAt = e.GetCloseTime().AsTime()
	}
	fields := e.GetSearchAttributes().GetIndexedFields()
	dc := converter.GetDefaultDataConverter()
	var status string
	if p, ok := fields[ordersaga.OrderStatusAttribute]; ok {
		_ = dc.FromPayload(p, &status)
	}
	s.Status = workflows.Status(status)
	if p, ok := fields[ordersaga.CustomerIDAttribute]; ok {
		_ = dc.FromPayload(p, &s.CustomerID)
	}
	return s
}

func searchStatus(sa temporal.SearchAttributes) workflows.Status {
	s, _ := sa.GetKeyword(ordersaga.OrderStatusKey)
	return workflows.Status(s)
}

// temporalStatus is the status as the Web UI shows it: TimedOut for
// WORKFLOW_EXECUTION_STATUS_TIMED_OUT (the API's enums print so).
func temporalStatus(s enumspb.WorkflowExecutionStatus) string { return s.String() }

// quote escapes a value for a visibility query's single-quoted string.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s)
}
