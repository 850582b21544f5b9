package workflows

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
)

// Activity attempts and compensations as the recorder and the state list
// them, for the expected values below.
const (
	callReserve = actReserve + " " + keyReserve
	callRelease = actRelease + " " + keyReserve
	callCharge  = actCharge + " " + keyCharge
	callRefund  = actRefund + " " + keyCharge
	callShip    = actShip + " " + keyShip
	callCancel  = actCancel + " " + keyShip

	undoRelease = CompensateRelease + " " + keyReserve
	undoRefund  = CompensateRefund + " " + keyCharge
	undoCancel  = CompensateCancelShipment + " " + keyShip
)

func TestOrderCompletesAfterReservingChargingAndShipping(t *testing.T) {
	h := newTestEnv(t)

	state := h.runCompleted(testOrder())

	assert.Equal(t, []string{callReserve, callCharge, callShip}, h.attempts(), "activities called")
	assert.Equal(t, []string{ordersaga.InventoryTaskQueue, ordersaga.PaymentTaskQueue, ordersaga.ShippingTaskQueue},
		[]string{h.callsOf(actReserve)[0].TaskQueue, h.callsOf(actCharge)[0].TaskQueue, h.callsOf(actShip)[0].TaskQueue})

	reserve := requestsOf[inventory.ReserveRequest](h)
	require.Len(t, reserve, 1)
	assert.Equal(t, inventory.ReserveRequest{Key: keyReserve, OrderID: testOrderID, Placement: testPlacement, Items: testOrder().Items}, reserve[0])
	charge := requestsOf[payment.ChargeRequest](h)
	require.Len(t, charge, 1)
	assert.Equal(t, payment.ChargeRequest{Key: keyCharge, OrderID: testOrderID, Placement: testPlacement, AmountCents: testTotal, Token: payment.TokenVisa}, charge[0],
		"charges the total the inventory service priced")
	ship := requestsOf[shipping.ShipRequest](h)
	require.Len(t, ship, 1)
	assert.Equal(t, shipping.ShipRequest{Key: keyShip, OrderID: testOrderID, Placement: testPlacement, Address: testOrder().Address,
		Items: []shipping.Parcel{{SKU: "BOOK-GOPL", Qty: 2}, {SKU: "MUG-GOPHER", Qty: 1}}}, ship[0])

	assert.Equal(t, testOrderID, state.OrderID)
	assert.Equal(t, testWorkflowID, state.WorkflowID)
	assert.Equal(t, testCustomer, state.CustomerID)
	assert.Equal(t, testTotal, state.TotalCents)
	assert.Len(t, state.Lines, 2)
	assert.Equal(t, fakeReservationID, state.ReservationID)
	assert.Equal(t, fakeChargeID, state.ChargeID)
	assert.Equal(t, fakeShipmentID, state.ShipmentID)
	assert.Equal(t, fakeTracking, state.TrackingNumber)
	assert.Equal(t, []string{
		stepClaimed,
		"reserve order-42/reserve ok",
		"charge order-42/charge ok",
		"cancel-window  ok",
		"ship order-42/ship ok",
	}, stepsDone(state))
	assert.Empty(t, state.Compensations)
	assert.Empty(t, state.FailureReason)
	assert.Empty(t, state.CancelReason)
	assert.Empty(t, state.CancelledBy)
	assert.Empty(t, state.RefusedCancels)
	assert.Equal(t, []Status{Pending, Reserving, Charging, AwaitingFulfillment, Shipping, Completed}, transitions(state))
	assert.Equal(t, h.start, state.StartedAt)
	assert.Equal(t, h.start.Add(testWindow), state.EndedAt, "ends when the shipment is created, after the window")
}

