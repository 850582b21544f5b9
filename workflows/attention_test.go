package workflows

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
)

// failingRefund makes the order's shipment fail (so it compensates) and its
// refund fail with err while broken holds.
func failingRefund(h *testEnv, broken *atomic.Bool, err error) {
	h.ship = func(context.Context, shipping.ShipRequest) (shipping.Shipment, error) {
		return shipping.Shipment{}, temporal.NewNonRetryableApplicationError("address is undeliverable", shipping.UndeliverableError, nil)
	}
	refund := h.refund
	h.refund = func(ctx context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
		if broken.Load() {
			return payment.RefundResult{}, err
		}
		return refund(ctx, req)
	}
}

// queryState asks the running order for its state.
func (h *testEnv) queryState() OrderState {
	h.t.Helper()
	v, err := h.env.QueryWorkflow(ordersaga.OrderStatusQuery)
	require.NoError(h.t, err)
	var st OrderState
	require.NoError(h.t, v.Get(&st))
	return st
}

// resumeOutcome is what became of one resume-compensation update.
type resumeOutcome struct {
	rejected error
	result   ResumeResult
	err      error
	done     bool
}

// resumeAt sends the resume-compensation update at start+d.
func (h *testEnv) resumeAt(d time.Duration, reason string) *resumeOutcome {
	out := &resumeOutcome{}
	h.at(d, func() {
		h.env.UpdateWorkflow(ordersaga.ResumeCompensationUpdate, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { out.rejected, out.done = err, true },
			OnComplete: func(res any, err error) {
				out.err, out.done = err, true
				if r, ok := res.(ResumeResult); ok {
					out.result = r
				}
			},
		}, ResumeRequest{Reason: reason})
	})
	return out
}

func TestCompensationThatCannotSucceedNeedsAttentionUntilResumed(t *testing.T) {
	tests := []struct {
		name string
		err  error
		why  string
	}{
		{
			// The test environment gives up after 10 attempts, where the
			// server gives up after the compensation timeout.
			name: "refund keeps failing",
			err:  errors.New("payment database is locked"),
			why:  "refund did not succeed within 10m0s; last error: payment database is locked",
		},
		{
			name: "refund refused",
			err:  temporal.NewNonRetryableApplicationError("refunds are switched off", "Maintenance", nil),
			why:  "refund refused: refunds are switched off",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			var broken atomic.Bool
			broken.Store(true)
			failingRefund(h, &broken, tt.err)
			early := h.resumeAt(testWindow/2, "too early")
			waiting := time.Hour
			var during OrderState
			h.at(waiting, func() {
				during = h.queryState()
				h.env.SignalWorkflow(ordersaga.CancelOrderSignal, CancelRequest{Reason: "while it waits"})
				broken.Store(false) // the operator fixed the payment service
			})
			resumed := h.resumeAt(waiting+time.Minute, "payment service fixed")

			state := h.runFailed(testOrder())

			require.True(t, early.done)
			assert.ErrorContains(t, early.rejected, "order 42 is AWAITING_FULFILLMENT, not NEEDS_ATTENTION", "a resume is refused unless the order needs attention")

			assert.Equal(t, NeedsAttention, during.Status)
			require.NotNil(t, during.Attention)
			refunds := h.callsOf(actRefund)
			gaveUp := refunds[len(refunds)-2].At // the last failed attempt; the one after the resume succeeded
			assert.Equal(t, Attention{Compensation: CompensateRefund, Key: keyCharge, Error: tt.why, Since: gaveUp}, *during.Attention)
			assert.Equal(t, []string{undoCancel}, compensationsRun(during), "nothing after the failed compensation ran while it waited")

			require.True(t, resumed.done)
			require.NoError(t, resumed.err)
			assert.Equal(t, ResumeResult{Remaining: 2}, resumed.result, "the refund and the release")
			assert.Equal(t, []string{undoCancel, undoRefund, undoRelease}, compensationsRun(state))
			assert.Equal(t, h.start.Add(waiting+time.Minute), state.Compensations[1].At, "the refund succeeded when resumed")
			assert.Nil(t, state.Attention)
			assert.Equal(t, []Resume{{Reason: "payment service fixed", At: h.start.Add(waiting + time.Minute)}}, state.Resumes)
			assert.Equal(t, []Status{Pending, Reserving, Charging, AwaitingFulfillment, Shipping, Compensating, NeedsAttention, Compensating, Failed}, transitions(state))
			assert.Contains(t, h.upsertedStatuses(), NeedsAttention, "listed by the search attribute")
			require.Len(t, state.RefusedCancels, 1)
			assert.Equal(t, "the order already failed: "+state.FailureReason, state.RefusedCancels[0].Why)
			for _, r := range h.callsOf(actRelease) {
				assert.False(t, r.At.Before(h.start.Add(waiting+time.Minute)), "the release waited for the refund")
			}
		})
	}
}

