package workflows

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
)

// cancelOutcome is what became of one cancel-order update.
type cancelOutcome struct {
	accepted bool
	rejected error
	result   CancelResult
	err      error
	done     bool
}

// updateCancelAt sends the cancel-order update at start+d.
func (h *testEnv) updateCancelAt(d time.Duration, reason string) *cancelOutcome {
	out := &cancelOutcome{}
	h.at(d, func() {
		h.env.UpdateWorkflow(ordersaga.CancelOrderUpdate, "", &testsuite.TestUpdateCallback{
			OnAccept: func() { out.accepted = true },
			OnReject: func(err error) { out.rejected, out.done = err, true },
			OnComplete: func(res any, err error) {
				out.err, out.done = err, true
				if r, ok := res.(CancelResult); ok {
					out.result = r
				}
			},
		}, CancelRequest{Reason: reason})
	})
	return out
}

// The validator refuses what the order would refuse, reading the state only,
// and accepts a cancel in every forward status.
func TestValidateCancel(t *testing.T) {
	tests := []struct {
		name    string
		run     orderRun
		reason  string
		wantErr string // "" if accepted
	}{
		{name: "pending", run: orderRun{state: OrderState{Status: Pending}}},
		{name: "reserving", run: orderRun{state: OrderState{Status: Reserving}}},
		{name: "charging", run: orderRun{state: OrderState{Status: Charging}}},
		{name: "awaiting fulfillment", run: orderRun{state: OrderState{Status: AwaitingFulfillment}}},
		{name: "shipping, before the shipment's result", run: orderRun{state: OrderState{Status: Shipping}}},
		{name: "reason at the limit", run: orderRun{state: OrderState{Status: Charging}}, reason: strings.Repeat("r", MaxTextLength)},
		{
			name:    "shipped",
			run:     orderRun{shipped: true, state: OrderState{Status: Shipping, ShipmentID: "shp_1", TrackingNumber: "TRK1"}},
			wantErr: "order 42 cannot be cancelled: shipment shp_1 was already created, tracking number TRK1",
		},
		{
			name:    "failing",
			run:     orderRun{stopped: stoppedByFailure, stopReason: "charge failed: payment declined", state: OrderState{Status: Compensating, FailureReason: "charge failed: payment declined"}},
			wantErr: "order 42 cannot be cancelled: the order already failed: charge failed: payment declined",
		},
		{
			name:    "compensating after a cancel",
			run:     orderRun{stopped: stoppedBySignal, stopReason: "first", state: OrderState{Status: Compensating}},
			wantErr: "order 42 cannot be cancelled: the order is already COMPENSATING",
		},
		{
			name:    "needs attention",
			run:     orderRun{stopped: stoppedBySignal, stopReason: "first", state: OrderState{Status: NeedsAttention}},
			wantErr: "order 42 cannot be cancelled: the order is already NEEDS_ATTENTION",
		},
		{
			name:    "cancel accepted, steps stopping",
			run:     orderRun{stopped: stoppedBySignal, stopReason: "first", state: OrderState{Status: AwaitingFulfillment}},
			wantErr: "order 42 cannot be cancelled: the order is already being cancelled: first",
		},
		{
			name:    "reason over the limit",
			run:     orderRun{state: OrderState{Status: Charging}},
			reason:  strings.Repeat("r", MaxTextLength+1),
			wantErr: "cancel reason is 513 characters long: the limit is 512; give a shorter reason",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run.state.OrderID = testOrderID
			before := tt.run.state

			err := tt.run.validateCancel(CancelRequest{Reason: tt.reason})

			if tt.wantErr == "" {
				assert.NoError(t, err)
			} else {
				assert.EqualError(t, err, tt.wantErr)
			}
			assert.Equal(t, before, tt.run.state, "the validator changed the state")
			assert.Nil(t, tt.run.asks, "the validator queued the cancel")
		})
	}
}