func TestFailedStepUndoesTheStartedStepsNewestFirst(t *testing.T) {
	boom := func(service string) error {
		return temporal.NewNonRetryableApplicationError(service+" is broken", "Broken", nil)
	}
	tests := []struct {
		name              string
		breakStep         func(h *testEnv)
		wantCalls         []string
		wantCompensations []string
		wantReason        string
		wantTransitions   []Status
	}{
		{
			name: "reserve",
			breakStep: func(h *testEnv) {
				h.reserve = func(context.Context, inventory.ReserveRequest) (inventory.Reservation, error) {
					return inventory.Reservation{}, boom("inventory")
				}
			},
			wantCalls:         []string{callReserve, callRelease},
			wantCompensations: []string{undoRelease},
			wantReason:        "reserve failed: inventory is broken",
			wantTransitions:   []Status{Pending, Reserving, Compensating, Failed},
		},
		{
			name: "charge",
			breakStep: func(h *testEnv) {
				h.charge = func(context.Context, payment.ChargeRequest) (payment.Charge, error) {
					return payment.Charge{}, boom("payment")
				}
			},
			wantCalls:         []string{callReserve, callCharge, callRefund, callRelease},
			wantCompensations: []string{undoRefund, undoRelease},
			wantReason:        "charge failed: payment is broken",
			wantTransitions:   []Status{Pending, Reserving, Charging, Compensating, Failed},
		},
		{
			name: "ship",
			breakStep: func(h *testEnv) {
				h.ship = func(context.Context, shipping.ShipRequest) (shipping.Shipment, error) {
					return shipping.Shipment{}, boom("shipping")
				}
			},
			wantCalls:         []string{callReserve, callCharge, callShip, callCancel, callRefund, callRelease},
			wantCompensations: []string{undoCancel, undoRefund, undoRelease},
			wantReason:        "ship failed: shipping is broken",
			wantTransitions:   []Status{Pending, Reserving, Charging, AwaitingFulfillment, Shipping, Compensating, Failed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			tt.breakStep(h)

			state := h.runFailed(testOrder())

			assert.Equal(t, tt.wantCalls, h.attempts(), "activities called; none after the failed step")
			assert.Equal(t, tt.wantCompensations, compensationsRun(state))
			assert.Equal(t, tt.wantReason, state.FailureReason)
			assert.Equal(t, tt.wantTransitions, transitions(state))
			require.NotEmpty(t, state.Steps)
			last := state.Steps[len(state.Steps)-1]
			assert.Equal(t, tt.name, last.Name, "the failed step is recorded")
			assert.False(t, last.OK)
			assert.Equal(t, tt.wantReason, last.Detail)
			assert.Empty(t, state.CancelledBy)
			assert.Empty(t, state.ShipmentID)
		})
	}
}

func TestBusinessFailuresCarryTheServiceMessage(t *testing.T) {
	tests := []struct {
		name       string
		breakStep  func(h *testEnv)
		wantType   string
		wantReason string
		wantCalls  []string
	}{
		{
			name: "out of stock",
			breakStep: func(h *testEnv) {
				h.reserve = func(context.Context, inventory.ReserveRequest) (inventory.Reservation, error) {
					return inventory.Reservation{}, temporal.NewNonRetryableApplicationError(
						"out of stock: LAMP-LIMITED has 3 on hand, order needs 5", inventory.OutOfStockError, nil)
				}
			},
			wantType:   inventory.OutOfStockError,
			wantReason: "reserve failed: out of stock: LAMP-LIMITED has 3 on hand, order needs 5",
			wantCalls:  []string{callReserve, callRelease},
		},
		{
			name: "payment declined",
			breakStep: func(h *testEnv) {
				h.charge = func(context.Context, payment.ChargeRequest) (payment.Charge, error) {
					return payment.Charge{}, temporal.NewNonRetryableApplicationError(
						"payment declined: card was declined by the issuer", payment.DeclinedError, nil)
				}
			},
			wantType:   payment.DeclinedError,
			wantReason: "charge failed: payment declined: card was declined by the issuer",
			wantCalls:  []string{callReserve, callCharge, callRefund, callRelease},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			tt.breakStep(h)

			state, err := h.run(testOrder())

			var orderFailed *temporal.ApplicationError
			require.ErrorAs(t, err, &orderFailed)
			assert.Equal(t, OrderFailedError, orderFailed.Type())
			var cause *temporal.ApplicationError
			require.ErrorAs(t, orderFailed.Unwrap(), &cause, "the step's error is the cause")
			assert.Equal(t, tt.wantType, cause.Type())

			assert.Equal(t, Failed, state.Status)
			assert.Equal(t, tt.wantReason, state.FailureReason)
			assert.Equal(t, tt.wantCalls, h.attempts(), "a business failure is not retried")
		})
	}
}

