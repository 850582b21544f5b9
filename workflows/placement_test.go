package workflows

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
)

// usedBefore is the register's refusal of an order ID that another
// placement claimed.
const usedBefore = `order ID "42" already used: claimed 2030-01-01T09:00:00Z by workflow order-42; order IDs cannot be reused, pick another`

func TestOrderClaimsItsIDForItsPlacementFirst(t *testing.T) {
	h := newTestEnv(t)

	state := h.runCompleted(testOrder())

	claims := requestsOf[orders.ClaimRequest](h)
	require.Len(t, claims, 1)
	assert.Equal(t, orders.ClaimRequest{OrderID: testOrderID, WorkflowID: testWorkflowID, Placement: testPlacement}, claims[0])
	assert.Equal(t, testPlacement, state.Placement)
	require.NotEmpty(t, state.Steps)
	assert.Equal(t, StepClaim, state.Steps[0].Name, "the claim comes before every step")
	assert.True(t, state.Steps[0].OK)

	// Every request, forward or compensating, says which placement asks.
	for _, p := range []string{
		requestsOf[inventory.ReserveRequest](h)[0].Placement,
		requestsOf[payment.ChargeRequest](h)[0].Placement,
		requestsOf[shipping.ShipRequest](h)[0].Placement,
	} {
		assert.Equal(t, testPlacement, p)
	}
}

func TestCompensationsCarryThePlacement(t *testing.T) {
	h := newTestEnv(t)
	h.ship = func(context.Context, shipping.ShipRequest) (shipping.Shipment, error) {
		return shipping.Shipment{}, temporal.NewNonRetryableApplicationError("undeliverable", shipping.UndeliverableError, nil)
	}

	h.runFailed(testOrder())

	assert.Equal(t, testPlacement, requestsOf[shipping.CancelRequest](h)[0].Placement)
	assert.Equal(t, testPlacement, requestsOf[payment.RefundRequest](h)[0].Placement)
	assert.Equal(t, testPlacement, requestsOf[inventory.ReleaseRequest](h)[0].Placement)
}

// An order ID that another placement used, however long ago, ends the
// order at once: no service is called, nothing is undone, and the reason
// says what to do.
func TestReusedOrderIDEndsTheOrderWithNothingDone(t *testing.T) {
	h := newTestEnv(t)
	h.claim = func(context.Context, orders.ClaimRequest) (orders.Claim, error) {
		return orders.Claim{}, temporal.NewNonRetryableApplicationError(usedBefore, orders.OrderIDUsedError, nil)
	}

	state := h.runFailed(testOrder())

	assert.Empty(t, h.attempts(), "no service called")
	assert.Empty(t, state.Compensations)
	assert.Equal(t, "claim failed: "+usedBefore, state.FailureReason)
	assert.Equal(t, []string{"claim 42 not ok"}, stepsDone(state))
	assert.Equal(t, []Status{Pending, Failed}, transitions(state))
	assert.Equal(t, []Status{Failed}, h.upsertedStatuses())
	assert.Equal(t, 1, h.metrics.count(MetricOrdersFailed, map[string]string{LabelStep: StepClaim, LabelReason: orders.OrderIDUsedError}))
}

// A claim that cannot be made within the step deadline (the register is
// down) fails the order as a step would, with nothing to undo.
func TestClaimRetriesThenFailsWithNothingToUndo(t *testing.T) {
	h := newTestEnv(t)
	calls := 0
	h.claim = func(context.Context, orders.ClaimRequest) (orders.Claim, error) {
		calls++
		return orders.Claim{}, temporal.NewApplicationError("database is locked", "")
	}

	state := h.runFailed(testOrder())

	assert.Greater(t, calls, 3, "a transient claim failure is retried")
	assert.Empty(t, h.attempts())
	assert.Empty(t, state.Compensations)
	assert.Contains(t, state.FailureReason, "claim failed")
}

// A cancel by Temporal while the claim is under way lets the claim finish
// (the order ID stays used) and stops the order before its first step.
func TestCancelDuringTheClaimStopsBeforeTheFirstStep(t *testing.T) {
	h := newTestEnv(t)
	h.setDelay(actClaim, 5*time.Second)
	h.at(time.Second, h.env.CancelWorkflow)

	state := h.runCancelled(testOrder())

	assert.Len(t, requestsOf[orders.ClaimRequest](h), 1)
	assert.Empty(t, h.attempts(), "no step after the cancel")
	assert.Empty(t, state.Compensations)
	assert.Equal(t, CancelledByTemporal, state.CancelledBy)
	assert.Equal(t, []string{stepClaimed}, stepsDone(state))
}