// The first cause that stops the forward steps stays, except that a cancel
// the order accepts after Temporal's stopped them names who asked.
func TestStopKeepsTheFirstCause(t *testing.T) {
	tests := []struct {
		name       string
		causes     []stopCause
		want       stopCause
		wantReason string
	}{
		{name: "one", causes: []stopCause{stoppedBySignal}, want: stoppedBySignal, wantReason: "0"},
		{name: "Temporal after a signal", causes: []stopCause{stoppedBySignal, stoppedByTemporal}, want: stoppedBySignal, wantReason: "0"},
		{name: "update after Temporal", causes: []stopCause{stoppedByTemporal, stoppedByUpdate}, want: stoppedByUpdate, wantReason: "1"},
		{name: "signal after an update", causes: []stopCause{stoppedByUpdate, stoppedBySignal}, want: stoppedByUpdate, wantReason: "0"},
		{name: "failure after Temporal", causes: []stopCause{stoppedByTemporal, stoppedByFailure}, want: stoppedByTemporal, wantReason: "0"},
		{name: "cancel after a failure", causes: []stopCause{stoppedByFailure, stoppedBySignal}, want: stoppedByFailure, wantReason: "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o orderRun
			for i, c := range tt.causes {
				o.stop(c, strconv.Itoa(i))
			}
			assert.Equal(t, tt.want, o.stopped)
			assert.Equal(t, tt.wantReason, o.stopReason)
			if tt.want == stoppedByFailure {
				assert.Equal(t, tt.wantReason, o.state.FailureReason)
			} else {
				assert.Empty(t, o.state.FailureReason, "a cancel is no failure")
			}
		})
	}
}

// An accepted cancel-order update stops the forward steps and returns once
// the order is undoing them, with the compensations it runs; the order
// then undoes exactly what it started, as for the signal.
func TestCancelUpdateAcceptedInEveryForwardState(t *testing.T) {
	for _, tt := range cancelCases {
		t.Run(string(tt.state), func(t *testing.T) {
			h := newTestEnv(t)
			if tt.slow != "" {
				h.setDelay(tt.slow, slowFor)
			}
			// Each compensation takes a second, so that the update answers
			// while the order is still undoing its steps.
			h.setDelay(actRelease, time.Second)
			h.setDelay(actRefund, time.Second)
			h.setDelay(actCancel, time.Second)
			out := h.updateCancelAt(tt.at, "changed my mind")

			state := h.runCancelled(testOrder())

			require.True(t, out.done, "the update was answered")
			require.NoError(t, out.rejected)
			require.NoError(t, out.err)
			assert.True(t, out.accepted)
			assert.Equal(t, CancelResult{Accepted: true, Status: Compensating, Undoing: compensationNames(state)}, out.result)

			assert.Equal(t, CancelledByUpdate, state.CancelledBy)
			assert.Equal(t, "changed my mind", state.CancelReason)
			assert.Equal(t, tt.wantCalls, h.attempts(), "activities called; none after the cancelled step")
			assert.Equal(t, tt.wantCompensations, compensationsRun(state), "the started steps undone, newest first")
			assert.Equal(t, tt.wantSteps, stepsDone(state))
			assert.Equal(t, tt.wantTransitions, transitions(state))
			assert.Empty(t, state.RefusedCancels)
			assert.Equal(t, h.start.Add(tt.at), state.Transitions[len(state.Transitions)-2].At, "compensating when the cancel arrived")
		})
	}
}

// compensationNames lists the names of the compensations that ran.
func compensationNames(s OrderState) []string {
	out := []string{}
	for _, c := range s.Compensations {
		out = append(out, c.Name)
	}
	return out
}