// cancelCases are the states an order can be cancelled in: the cancel
// arrives at start+at, while the slow activity (which takes slowFor) runs.
var cancelCases = []struct {
	state             Status
	slow              string // activity running when the cancel arrives, if any
	at                time.Duration
	wantCalls         []string
	wantCompensations []string
	wantSteps         []string
	wantTransitions   []Status
}{
	{
		state:             Reserving,
		slow:              actReserve,
		at:                time.Second,
		wantCalls:         []string{callReserve, callRelease},
		wantCompensations: []string{undoRelease},
		wantSteps:         []string{stepClaimed, "reserve order-42/reserve not ok"},
		wantTransitions:   []Status{Pending, Reserving, Compensating, Cancelled},
	},
	{
		state:             Charging,
		slow:              actCharge,
		at:                time.Second,
		wantCalls:         []string{callReserve, callCharge, callRefund, callRelease},
		wantCompensations: []string{undoRefund, undoRelease},
		wantSteps:         []string{stepClaimed, "reserve order-42/reserve ok", "charge order-42/charge not ok"},
		wantTransitions:   []Status{Pending, Reserving, Charging, Compensating, Cancelled},
	},
	{
		state:             AwaitingFulfillment,
		at:                testWindow / 2,
		wantCalls:         []string{callReserve, callCharge, callRefund, callRelease},
		wantCompensations: []string{undoRefund, undoRelease},
		wantSteps:         []string{stepClaimed, "reserve order-42/reserve ok", "charge order-42/charge ok"},
		wantTransitions:   []Status{Pending, Reserving, Charging, AwaitingFulfillment, Compensating, Cancelled},
	},
	{
		state:             Shipping,
		slow:              actShip,
		at:                testWindow + time.Second,
		wantCalls:         []string{callReserve, callCharge, callShip, callCancel, callRefund, callRelease},
		wantCompensations: []string{undoCancel, undoRefund, undoRelease},
		wantSteps:         []string{stepClaimed, "reserve order-42/reserve ok", "charge order-42/charge ok", "cancel-window  ok", "ship order-42/ship not ok"},
		wantTransitions:   []Status{Pending, Reserving, Charging, AwaitingFulfillment, Shipping, Compensating, Cancelled},
	},
}

// slowFor is how long the running activity would take: longer than the
// cancel takes to arrive, shorter than its start-to-close timeout.
const slowFor = 5 * time.Second

func TestCancelUndoesTheStartedStepsInEveryState(t *testing.T) {
	cancellers := []struct {
		by         string
		cancelAt   func(h *testEnv, at time.Duration)
		wantReason string
	}{
		{
			by:         CancelledBySignal,
			cancelAt:   func(h *testEnv, at time.Duration) { h.cancelAt(at, "changed my mind") },
			wantReason: "changed my mind",
		},
		{
			by:         CancelledByTemporal,
			cancelAt:   func(h *testEnv, at time.Duration) { h.at(at, h.env.CancelWorkflow) },
			wantReason: "cancellation requested through Temporal",
		},
	}
	for _, c := range cancellers {
		for _, tt := range cancelCases {
			t.Run(c.by+"/"+string(tt.state), func(t *testing.T) {
				h := newTestEnv(t)
				if tt.slow != "" {
					h.setDelay(tt.slow, slowFor)
				}
				c.cancelAt(h, tt.at)

				state := h.runCancelled(testOrder())

				assert.Equal(t, c.by, state.CancelledBy)
				assert.Equal(t, c.wantReason, state.CancelReason)
				assert.Empty(t, state.FailureReason)
				assert.Equal(t, tt.wantCalls, h.attempts(), "activities called; none after the cancelled step")
				assert.Equal(t, tt.wantCompensations, compensationsRun(state), "the started steps undone, newest first")
				assert.Equal(t, tt.wantSteps, stepsDone(state))
				assert.Equal(t, tt.wantTransitions, transitions(state))
				assert.Empty(t, state.ShipmentID)
				assert.Empty(t, state.RefusedCancels)

				// The order did not wait for the running activity: it
				// compensated and ended when the cancel arrived.
				cancelledAt := h.start.Add(tt.at)
				assert.Equal(t, cancelledAt, state.EndedAt)
				for _, comp := range state.Compensations {
					assert.Equal(t, cancelledAt, comp.At, "%s ran when the cancel arrived", comp.Name)
				}
				if tt.slow != "" {
					last := state.Steps[len(state.Steps)-1]
					assert.Equal(t, "stopped by the cancel", last.Detail)
					assert.True(t, state.EndedAt.Before(h.callsOf(tt.slow)[0].At.Add(slowFor)),
						"ended at %s, before %s would have returned", state.EndedAt.Sub(h.start), tt.slow)
				}
			})
		}
	}
}

