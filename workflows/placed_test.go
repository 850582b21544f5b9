package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
)

// placedOutcome is what became of one order-placed update.
type placedOutcome struct {
	rejected error
	result   PlacedResult
	err      error
	done     bool
}

// updatePlacedAtStart sends the order-placed update with the order's start,
// as Update-with-Start does: at start+0, before the first workflow task
// ends.
func (h *testEnv) updatePlacedAtStart() *placedOutcome {
	out := &placedOutcome{}
	h.at(0, func() {
		h.env.UpdateWorkflow(ordersaga.OrderPlacedUpdate, "", &testsuite.TestUpdateCallback{
			OnAccept: func() {},
			OnReject: func(err error) { out.rejected, out.done = err, true },
			OnComplete: func(res any, err error) {
				out.err, out.done = err, true
				if r, ok := res.(PlacedResult); ok {
					out.result = r
				}
			},
		})
	})
	return out
}

// The order-placed update answers with the reservation once it is made, or
// with the reason the order has none; the order goes on as before.
func TestOrderPlacedUpdate(t *testing.T) {
	outOfStock := func(h *testEnv) {
		h.reserve = func(_ context.Context, _ inventory.ReserveRequest) (inventory.Reservation, error) {
			return inventory.Reservation{}, temporal.NewNonRetryableApplicationError("out of stock: LAMP-LIMITED has 0 on hand, order needs 1", inventory.OutOfStockError, nil)
		}
	}
	tests := []struct {
		name  string
		setup func(h *testEnv)
		order func() Order
		// wantStatus is the order's final status; want.Status is where the
		// order stands when the handler answers: the order runs on first.
		wantStatus Status
		want       PlacedResult
	}{
		{
			name:       "reserved",
			wantStatus: Completed,
			want: PlacedResult{Reserved: true, Status: Charging, TotalCents: testTotal, ReservationID: fakeReservationID,
				Lines: []inventory.Line{
					{SKU: "BOOK-GOPL", Name: "BOOK-GOPL", Qty: 2, UnitPriceCents: 3999},
					{SKU: "MUG-GOPHER", Name: "MUG-GOPHER", Qty: 1, UnitPriceCents: 1299},
				}},
		},
		{
			name:       "out of stock",
			setup:      outOfStock,
			wantStatus: Failed,
			want:       PlacedResult{Status: Compensating, Refusal: "reserve failed: out of stock: LAMP-LIMITED has 0 on hand, order needs 1"},
		},
		{
			name: "unknown SKU",
			setup: func(h *testEnv) {
				h.reserve = func(_ context.Context, _ inventory.ReserveRequest) (inventory.Reservation, error) {
					return inventory.Reservation{}, temporal.NewNonRetryableApplicationError("unknown SKU: NOPE", inventory.UnknownSKUError, nil)
				}
			},
			wantStatus: Failed,
			want:       PlacedResult{Status: Compensating, Refusal: "reserve failed: unknown SKU: NOPE"},
		},
		{
			name: "order ID already used",
			setup: func(h *testEnv) {
				h.claim = func(_ context.Context, _ orders.ClaimRequest) (orders.Claim, error) {
					return orders.Claim{}, temporal.NewNonRetryableApplicationError("order ID 42 is already used", orders.OrderIDUsedError, nil)
				}
			},
			wantStatus: Failed,
			want:       PlacedResult{Status: Failed, Refusal: "claim failed: order ID 42 is already used"},
		},
		{
			name:       "invalid order",
			order:      func() Order { o := testOrder(); o.Items = nil; return o },
			wantStatus: Failed,
		},
		{
			name: "cancelled before the reservation",
			setup: func(h *testEnv) {
				h.setDelay(actReserve, time.Minute)
				h.cancelAt(10*time.Second, "changed my mind")
			},
			wantStatus: Cancelled,
			want:       PlacedResult{Status: Compensating, Refusal: "cancelled before its stock was reserved (signal): changed my mind"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestEnv(t)
			if tt.setup != nil {
				tt.setup(h)
			}
			order := testOrder()
			if tt.order != nil {
				order = tt.order()
			}
			out := h.updatePlacedAtStart()
			state, _ := h.run(order)
			require.Equal(t, tt.wantStatus, state.Status)
			require.True(t, out.done, "the update was answered")
			require.NoError(t, out.rejected)
			require.NoError(t, out.err)
			want := tt.want
			if tt.name == "invalid order" {
				want = PlacedResult{Status: Failed, Refusal: state.FailureReason}
				assert.Contains(t, state.FailureReason, "invalid order: ")
			}
			assert.Equal(t, want, out.result)
		})
	}
}
