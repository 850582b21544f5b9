package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
)

// The order every test places unless it says otherwise: order 42 runs as
// workflow "order-42", so its idempotency keys are "order-42/<step>".
const (
	testOrderID    = "42"
	testWorkflowID = "order-42"
	testCustomer   = "cust-7"
	testWindow     = time.Minute

	// testPlacement is the order's placement in the test environment,
	// which gives no first run ID: its run ID.
	testPlacement = "default-test-run-id"
	// stepClaimed is the claim of the order ID, as stepsDone lists it.
	stepClaimed = StepClaim + " " + testOrderID + " ok"

	keyReserve = testWorkflowID + "/" + StepReserve
	keyCharge  = testWorkflowID + "/" + StepCharge
	keyShip    = testWorkflowID + "/" + StepShip
)

// testConfig is the workflow's configuration in the tests: a compensation
// retries for ten minutes (of env time) before the order needs attention.
var testConfig = Config{CompensationTimeout: 10 * time.Minute}

// testStart is the env time at which every test's workflow starts.
var testStart = time.Date(2030, time.January, 2, 10, 0, 0, 0, time.UTC)

// Activity names as the workers register them (method names).
const (
	actClaim   = "ClaimOrderID"
	actReserve = "ReserveStock"
	actRelease = "ReleaseStock"
	actCharge  = "ChargePayment"
	actRefund  = "RefundPayment"
	actShip    = "CreateShipment"
	actCancel  = "CancelShipment"
)

// Prices of the fake inventory service (the real catalog's prices).
var testPrices = map[string]int64{"BOOK-GOPL": 3999, "MUG-GOPHER": 1299, "LAMP-LIMITED": 8999}

// testTotal is the total of testOrder at testPrices: 2 × 39.99 + 1 × 12.99.
const testTotal int64 = 2*3999 + 1299

// Results of the fake services.
const (
	fakeReservationID = "rsv_fake"
	fakeChargeID      = "ch_fake"
	fakeShipmentID    = "shp_fake"
	fakeTracking      = "TRKFAKE42"
)

func testOrder() Order {
	return Order{
		ID:           testOrderID,
		CustomerID:   testCustomer,
		Items:        []inventory.Item{{SKU: "BOOK-GOPL", Qty: 2}, {SKU: "MUG-GOPHER", Qty: 1}},
		PaymentToken: payment.TokenVisa,
		Address:      "1 Gopher Way, Mountain View",
		CancelWindow: Duration(testWindow),
	}
}

// activityCall is one attempt of one activity, as the test environment
// started it.
type activityCall struct {
	Activity  string
	Key       string
	TaskQueue string
	Attempt   int32
	At        time.Time // env time at which the attempt started
}

// testEnv is a time-skipping test environment running OrderWorkflow as
// workflow "order-42", with a recorder of the activity attempts it starts and
// of the search attributes it upserts. By default the six activities are
// mocked by fake services that succeed at once; a test changes a fake by
// assigning its field (reserve, charge, ...) and makes an activity take time
// (in env time) with setDelay, before run.
type testEnv struct {
	t   *testing.T
	env *testsuite.TestWorkflowEnvironment
	// start is the env time at which the workflow starts.
	start time.Time

	claim   func(context.Context, orders.ClaimRequest) (orders.Claim, error)
	reserve func(context.Context, inventory.ReserveRequest) (inventory.Reservation, error)
	release func(context.Context, inventory.ReleaseRequest) (inventory.ReleaseResult, error)
	charge  func(context.Context, payment.ChargeRequest) (payment.Charge, error)
	refund  func(context.Context, payment.RefundRequest) (payment.RefundResult, error)
	ship    func(context.Context, shipping.ShipRequest) (shipping.Shipment, error)
	cancel  func(context.Context, shipping.CancelRequest) (shipping.CancelResult, error)

	mu       sync.Mutex
	delays   map[string]time.Duration // activity name → how long each attempt takes (env time)
	calls    []activityCall
	upserts  []upsert
	timers   []time.Duration // durations of the workflow's timers
	requests []any           // every request the fakes received, in order
	metrics  *capturedMetrics
}

// upsert is one call of workflow.UpsertTypedSearchAttributes.
type upsert struct {
	OrderStatus string
	CustomerID  string
}