func TestCancelArrivingWithTheShipmentIsRefused(t *testing.T) {
	h := newTestEnv(t)
	// The cancel reaches the workflow in the same workflow task as the
	// shipment's result: the fake delivers it, without a workflow task of
	// its own, just before it returns the shipment.
	ship := h.ship
	h.ship = func(ctx context.Context, req shipping.ShipRequest) (shipping.Shipment, error) {
		h.env.SignalWorkflowSkippingWorkflowTask(ordersaga.CancelOrderSignal, CancelRequest{Reason: "too late"})
		return ship(ctx, req)
	}

	state := h.runCompleted(testOrder())

	require.Len(t, state.RefusedCancels, 1, "the cancel is answered before the order ends")
	assert.Equal(t, "too late", state.RefusedCancels[0].Reason)
	assert.Equal(t, "shipment "+fakeShipmentID+" was already created, tracking number "+fakeTracking, state.RefusedCancels[0].Why)
	assert.Equal(t, h.start.Add(testWindow), state.RefusedCancels[0].At)
	assert.Empty(t, state.Compensations)
	assert.Equal(t, []string{callReserve, callCharge, callShip}, h.attempts(), "nothing undone")
	assert.Empty(t, state.CancelledBy)
	assert.Empty(t, state.CancelReason)
	assert.Equal(t, fakeTracking, state.TrackingNumber)
}

func TestCancelWhileCompensatingIsRefused(t *testing.T) {
	t.Run("second cancel", func(t *testing.T) {
		h := newTestEnv(t)
		h.setDelay(actRefund, slowFor)
		h.cancelAt(10*time.Second, "first")
		h.cancelAt(12*time.Second, "second") // while the refund runs

		state := h.runCancelled(testOrder())

		assert.Equal(t, CancelledBySignal, state.CancelledBy)
		assert.Equal(t, "first", state.CancelReason)
		require.Len(t, state.RefusedCancels, 1)
		assert.Equal(t, "second", state.RefusedCancels[0].Reason)
		assert.Equal(t, "the order is already COMPENSATING", state.RefusedCancels[0].Why)
		assert.Equal(t, h.start.Add(12*time.Second), state.RefusedCancels[0].At)
		assert.Equal(t, []string{undoRefund, undoRelease}, compensationsRun(state), "each compensation ran once")
		assert.Equal(t, []string{callReserve, callCharge, callRefund, callRelease}, h.attempts())
	})
	t.Run("cancel of a failed order", func(t *testing.T) {
		h := newTestEnv(t)
		h.charge = func(context.Context, payment.ChargeRequest) (payment.Charge, error) {
			return payment.Charge{}, temporal.NewNonRetryableApplicationError("payment declined", payment.DeclinedError, nil)
		}
		h.setDelay(actRefund, slowFor)
		h.cancelAt(2*time.Second, "changed my mind") // while the refund runs

		state := h.runFailed(testOrder())

		assert.Empty(t, state.CancelledBy, "the failure decides how the order ends")
		assert.Empty(t, state.CancelReason)
		require.Len(t, state.RefusedCancels, 1)
		assert.Equal(t, "changed my mind", state.RefusedCancels[0].Reason)
		assert.Equal(t, "the order already failed: charge failed: payment declined", state.RefusedCancels[0].Why)
		assert.Equal(t, []string{undoRefund, undoRelease}, compensationsRun(state))
	})
	t.Run("cancel arriving with the failure", func(t *testing.T) {
		h := newTestEnv(t)
		// The cancel reaches the workflow in the same workflow task as the
		// failed charge: the failure came first, so it decides.
		h.charge = func(context.Context, payment.ChargeRequest) (payment.Charge, error) {
			h.env.SignalWorkflowSkippingWorkflowTask(ordersaga.CancelOrderSignal, CancelRequest{Reason: "changed my mind"})
			return payment.Charge{}, temporal.NewNonRetryableApplicationError("payment declined", payment.DeclinedError, nil)
		}

		state := h.runFailed(testOrder())

		assert.Empty(t, state.CancelledBy)
		assert.Equal(t, "charge failed: payment declined", state.FailureReason)
		require.Len(t, state.RefusedCancels, 1)
		assert.Equal(t, "the order already failed: charge failed: payment declined", state.RefusedCancels[0].Why)
		assert.Equal(t, []string{undoRefund, undoRelease}, compensationsRun(state))
	})
}