// A cancel-order update that the order would refuse is rejected by its
// validator: it is never accepted, so nothing reaches the order's history
// or its state.
func TestCancelUpdateRefusedByTheValidator(t *testing.T) {
	t.Run("failing order", func(t *testing.T) {
		h := newTestEnv(t)
		h.charge = func(context.Context, payment.ChargeRequest) (payment.Charge, error) {
			return payment.Charge{}, temporal.NewNonRetryableApplicationError("payment declined", payment.DeclinedError, nil)
		}
		h.setDelay(actRefund, slowFor)
		out := h.updateCancelAt(2*time.Second, "changed my mind") // while the refund runs

		state := h.runFailed(testOrder())

		require.True(t, out.done)
		assert.False(t, out.accepted)
		assert.EqualError(t, out.rejected, "order 42 cannot be cancelled: the order already failed: charge failed: payment declined")
		assert.Empty(t, state.RefusedCancels, "a rejected update leaves no trace")
		assert.Empty(t, state.CancelledBy)
		assert.Equal(t, []string{undoRefund, undoRelease}, compensationsRun(state))
	})
	t.Run("second cancel", func(t *testing.T) {
		h := newTestEnv(t)
		h.setDelay(actRefund, slowFor)
		first := h.updateCancelAt(10*time.Second, "first")
		second := h.updateCancelAt(12*time.Second, "second") // while the refund runs

		state := h.runCancelled(testOrder())

		assert.True(t, first.result.Accepted)
		assert.Equal(t, []string{CompensateRefund, CompensateRelease}, first.result.Undoing)
		assert.False(t, second.accepted)
		assert.EqualError(t, second.rejected, "order 42 cannot be cancelled: the order is already COMPENSATING")
		assert.Equal(t, "first", state.CancelReason)
		assert.Empty(t, state.RefusedCancels)
		assert.Equal(t, []string{callReserve, callCharge, callRefund, callRelease}, h.attempts(), "each compensation ran once")
	})
	t.Run("reason over the limit", func(t *testing.T) {
		h := newTestEnv(t)
		out := h.updateCancelAt(testWindow/2, strings.Repeat("r", MaxTextLength+1))

		state := h.runCompleted(testOrder())

		assert.False(t, out.accepted)
		assert.EqualError(t, out.rejected, "cancel reason is 513 characters long: the limit is 512; give a shorter reason")
		assert.Empty(t, state.RefusedCancels)
		assert.Equal(t, []string{callReserve, callCharge, callShip}, h.attempts(), "the order went on")
	})
}

// shipmentFirst is an order at the race the update cannot see: its
// validator accepted the cancel, but the shipment's result reached the
// order in the same workflow task, and the order saw it first. It waits
// for the update to be handed over, takes the shipment as the ship step
// does, and answers at the step boundary as the order does.
func shipmentFirst(ctx workflow.Context) (OrderState, error) {
	o := newOrderRun(ctx, testOrder(), testConfig)
	if err := o.registerHandlers(ctx); err != nil {
		return OrderState{}, err
	}
	_, o.stopSteps = workflow.WithCancel(ctx)
	o.cancels = workflow.GetSignalChannel(ctx, ordersaga.CancelOrderSignal)
	o.state.Status = Shipping
	if err := workflow.Await(ctx, func() bool { return len(o.asks) > 0 }); err != nil {
		return OrderState{}, err
	}
	o.shipped = true
	o.state.ShipmentID, o.state.TrackingNumber = fakeShipmentID, fakeTracking
	o.answerCancels(ctx)
	return o.state, nil
}

func TestCancelUpdateRacingTheShipmentSaysRefused(t *testing.T) {
	h := newBareEnv(t)
	h.env.RegisterWorkflow(shipmentFirst)
	out := h.updateCancelAt(time.Second, "too late")

	h.env.ExecuteWorkflow(shipmentFirst)

	require.True(t, h.env.IsWorkflowCompleted())
	require.NoError(t, h.env.GetWorkflowError())
	var state OrderState
	require.NoError(t, h.env.GetWorkflowResult(&state))
	require.True(t, out.done, "the update was answered")
	assert.True(t, out.accepted, "the validator accepted it")
	require.NoError(t, out.err)
	why := "shipment " + fakeShipmentID + " was already created, tracking number " + fakeTracking
	assert.Equal(t, CancelResult{Status: Shipping, Why: why}, out.result)
	require.Len(t, state.RefusedCancels, 1, "recorded as the signal's refusal is")
	assert.Equal(t, RefusedCancel{Reason: "too late", Why: why, At: h.start.Add(time.Second)}, state.RefusedCancels[0])
	assert.Nil(t, state.Attention)
}

// An update sent before the order's first step boundary, to an order that
// ends there (an invalid order), is answered with how it ended.
func TestCancelUpdateOfAnOrderThatFailsBeforeItsSteps(t *testing.T) {
	h := newTestEnv(t)
	h.claim = func(_ context.Context, _ orders.ClaimRequest) (orders.Claim, error) {
		return orders.Claim{}, temporal.NewNonRetryableApplicationError("order ID 42 was already used", "OrderIDUsed", nil)
	}
	h.setDelay(actClaim, slowFor)
	out := h.updateCancelAt(time.Second, "changed my mind")

	state := h.runFailed(testOrder())

	require.True(t, out.done)
	require.NoError(t, out.err)
	assert.False(t, out.result.Accepted)
	assert.Equal(t, Failed, out.result.Status)
	assert.Contains(t, out.result.Why, "the order already failed: claim failed")
	assert.Empty(t, h.attempts(), "no step ran")
	assert.Empty(t, state.Compensations)
}