// newTestEnv returns a test environment whose activities are fakes.
func newTestEnv(t *testing.T) *testEnv {
	h := newBareEnv(t)
	h.claim = func(_ context.Context, req orders.ClaimRequest) (orders.Claim, error) {
		return orders.Claim{OrderID: req.OrderID, WorkflowID: req.WorkflowID, Placement: req.Placement, ClaimedAt: testStart}, nil
	}
	h.reserve = fakeReserve
	h.release = func(_ context.Context, req inventory.ReleaseRequest) (inventory.ReleaseResult, error) {
		return inventory.ReleaseResult{Key: req.Key, Status: inventory.Released, UnitsReturned: 3}, nil
	}
	h.charge = func(_ context.Context, req payment.ChargeRequest) (payment.Charge, error) {
		return payment.Charge{ID: fakeChargeID, Key: req.Key, OrderID: req.OrderID, AmountCents: req.AmountCents, Status: payment.Captured}, nil
	}
	h.refund = func(_ context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
		return payment.RefundResult{Key: req.Key, Status: payment.Refunded, AmountCents: testTotal}, nil
	}
	h.ship = func(_ context.Context, req shipping.ShipRequest) (shipping.Shipment, error) {
		return shipping.Shipment{ID: fakeShipmentID, Key: req.Key, OrderID: req.OrderID, TrackingNumber: fakeTracking, Status: shipping.Created}, nil
	}
	h.cancel = func(_ context.Context, req shipping.CancelRequest) (shipping.CancelResult, error) {
		return shipping.CancelResult{Key: req.Key, Status: shipping.Cancelled}, nil
	}
	mockActivity(h, actClaim, ordersService.ClaimOrderID, &h.claim)
	mockActivity(h, actReserve, inventoryService.ReserveStock, &h.reserve)
	mockActivity(h, actRelease, inventoryService.ReleaseStock, &h.release)
	mockActivity(h, actCharge, paymentService.ChargePayment, &h.charge)
	mockActivity(h, actRefund, paymentService.RefundPayment, &h.refund)
	mockActivity(h, actShip, shippingService.CreateShipment, &h.ship)
	mockActivity(h, actCancel, shippingService.CancelShipment, &h.cancel)
	return h
}

// fakeReserve prices the items at testPrices; an unknown SKU is out of stock.
func fakeReserve(_ context.Context, req inventory.ReserveRequest) (inventory.Reservation, error) {
	res := inventory.Reservation{ID: fakeReservationID, Key: req.Key, OrderID: req.OrderID, Status: inventory.Reserved}
	for _, it := range req.Items {
		price, ok := testPrices[it.SKU]
		if !ok {
			return inventory.Reservation{}, temporal.NewNonRetryableApplicationError("out of stock: "+it.SKU, inventory.OutOfStockError, nil)
		}
		l := inventory.Line{SKU: it.SKU, Name: it.SKU, Qty: it.Qty, UnitPriceCents: price}
		res.Lines = append(res.Lines, l)
		res.TotalCents += l.AmountCents()
	}
	return res, nil
}

// newBareEnv returns a test environment with no activity registered.
func newBareEnv(t *testing.T) *testEnv {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	// Warnings and errors only, shown when a test fails (or with -v).
	suite.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))))
	metrics := newCapturedMetrics()
	suite.SetMetricsHandler(metrics)
	env := suite.NewTestWorkflowEnvironment()
	env.SetTestTimeout(20 * time.Second) // wall time: a stuck workflow fails instead of hanging
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: testWorkflowID})
	// A fixed start in UTC, so that env times compare equal to the times in
	// the (JSON-decoded) order state.
	env.SetStartTime(testStart)
	// The order is listed from its start, as the starter starts it.
	if err := env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes(
		ordersaga.OrderStatusKey.ValueSet(string(Pending)), ordersaga.CustomerIDKey.ValueSet(testCustomer))); err != nil {
		t.Fatal(err)
	}
	Register(env, testConfig) // under its public name, as the order service's worker does

	h := &testEnv{t: t, env: env, start: testStart, delays: map[string]time.Duration{}, metrics: metrics}

	// Each service's activities run only on its own task queue, as in
	// production: an activity sent to the wrong queue fails the test.
	env.SetActivityTaskQueue(ordersaga.InventoryTaskQueue, inventoryService.ReserveStock, inventoryService.ReleaseStock)
	env.SetActivityTaskQueue(ordersaga.PaymentTaskQueue, paymentService.ChargePayment, paymentService.RefundPayment)
	env.SetActivityTaskQueue(ordersaga.ShippingTaskQueue, shippingService.CreateShipment, shippingService.CancelShipment)

	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		var req struct {
			Key string `json:"key"`
		}
		if err := args.Get(&req); err != nil {
			t.Errorf("decode the request of %s: %v", info.ActivityType.Name, err)
		}
		h.mu.Lock()
		defer h.mu.Unlock()
		h.calls = append(h.calls, activityCall{
			Activity: info.ActivityType.Name, Key: req.Key, TaskQueue: info.TaskQueue,
			Attempt: info.Attempt, At: env.Now().UTC(),
		})
	})
	env.SetOnTimerScheduledListener(func(_ string, d time.Duration) {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.timers = append(h.timers, d)
	})
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		sa := args.Get(0).(temporal.SearchAttributes)
		status, _ := sa.GetKeyword(ordersaga.OrderStatusKey)
		customer, _ := sa.GetKeyword(ordersaga.CustomerIDKey)
		h.mu.Lock()
		defer h.mu.Unlock()
		h.upserts = append(h.upserts, upsert{OrderStatus: status, CustomerID: customer})
	}).Return(nil)
	return h
}