func TestTransientChargeErrorsAreRetried(t *testing.T) {
	h := newTestEnv(t)
	charge := h.charge
	h.charge = func(ctx context.Context, req payment.ChargeRequest) (payment.Charge, error) {
		if attempt := activity.GetInfo(ctx).Attempt; attempt <= 2 {
			return payment.Charge{}, fmt.Errorf("card gateway unavailable: timed out on attempt %d", attempt)
		}
		return charge(ctx, req)
	}

	state := h.runCompleted(testOrder())

	assert.Equal(t, []string{callReserve, callCharge, callCharge + " #2", callCharge + " #3", callShip}, h.attempts())
	charges := h.callsOf(actCharge)
	require.Len(t, charges, 3)
	assert.Equal(t, stepOptions.RetryPolicy.InitialInterval, charges[1].At.Sub(charges[0].At), "first backoff")
	assert.Equal(t, 2*stepOptions.RetryPolicy.InitialInterval, charges[2].At.Sub(charges[1].At), "second backoff")
	assert.Empty(t, state.Compensations)
	assert.Equal(t, fakeChargeID, state.ChargeID)
	assert.Contains(t, stepsDone(state), "charge order-42/charge ok")
}

func TestCompensationThatFailsIsRetriedUntilItSucceeds(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(h *testEnv)
		run       func(h *testEnv) OrderState
		wantCalls []string
	}{
		{
			name: "order failed",
			setup: func(h *testEnv) {
				h.ship = func(context.Context, shipping.ShipRequest) (shipping.Shipment, error) {
					return shipping.Shipment{}, temporal.NewNonRetryableApplicationError("address is undeliverable", shipping.UndeliverableError, nil)
				}
			},
			run: func(h *testEnv) OrderState { return h.runFailed(testOrder()) },
			wantCalls: []string{callReserve, callCharge, callShip, callCancel,
				callRefund, callRefund + " #2", callRefund + " #3", callRelease},
		},
		{
			name:  "order cancelled",
			setup: func(h *testEnv) { h.cancelAt(testWindow/2, "changed my mind") },
			run:   func(h *testEnv) OrderState { return h.runCancelled(testOrder()) },
			wantCalls: []string{callReserve, callCharge,
				callRefund, callRefund + " #2", callRefund + " #3", callRelease},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			tt.setup(h)
			refund := h.refund
			h.refund = func(ctx context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
				if activity.GetInfo(ctx).Attempt <= 2 {
					return payment.RefundResult{}, errors.New("payment database is locked")
				}
				return refund(ctx, req)
			}

			state := tt.run(h)

			assert.Equal(t, tt.wantCalls, h.attempts(), "the refund is retried, and the release waits for it")
			comps := compensationsRun(state)
			require.GreaterOrEqual(t, len(comps), 2)
			assert.Equal(t, []string{undoRefund, undoRelease}, comps[len(comps)-2:], "refund recorded once, then the release")
			refunds := h.callsOf(actRefund)
			assert.Equal(t, refunds[len(refunds)-1].At, state.Compensations[len(comps)-2].At, "recorded when it succeeded")
		})
	}
}

func TestStatusQueryAnswersWhileTheOrderRuns(t *testing.T) {
	h := newTestEnv(t)
	var during OrderState
	var queryErr error
	h.at(testWindow/2, func() {
		v, err := h.env.QueryWorkflow(ordersaga.OrderStatusQuery)
		if err == nil {
			err = v.Get(&during)
		}
		queryErr = err
	})

	h.runCompleted(testOrder())

	require.NoError(t, queryErr)
	assert.Equal(t, AwaitingFulfillment, during.Status)
	assert.Equal(t, testOrderID, during.OrderID)
	assert.Equal(t, testTotal, during.TotalCents)
	assert.Equal(t, fakeReservationID, during.ReservationID)
	assert.Equal(t, fakeChargeID, during.ChargeID)
	assert.Empty(t, during.ShipmentID)
	assert.Equal(t, h.start.Add(testWindow), during.CancelWindowEndsAt)
	assert.Equal(t, []string{stepClaimed, "reserve order-42/reserve ok", "charge order-42/charge ok"}, stepsDone(during))
	assert.True(t, during.EndedAt.IsZero())
}