// A step whose key the service refuses — held by another placement, or
// already undone — did nothing, so its own compensation does not run: it
// would be refused too, or worse, undo what is not the order's. The steps
// before it are undone as usual.
func TestStepRefusedOnItsKeyLeavesNothingToUndo(t *testing.T) {
	conflict := func(service string) error {
		return temporal.NewNonRetryableApplicationError(service+" key belongs to another placement", inventory.KeyConflictError, nil)
	}
	voided := func() error {
		return temporal.NewNonRetryableApplicationError("key was already undone", shipping.KeyVoidedError, nil)
	}
	tests := []struct {
		name              string
		refuse            func(h *testEnv)
		wantCalls         []string
		wantCompensations []string
	}{
		{
			name: "reserve held by another placement",
			refuse: func(h *testEnv) {
				h.reserve = func(context.Context, inventory.ReserveRequest) (inventory.Reservation, error) {
					return inventory.Reservation{}, conflict("inventory")
				}
			},
			wantCalls:         []string{callReserve},
			wantCompensations: []string{},
		},
		{
			name: "charge held by another placement",
			refuse: func(h *testEnv) {
				h.charge = func(context.Context, payment.ChargeRequest) (payment.Charge, error) {
					return payment.Charge{}, conflict("payment")
				}
			},
			wantCalls:         []string{callReserve, callCharge, callRelease},
			wantCompensations: []string{undoRelease},
		},
		{
			name: "shipment already cancelled",
			refuse: func(h *testEnv) {
				h.ship = func(context.Context, shipping.ShipRequest) (shipping.Shipment, error) {
					return shipping.Shipment{}, voided()
				}
			},
			wantCalls:         []string{callReserve, callCharge, callShip, callRefund, callRelease},
			wantCompensations: []string{undoRefund, undoRelease},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			tt.refuse(h)

			state := h.runFailed(testOrder())

			assert.Equal(t, tt.wantCalls, h.attempts())
			assert.Equal(t, tt.wantCompensations, compensationsRun(state))
		})
	}
}

// An order that started before placements (its history records an older
// version of orderRulesChange) replays as it ran: no claim, requests
// without a placement, and every started step undone, a refused one too.
func TestOrderStartedBeforePlacementsKeepsTheOldProtocol(t *testing.T) {
	h := newTestEnv(t)
	h.env.OnGetVersion(orderRulesChange, workflow.DefaultVersion, placementsVersion).Return(strictFieldsVersion)
	h.charge = func(context.Context, payment.ChargeRequest) (payment.Charge, error) {
		return payment.Charge{}, temporal.NewNonRetryableApplicationError("key reused", payment.KeyConflictError, nil)
	}

	state := h.runFailed(testOrder())

	assert.Empty(t, requestsOf[orders.ClaimRequest](h), "no claim")
	assert.Empty(t, state.Placement)
	assert.Empty(t, requestsOf[inventory.ReserveRequest](h)[0].Placement)
	assert.Empty(t, requestsOf[payment.RefundRequest](h)[0].Placement)
	assert.Equal(t, []string{callReserve, callCharge, callRefund, callRelease}, h.attempts())
	assert.Equal(t, []string{undoRefund, undoRelease}, compensationsRun(state))
}

// keyRefused reads the inventory service's error type names for all three
// services: they must stay alike.
func TestServicesNameKeyRefusalsAlike(t *testing.T) {
	for _, names := range [][3]string{
		{inventory.KeyConflictError, payment.KeyConflictError, shipping.KeyConflictError},
		{inventory.KeyVoidedError, payment.KeyVoidedError, shipping.KeyVoidedError},
	} {
		assert.Equal(t, names[0], names[1])
		assert.Equal(t, names[0], names[2])
	}
}

// The audit tells an order started under placements by the version the
// SDK recorded in its TemporalChangeVersion search attribute, this one or
// any later.
func TestStartedWithPlacements(t *testing.T) {
	for _, tt := range []struct {
		versions []string
		want     bool
	}{
		{nil, false},
		{[]string{"needs-attention-1"}, false},
		{[]string{"needs-attention-1", orderRulesChange + "-1"}, false},
		{[]string{fmt.Sprintf("%s-%d", orderRulesChange, placementsVersion)}, true},
		{[]string{"needs-attention-1", orderRulesChange + "-3"}, true},
		{[]string{orderRulesChange + "-x"}, false},
	} {
		if got := StartedWithPlacements(tt.versions); got != tt.want {
			t.Errorf("StartedWithPlacements(%q) = %v, want %v", tt.versions, got, tt.want)
		}
	}
}