// mockActivity mocks one activity with the fake *fn (read when the activity
// runs, so a test may replace it after newTestEnv) and the delay set for it.
func mockActivity[Req, Res any](h *testEnv, name string, activity func(context.Context, Req) (Res, error), fn *func(context.Context, Req) (Res, error)) {
	h.env.OnActivity(activity, mock.Anything, mock.Anything).
		AfterFn(func() time.Duration { return h.delay(name) }).
		Return(func(ctx context.Context, req Req) (Res, error) {
			h.mu.Lock()
			h.requests = append(h.requests, req)
			h.mu.Unlock()
			return (*fn)(ctx, req)
		}).
		Maybe()
}

// setDelay makes every attempt of the activity take d of env time.
func (h *testEnv) setDelay(activity string, d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.delays[activity] = d
}

func (h *testEnv) delay(activity string) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.delays[activity]
}

// at runs fn at start+d in env time.
func (h *testEnv) at(d time.Duration, fn func()) { h.env.RegisterDelayedCallback(fn, d) }

// cancelAt sends the cancel-order signal at start+d.
func (h *testEnv) cancelAt(d time.Duration, reason string) {
	h.at(d, func() { h.env.SignalWorkflow(ordersaga.CancelOrderSignal, CancelRequest{Reason: reason}) })
}

// run runs the order to its end and returns its final state (from the
// result, or from the failure's or cancellation's details) and the
// workflow's error.
func (h *testEnv) run(order Order) (OrderState, error) {
	h.t.Helper()
	h.env.ExecuteWorkflow(ordersaga.OrderWorkflowType, order)
	require.True(h.t, h.env.IsWorkflowCompleted(), "workflow did not complete")
	err := h.env.GetWorkflowError()
	var state OrderState
	if err == nil {
		require.NoError(h.t, h.env.GetWorkflowResult(&state))
		return state, nil
	}
	var appErr *temporal.ApplicationError
	var canceledErr *temporal.CanceledError
	switch {
	case errors.As(err, &appErr):
		if appErr.HasDetails() {
			require.NoError(h.t, appErr.Details(&state), "details of %v", err)
		}
	case errors.As(err, &canceledErr):
		if canceledErr.HasDetails() {
			require.NoError(h.t, canceledErr.Details(&state), "details of %v", err)
		}
	}
	return state, err
}

// runCompleted runs the order and checks that it completed.
func (h *testEnv) runCompleted(order Order) OrderState {
	h.t.Helper()
	state, err := h.run(order)
	require.NoError(h.t, err)
	require.Equal(h.t, Completed, state.Status)
	return state
}

// runFailed runs the order and checks that it ended FAILED: the workflow
// failed with a non-retryable OrderFailed error carrying the state.
func (h *testEnv) runFailed(order Order) OrderState {
	h.t.Helper()
	state, err := h.run(order)
	var appErr *temporal.ApplicationError
	require.ErrorAs(h.t, err, &appErr, "a FAILED order fails the workflow with an application error")
	assert.Equal(h.t, OrderFailedError, appErr.Type())
	assert.True(h.t, appErr.NonRetryable(), "OrderFailed must be non-retryable")
	require.Equal(h.t, Failed, state.Status, "state in the error's details")
	assert.Equal(h.t, state.FailureReason, appErr.Message())
	return state
}

// runCancelled runs the order and checks that it ended CANCELLED: the
// workflow was cancelled with the state in the cancellation's details.
func (h *testEnv) runCancelled(order Order) OrderState {
	h.t.Helper()
	state, err := h.run(order)
	var canceledErr *temporal.CanceledError
	require.ErrorAs(h.t, err, &canceledErr, "a CANCELLED order ends the workflow cancelled")
	require.Equal(h.t, Cancelled, state.Status, "state in the cancellation's details")
	return state
}

// attempts lists the activity attempts started, as "Activity key" (with
// "#n" for a retry), in the order they started.
func (h *testEnv) attempts() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := []string{}
	for _, c := range h.calls {
		s := c.Activity + " " + c.Key
		if c.Attempt > 1 {
			s += fmt.Sprintf(" #%d", c.Attempt)
		}
		out = append(out, s)
	}
	return out
}