// The OrderStatus search attribute shows every status an order can rest
// in, and no brief forward step: each write is a write to Temporal's
// visibility store. CustomerId is written once, at start, by the starter.
func TestSearchAttributesShowRestingStatuses(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		setup  func(h *testEnv)
		want   []Status
	}{
		{
			name:   "completed",
			window: testWindow,
			setup:  func(*testEnv) {},
			want:   []Status{AwaitingFulfillment, Completed},
		},
		{
			name:   "completed without a cancel window",
			window: 0,
			setup:  func(*testEnv) {},
			want:   []Status{Completed},
		},
		{
			name:   "failed",
			window: testWindow,
			setup: func(h *testEnv) {
				h.charge = func(context.Context, payment.ChargeRequest) (payment.Charge, error) {
					return payment.Charge{}, temporal.NewNonRetryableApplicationError("declined", payment.DeclinedError, nil)
				}
			},
			want: []Status{Compensating, Failed},
		},
		{
			name:   "cancelled",
			window: testWindow,
			setup:  func(h *testEnv) { h.cancelAt(testWindow/2, "changed my mind") },
			want:   []Status{AwaitingFulfillment, Compensating, Cancelled},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			tt.setup(h)
			order := testOrder()
			order.CancelWindow = Duration(tt.window)

			h.run(order)

			assert.Equal(t, tt.want, h.upsertedStatuses())
			for _, customer := range h.customersUpserted() {
				assert.Empty(t, customer, "CustomerId is not written again")
			}
		})
	}
}

// An order started without its search attributes (from the Web UI or the
// Temporal CLI) writes PENDING and its customer itself, once, first.
func TestOrderStartedUnlistedListsItself(t *testing.T) {
	h := newTestEnv(t)
	require.NoError(t, h.env.SetTypedSearchAttributesOnStart(temporal.NewSearchAttributes()))

	h.runCompleted(testOrder())

	assert.Equal(t, []Status{Pending, AwaitingFulfillment, Completed}, h.upsertedStatuses())
	assert.Equal(t, []string{testCustomer, "", ""}, h.customersUpserted())
}

func TestCancelWindow(t *testing.T) {
	tests := []struct {
		name       string
		window     time.Duration
		wantTimers []time.Duration
	}{
		{name: "zero ships at once without a timer", window: 0, wantTimers: nil},
		{name: "ships when the window ends", window: 90 * time.Second, wantTimers: []time.Duration{90 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			order := testOrder()
			order.CancelWindow = Duration(tt.window)

			state := h.runCompleted(order)

			assert.Equal(t, tt.wantTimers, h.timersScheduled())
			ships := h.callsOf(actShip)
			require.Len(t, ships, 1)
			assert.Equal(t, h.start.Add(tt.window), ships[0].At, "the shipment starts when the window ends")
			assert.Equal(t, h.start.Add(tt.window), state.CancelWindowEndsAt)
			assert.Contains(t, stepsDone(state), "cancel-window  ok")
		})
	}
}

func TestInvalidOrderFailsWithoutCallingAnyService(t *testing.T) {
	tests := []struct {
		name   string
		change func(o *Order)
		want   string
	}{
		{"empty order ID", func(o *Order) { o.ID = "" }, "order ID is empty"},
		{"order ID with a slash", func(o *Order) { o.ID = "42/x" }, `order ID "42/x" has '/'`},
		{"empty customer", func(o *Order) { o.CustomerID = " " }, "customer is empty"},
		{"no items", func(o *Order) { o.Items = nil }, "order has no items"},
		{"zero quantity", func(o *Order) { o.Items[0].Qty = 0 }, "quantity of BOOK-GOPL is 0"},
		{"duplicate SKU", func(o *Order) { o.Items[1].SKU = o.Items[0].SKU }, "SKU BOOK-GOPL is listed twice"},
		{"empty payment token", func(o *Order) { o.PaymentToken = "" }, "payment token is empty"},
		{"empty address", func(o *Order) { o.Address = "" }, "address is empty"},
		{"negative cancel window", func(o *Order) { o.CancelWindow = Duration(-time.Second) }, "cancel window -1s is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			order := testOrder()
			tt.change(&order)

			state := h.runFailed(order)

			assert.True(t, strings.HasPrefix(state.FailureReason, "invalid order: "), state.FailureReason)
			assert.Contains(t, state.FailureReason, tt.want)
			assert.Empty(t, h.attempts(), "no service is called")
			assert.Empty(t, state.Compensations)
			assert.Empty(t, state.Steps)
			assert.Equal(t, []Status{Pending, Failed}, transitions(state))
			assert.Equal(t, []Status{Failed}, h.upsertedStatuses())
		})
	}
}

