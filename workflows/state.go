package workflows

import (
	"time"

	"github.com/ordersaga/ordersaga/activities/inventory"
)

// Status is where an order is in its life:
//
//	PENDING → RESERVING → CHARGING → AWAITING_FULFILLMENT → SHIPPING → COMPLETED
//	any of them, on failure or cancel → COMPENSATING → FAILED | CANCELLED
//	COMPENSATING ⇄ NEEDS_ATTENTION (a compensation could not succeed; an
//	operator fixes the cause and resumes the order)
type Status string

// The order's states.
const (
	Pending             Status = "PENDING"
	Reserving           Status = "RESERVING"
	Charging            Status = "CHARGING"
	AwaitingFulfillment Status = "AWAITING_FULFILLMENT"
	Shipping            Status = "SHIPPING"
	Compensating        Status = "COMPENSATING"
	NeedsAttention      Status = "NEEDS_ATTENTION"
	Completed           Status = "COMPLETED"
	Failed              Status = "FAILED"
	Cancelled           Status = "CANCELLED"
)

// Statuses lists every status in the order of the order's life.
var Statuses = []Status{Pending, Reserving, Charging, AwaitingFulfillment, Shipping, Compensating, NeedsAttention, Completed, Failed, Cancelled}

// Listed reports whether the OrderStatus search attribute can show s: every
// status an order can rest in. The forward steps (RESERVING, CHARGING,
// SHIPPING) last at most a step's deadline and are not written there; the
// order-status query shows them.
func (s Status) Listed() bool { return s != Reserving && s != Charging && s != Shipping }

// Final reports whether an order in this status has ended.
func (s Status) Final() bool { return s == Completed || s == Failed || s == Cancelled }

// Forward steps and their compensations, as named in OrderState and in the
// idempotency keys ("order-42/reserve").
const (
	// StepClaim is the claim of the order ID in the order service's
	// register, before the first step; it has no compensation (an order
	// ID once placed stays used).
	StepClaim        = "claim"
	StepReserve      = "reserve"
	StepCharge       = "charge"
	StepCancelWindow = "cancel-window"
	StepShip         = "ship"

	CompensateRelease        = "release"
	CompensateRefund         = "refund"
	CompensateCancelShipment = "cancel-shipment"
)

// How an order was cancelled.
const (
	CancelledBySignal   = "signal"
	CancelledByUpdate   = "update"
	CancelledByTemporal = "temporal"
)

// OrderFailedError is the application error type of a FAILED order's
// workflow failure; its details hold the OrderState.
const OrderFailedError = "OrderFailed"

// CancelRequest is the payload of the cancel-order signal.
type CancelRequest struct {
	Reason string `json:"reason"`
}

// ResumeRequest is the payload of the resume-compensation update: who
// resumes the order and why, for the order's record.
type ResumeRequest struct {
	Reason string `json:"reason"`
}

// ResumeResult answers the resume-compensation update.
type ResumeResult struct {
	// Remaining is how many compensations the order will try again, the
	// failed one first.
	Remaining int `json:"remaining"`
}

// OrderState is everything known about an order: the answer to the
// order-status query and the workflow's result (for a FAILED or CANCELLED
// order, the details of its failure or cancellation).
type OrderState struct {
	OrderID    string `json:"order_id"`
	WorkflowID string `json:"workflow_id"`
	// Placement identifies this placement of the order: its workflow's
	// first run ID, kept through resets. Every record the order's steps
	// write carries it. Empty for orders started before placements.
	Placement  string `json:"placement,omitempty"`
	CustomerID string `json:"customer_id"`
	Status     Status `json:"status"`

	Lines      []inventory.Line `json:"lines,omitempty"`
	TotalCents int64            `json:"total_cents"`

	ReservationID  string `json:"reservation_id,omitempty"`
	ChargeID       string `json:"charge_id,omitempty"`
	ShipmentID     string `json:"shipment_id,omitempty"`
	TrackingNumber string `json:"tracking_number,omitempty"`

	// CancelWindowEndsAt is when the order ships unless cancelled.
	CancelWindowEndsAt time.Time `json:"cancel_window_ends_at,omitzero"`

	Steps         []StepRecord         `json:"steps"`
	Compensations []CompensationRecord `json:"compensations"`
	Transitions   []Transition         `json:"transitions"`

	FailureReason  string          `json:"failure_reason,omitempty"`
	CancelReason   string          `json:"cancel_reason,omitempty"`
	CancelledBy    string          `json:"cancelled_by,omitempty"`
	RefusedCancels []RefusedCancel `json:"refused_cancels,omitempty"`
	// MoreRefusedCancels counts refused cancels beyond the ones recorded
	// (at most MaxRefusedCancels), so a flood of signals cannot grow the
	// state without bound.
	MoreRefusedCancels int `json:"more_refused_cancels,omitempty"`

	// Attention says, while the order is NEEDS_ATTENTION, which
	// compensation could not succeed and why.
	Attention *Attention `json:"attention,omitempty"`
	// Resumes are the operators' resumes of the order's compensations.
	Resumes []Resume `json:"resumes,omitempty"`

	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
}

// StepRecord is one forward step that ended, well or not.
type StepRecord struct {
	Name   string    `json:"name"`
	Key    string    `json:"key,omitempty"`
	OK     bool      `json:"ok"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
}

// CompensationRecord is one compensation that ran, with the idempotency key
// of the step it undid.
type CompensationRecord struct {
	Name   string    `json:"name"`
	Key    string    `json:"key"`
	Detail string    `json:"detail"`
	At     time.Time `json:"at"`
}

// Transition is one change of status.
type Transition struct {
	Status Status    `json:"status"`
	At     time.Time `json:"at"`
}

// RefusedCancel is a cancel that came too late (after the shipment was
// created) or twice; it changed nothing.
type RefusedCancel struct {
	Reason string    `json:"reason"`
	Why    string    `json:"why"`
	At     time.Time `json:"at"`
}

// Attention is why an order stopped undoing its steps and waits for an
// operator: the compensation that could not succeed and its last error.
type Attention struct {
	Compensation string    `json:"compensation"`
	Key          string    `json:"key"`
	Error        string    `json:"error"`
	Since        time.Time `json:"since"`
}

// Resume is one operator's resume of an order in NEEDS_ATTENTION.
type Resume struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}
