package workflows

import (
	"fmt"

	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
)

// PlacedResult answers the order-placed update: the order's reservation, or
// why the order was refused before it had one.
type PlacedResult struct {
	// Reserved is true when the stock is reserved; false when the order
	// was refused (Refusal says why).
	Reserved bool `json:"reserved"`
	// Status is the order's status when the update returned: RESERVING or
	// later for a reserved order; FAILED, COMPENSATING or CANCELLED for a
	// refused one.
	Status        Status           `json:"status"`
	Lines         []inventory.Line `json:"lines,omitempty"`
	TotalCents    int64            `json:"total_cents"`
	ReservationID string           `json:"reservation_id,omitempty"`
	// Refusal says in one line why the order has no reservation: its
	// failure reason, or its cancel.
	Refusal string `json:"refusal,omitempty"`
}

// registerPlacedUpdate answers the order-placed update. It must be
// registered before the order can block: the update arrives with the
// order's start, in its first workflow task. Registering it adds no
// command, so recorded histories replay unchanged.
func (o *orderRun) registerPlacedUpdate(ctx workflow.Context) error {
	return workflow.SetUpdateHandlerWithOptions(ctx, ordersaga.OrderPlacedUpdate, o.placed,
		workflow.UpdateHandlerOptions{
			Description: "Wait until the order's stock is reserved, then return the priced lines, the total and the reservation ID; or return why the order was refused (invalid, ID already used, out of stock, unknown SKU, cancelled).",
		})
}

// placed waits until the reservation is decided and answers with it.
func (o *orderRun) placed(ctx workflow.Context) (PlacedResult, error) {
	// Disconnected, so that a cancellation of the order through Temporal
	// does not cut the answer short: the order still decides.
	wait, _ := workflow.NewDisconnectedContext(ctx)
	if err := workflow.Await(wait, o.reservationDecided); err != nil {
		return PlacedResult{}, fmt.Errorf("wait for the order's reservation: %w", err)
	}
	return PlacedAnswer(o.state), nil
}

// reservationDecided reports whether the order has its reservation, or
// will never have one: it failed (invalid, ID already used, refused by
// the inventory) or stopped its forward steps (cancelled) first.
func (o *orderRun) reservationDecided() bool {
	return o.state.ReservationID != "" || o.stopped == stoppedByFailure || !o.state.Status.forward()
}

// PlacedAnswer is the order-placed update's answer as the state s has it.
// A client that could not get the update's own answer (the order ended
// before answering it) reads the same answer from the order's final state.
func PlacedAnswer(s OrderState) PlacedResult {
	if s.ReservationID != "" {
		return PlacedResult{Reserved: true, Status: s.Status, Lines: s.Lines, TotalCents: s.TotalCents, ReservationID: s.ReservationID}
	}
	return PlacedResult{Status: s.Status, Refusal: refusal(s)}
}

// refusal says in one line why an order without a reservation has none.
func refusal(s OrderState) string {
	switch {
	case s.FailureReason != "":
		return s.FailureReason
	case s.CancelReason != "":
		return fmt.Sprintf("cancelled before its stock was reserved (%s): %s", s.CancelledBy, s.CancelReason)
	}
	return fmt.Sprintf("the order is %s without a reservation", s.Status)
}