// TestOrderStartedBeforeStrictFieldsKeepsTheOldRules: an order whose
// history says it started before strictFieldsVersion is validated as it was
// then, so it replays as it ran; a new order with the same customer ID is
// refused at once.
func TestOrderStartedBeforeStrictFieldsKeepsTheOldRules(t *testing.T) {
	order := testOrder()
	order.CustomerID = "alice@example.com"

	old := newTestEnv(t)
	old.env.OnGetVersion(orderRulesChange, workflow.DefaultVersion, placementsVersion).Return(workflow.DefaultVersion)
	state := old.runCompleted(order)
	assert.Equal(t, "alice@example.com", state.CustomerID)

	state = newTestEnv(t).runFailed(order)
	assert.Contains(t, state.FailureReason, `invalid order: customer ID "alice@example.com" has '@'`)
}

// The whole saga over the real services and their SQLite stores: what the
// stores hold after the order ended is the proof that nothing was lost.
func TestWithRealServicesTheStoresMatchTheOutcome(t *testing.T) {
	const total = "9297" // 2 × 39.99 + 1 × 12.99, from the catalog
	tests := []struct {
		name   string
		change func(o *Order)
		// seed writes what an earlier placement of the order ID left in
		// the stores, before the test reads them.
		seed       func(t *testing.T, s services)
		setup      func(h *testEnv)
		wantStatus Status
		wantReason []string // parts of the failure reason
		wantTaken  map[string]int
		want       storesState // but OnHand
		wantCalls  []string
	}{
		{
			name:       "completed",
			wantStatus: Completed,
			wantTaken:  map[string]int{"BOOK-GOPL": 2, "MUG-GOPHER": 1},
			want: storesState{
				Reservations: []string{keyReserve + " reserved"},
				Charges:      []string{keyCharge + " captured " + total},
				Shipments:    []string{keyShip + " created"},
			},
			wantCalls: []string{callReserve, callCharge, callShip},
		},
		{
			name:       "completed after the card gateway timed out twice",
			change:     func(o *Order) { o.PaymentToken = payment.TokenFlaky },
			wantStatus: Completed,
			wantTaken:  map[string]int{"BOOK-GOPL": 2, "MUG-GOPHER": 1},
			want: storesState{
				Reservations: []string{keyReserve + " reserved"},
				Charges:      []string{keyCharge + " captured " + total},
				Shipments:    []string{keyShip + " created"},
			},
			wantCalls: []string{callReserve, callCharge, callCharge + " #2", callCharge + " #3", callShip},
		},
		{
			name:       "cancelled in the window",
			setup:      func(h *testEnv) { h.cancelAt(testWindow/2, "changed my mind") },
			wantStatus: Cancelled,
			want: storesState{
				Reservations: []string{keyReserve + " released"},
				Charges:      []string{keyCharge + " refunded " + total},
				Shipments:    []string{},
			},
			wantCalls: []string{callReserve, callCharge, callRefund, callRelease},
		},
		{
			name:       "card declined",
			change:     func(o *Order) { o.PaymentToken = payment.TokenDeclined },
			wantStatus: Failed,
			wantReason: []string{"charge failed", "payment declined"},
			want: storesState{
				Reservations: []string{keyReserve + " released"},
				Charges:      []string{keyCharge + " declined " + total},
				Shipments:    []string{},
			},
			wantCalls: []string{callReserve, callCharge, callRefund, callRelease},
		},
		{
			name:       "out of stock",
			change:     func(o *Order) { o.Items = []inventory.Item{{SKU: "LAMP-LIMITED", Qty: 5}} },
			wantStatus: Failed,
			wantReason: []string{"reserve failed", "out of stock", "LAMP-LIMITED"},
			want: storesState{
				Reservations: []string{keyReserve + " voided"},
				Charges:      []string{},
				Shipments:    []string{},
			},
			wantCalls: []string{callReserve, callRelease},
		},
		{
			name:       "undeliverable address",
			change:     func(o *Order) { o.Address = "1 Undeliverable Lane" },
			wantStatus: Failed,
			wantReason: []string{"ship failed", "undeliverable"},
			want: storesState{
				Reservations: []string{keyReserve + " released"},
				Charges:      []string{keyCharge + " refunded " + total},
				Shipments:    []string{keyShip + " voided"},
			},
			wantCalls: []string{callReserve, callCharge, callShip, callCancel, callRefund, callRelease},
		},
		{
			name:       "order ID claimed by an earlier placement",
			seed:       seedEarlierPlacement(true),
			wantStatus: Failed,
			wantReason: []string{"claim failed", `order ID "42" already used`, "order IDs cannot be reused"},
			want:       earlierPlacementRecords(total),
			wantCalls:  []string{},
		},
		{
			// An order ID used before the register existed: the claim
			// passes, the first step finds its key held by the earlier
			// placement, and nothing of the earlier order is undone.
			name:       "keys held by an earlier placement the register never saw",
			seed:       seedEarlierPlacement(false),
			wantStatus: Failed,
			wantReason: []string{"reserve failed", "belongs to another placement", "order IDs cannot be reused"},
			want:       earlierPlacementRecords(total),
			wantCalls:  []string{callReserve},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, stores := newServicesEnv(t)
			if tt.seed != nil {
				tt.seed(t, stores)
			}
			before := stores.state(t)
			order := testOrder()
			if tt.change != nil {
				tt.change(&order)
			}
			if tt.setup != nil {
				tt.setup(h)
			}

			state, _ := h.run(order)

			require.Equal(t, tt.wantStatus, state.Status, "failure: %s", state.FailureReason)
			for _, part := range tt.wantReason {
				assert.Contains(t, state.FailureReason, part)
			}
			assert.Equal(t, tt.wantCalls, h.attempts())

			after := stores.state(t)
			tt.want.OnHand = map[string]int{}
			for sku, n := range before.OnHand {
				tt.want.OnHand[sku] = n - tt.wantTaken[sku]
			}
			assert.Equal(t, tt.want, after)

			if tt.wantStatus == Completed {
				assert.Equal(t, int64(9297), state.TotalCents)
				charge, found, err := stores.payment.ChargeByKey(t.Context(), keyCharge)
				require.NoError(t, err)
				require.True(t, found)
				assert.Equal(t, state.TotalCents, charge.AmountCents, "the captured charge is the order's total")
				assert.Equal(t, state.ChargeID, charge.ID)
				shipment, found, err := stores.shipping.ShipmentByKey(t.Context(), keyShip)
				require.NoError(t, err)
				require.True(t, found)
				assert.Equal(t, state.TrackingNumber, shipment.TrackingNumber)
				assert.Equal(t, state.ShipmentID, shipment.ID)
				assert.Equal(t, []string{testPlacement, testPlacement}, []string{charge.Placement, shipment.Placement},
					"every record carries the placement that wrote it")
			}
		})
	}
}