func TestResumeThatFailsAgainNeedsAttentionAgain(t *testing.T) {
	h := newTestEnv(t)
	var broken atomic.Bool
	broken.Store(true)
	failingRefund(h, &broken, temporal.NewNonRetryableApplicationError("refunds are switched off", "Maintenance", nil))
	h.cancelAt(testWindow/2, "changed my mind")
	first := h.resumeAt(time.Hour, "try again")
	var between OrderState
	h.at(2*time.Hour, func() {
		between = h.queryState()
		broken.Store(false)
	})
	second := h.resumeAt(3*time.Hour, "fixed now")

	state := h.runCancelled(testOrder())

	require.True(t, first.done && second.done)
	require.NoError(t, first.err)
	assert.Equal(t, NeedsAttention, between.Status, "the refund failed again after the first resume")
	assert.Equal(t, []string{undoRefund, undoRelease}, compensationsRun(state))
	assert.Len(t, state.Resumes, 2)
	assert.Equal(t, []string{callReserve, callCharge, callRefund, callRefund, callRefund, callRelease}, h.attempts())
	assert.Equal(t, CancelledBySignal, state.CancelledBy)
}

// TestOrderStartedBeforeNeedsAttentionPausesAndRetries: an order that
// recorded, before the needs-attention change, that it takes the old path
// keeps it: it pauses and runs the failed compensation again on its own.
func TestOrderStartedBeforeNeedsAttentionPausesAndRetries(t *testing.T) {
	h := newTestEnv(t)
	h.env.OnGetVersion(needsAttentionChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	h.cancelAt(testWindow/2, "changed my mind")
	refund := h.refund
	var calls atomic.Int32
	h.refund = func(ctx context.Context, req payment.RefundRequest) (payment.RefundResult, error) {
		if calls.Add(1) == 1 {
			return payment.RefundResult{}, temporal.NewNonRetryableApplicationError("refunds are switched off", "Maintenance", nil)
		}
		return refund(ctx, req)
	}

	state := h.runCancelled(testOrder())

	assert.Equal(t, []string{undoRefund, undoRelease}, compensationsRun(state), "the refund is recorded once, when it succeeded")
	refunds := h.callsOf(actRefund)
	require.Len(t, refunds, 2)
	assert.Equal(t, compensationRetryPause, refunds[1].At.Sub(refunds[0].At), "tried again after the pause")
	assert.NotContains(t, transitions(state), NeedsAttention)
}

func TestCancelReasonsAreClippedAndCounted(t *testing.T) {
	h := newTestEnv(t)
	long := string(make([]byte, 10*MaxTextLength))
	h.cancelAt(testWindow/2, long)
	h.setDelay(actRefund, time.Hour) // the order stays COMPENSATING while more cancels arrive
	for i := range MaxRefusedCancels + 5 {
		h.cancelAt(testWindow/2+time.Duration(i+1)*time.Second, long)
	}

	state := h.runCancelled(testOrder())

	assert.LessOrEqual(t, len(state.CancelReason), MaxTextLength)
	assert.Len(t, state.RefusedCancels, MaxRefusedCancels)
	assert.Equal(t, 5, state.MoreRefusedCancels)
	for _, r := range state.RefusedCancels {
		assert.LessOrEqual(t, len(r.Reason), MaxTextLength)
	}
}