// callsOf returns the attempts of one activity.
func (h *testEnv) callsOf(activity string) []activityCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []activityCall
	for _, c := range h.calls {
		if c.Activity == activity {
			out = append(out, c)
		}
	}
	return out
}

// upsertedStatuses lists the OrderStatus values upserted, in order.
func (h *testEnv) upsertedStatuses() []Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Status
	for _, u := range h.upserts {
		out = append(out, Status(u.OrderStatus))
	}
	return out
}

// customersUpserted lists the CustomerId values upserted, in order.
func (h *testEnv) customersUpserted() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, u := range h.upserts {
		out = append(out, u.CustomerID)
	}
	return out
}

// compensationsRun lists the state's compensations as "name key".
func compensationsRun(s OrderState) []string {
	out := []string{}
	for _, c := range s.Compensations {
		out = append(out, c.Name+" "+c.Key)
	}
	return out
}

// stepsDone lists the state's steps as "name key ok|stopped|failed".
func stepsDone(s OrderState) []string {
	out := []string{}
	for _, st := range s.Steps {
		outcome := "ok"
		if !st.OK {
			outcome = "not ok"
		}
		out = append(out, fmt.Sprintf("%s %s %s", st.Name, st.Key, outcome))
	}
	return out
}

// transitions lists the statuses the order went through.
func transitions(s OrderState) []Status {
	out := []Status{}
	for _, tr := range s.Transitions {
		out = append(out, tr.Status)
	}
	return out
}

// requestsOf returns the requests of type T that the fakes received.
func requestsOf[T any](h *testEnv) []T {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []T
	for _, r := range h.requests {
		if req, ok := r.(T); ok {
			out = append(out, req)
		}
	}
	return out
}

// timersScheduled returns the durations of the workflow's timers.
func (h *testEnv) timersScheduled() []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]time.Duration(nil), h.timers...)
}

// services are the real services' stores behind a test environment made by
// newServicesEnv.
type services struct {
	orders    *orders.Store
	inventory *inventory.Store
	payment   *payment.Store
	shipping  *shipping.Store
}

// newServicesEnv returns a test environment that runs the real activities
// over real SQLite stores in a temporary directory.
func newServicesEnv(t *testing.T) (*testEnv, services) {
	t.Helper()
	h := newBareEnv(t)
	dir := t.TempDir()
	var s services
	var err error
	s.orders, err = orders.Open(t.Context(), filepath.Join(dir, orders.DatabaseFile))
	require.NoError(t, err)
	t.Cleanup(func() { s.orders.Close() })
	s.inventory, err = inventory.Open(t.Context(), filepath.Join(dir, inventory.DatabaseFile))
	require.NoError(t, err)
	t.Cleanup(func() { s.inventory.Close() })
	s.payment, err = payment.Open(t.Context(), filepath.Join(dir, payment.DatabaseFile))
	require.NoError(t, err)
	t.Cleanup(func() { s.payment.Close() })
	s.shipping, err = shipping.Open(t.Context(), filepath.Join(dir, shipping.DatabaseFile))
	require.NoError(t, err)
	t.Cleanup(func() { s.shipping.Close() })

	h.env.RegisterActivity(&orders.Activities{Store: s.orders})
	h.env.RegisterActivity(&inventory.Activities{Store: s.inventory})
	h.env.RegisterActivity(&payment.Activities{Store: s.payment})
	h.env.RegisterActivity(&shipping.Activities{Store: s.shipping})
	return h, s
}

// storesState is what the stores hold, in a form a test can compare.
type storesState struct {
	OnHand       map[string]int // SKU → stock on hand
	Reservations []string       // "key status"
	Charges      []string       // "key status amount"
	Shipments    []string       // "key status"
}

func (s services) state(t *testing.T) storesState {
	t.Helper()
	ctx := t.Context()
	out := storesState{OnHand: map[string]int{}, Reservations: []string{}, Charges: []string{}, Shipments: []string{}}
	products, err := s.inventory.Products(ctx)
	require.NoError(t, err)
	for _, p := range products {
		out.OnHand[p.SKU] = p.OnHand
	}
	reservations, err := s.inventory.Reservations(ctx)
	require.NoError(t, err)
	for _, r := range reservations {
		out.Reservations = append(out.Reservations, r.Key+" "+r.Status)
	}
	charges, err := s.payment.Charges(ctx)
	require.NoError(t, err)
	for _, c := range charges {
		out.Charges = append(out.Charges, fmt.Sprintf("%s %s %d", c.Key, c.Status, c.AmountCents))
	}
	shipments, err := s.shipping.Shipments(ctx)
	require.NoError(t, err)
	for _, sh := range shipments {
		out.Shipments = append(out.Shipments, sh.Key+" "+sh.Status)
	}
	return out
}