// earlierPlacement is a placement of order 42 other than the test's.
const earlierPlacement = "earlier-placement"

// seedEarlierPlacement leaves in the stores a completed order 42 of
// earlierPlacement, claimed in the register when claimed is set.
func seedEarlierPlacement(claimed bool) func(t *testing.T, s services) {
	return func(t *testing.T, s services) {
		ctx := t.Context()
		if claimed {
			_, err := s.orders.Claim(ctx, orders.ClaimRequest{OrderID: testOrderID, WorkflowID: testWorkflowID, Placement: earlierPlacement})
			require.NoError(t, err)
		}
		res, err := s.inventory.Reserve(ctx, inventory.ReserveRequest{Key: keyReserve, OrderID: testOrderID, Placement: earlierPlacement, Items: testOrder().Items})
		require.NoError(t, err)
		_, err = s.payment.Charge(ctx, payment.ChargeRequest{Key: keyCharge, OrderID: testOrderID, Placement: earlierPlacement,
			AmountCents: res.TotalCents, Token: payment.TokenVisa}, 1)
		require.NoError(t, err)
		_, err = s.shipping.Ship(ctx, shipping.ShipRequest{Key: keyShip, OrderID: testOrderID, Placement: earlierPlacement,
			Address: "9 Elsewhere", Items: []shipping.Parcel{{SKU: "BOOK-GOPL", Qty: 2}, {SKU: "MUG-GOPHER", Qty: 1}}})
		require.NoError(t, err)
	}
}

// earlierPlacementRecords is what seedEarlierPlacement leaves, which a
// later placement of the order ID must leave as it is.
func earlierPlacementRecords(total string) storesState {
	return storesState{
		Reservations: []string{keyReserve + " reserved"},
		Charges:      []string{keyCharge + " captured " + total},
		Shipments:    []string{keyShip + " created"},
	}
}
