// Package payment is the payment service: it charges the customer's card
// through a (simulated) card gateway and refunds it. The order workflow
// charges the order total as its second step and refunds it to undo.
package payment

import (
	"errors"
	"fmt"
)

// Charge statuses.
const (
	// Captured: the money was taken.
	Captured = "captured"
	// Declined: the gateway refused the card; no money was taken.
	Declined = "declined"
	// Refunded: the money was taken and given back.
	Refunded = "refunded"
	// Voided: the key was refunded before anything was charged with it (a
	// cancel overtook a slow charge). A charge that arrives later with this
	// key is refused and releases its authorization at the gateway, so the
	// customer cannot pay for an order that gave up.
	Voided = "voided"
)

// ChargeRequest charges AmountCents to the card behind Token. Key is the
// idempotency key ("order-42/charge"): the same key twice charges once.
//
// Placement is the placement of the order that asks (see
// Charge.Placement): a key that another placement holds is refused with
// ErrKeyConflict, before the gateway is asked.
type ChargeRequest struct {
	Key         string `json:"key"`
	OrderID     string `json:"order_id"`
	Placement   string `json:"placement,omitempty"`
	AmountCents int64  `json:"amount_cents"`
	Token       string `json:"token"`
}

// Charge is one charge as the payment service recorded it. The card token is
// not kept: the service needs it only for the moment it talks to the gateway.
type Charge struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	OrderID string `json:"order_id"`
	// Placement is the placement of the order that wrote the record: one
	// run of the order's workflow, kept through Temporal's resets. Only that
	// placement's charge and refund may return, change or undo the record;
	// empty for records written before placements existed, which only
	// requests without a placement may use.
	Placement   string `json:"placement,omitempty"`
	AmountCents int64  `json:"amount_cents"`
	Status      string `json:"status"`
}

// RefundRequest gives back the money charged with Key by Placement.
type RefundRequest struct {
	Key       string `json:"key"`
	OrderID   string `json:"order_id"`
	Placement string `json:"placement,omitempty"`
}

// RefundResult says what a refund did: AmountCents is 0 when there was
// nothing to give back (never charged, declined, or already refunded).
type RefundResult struct {
	Key         string `json:"key"`
	Status      string `json:"status"`
	AmountCents int64  `json:"amount_cents"`
}

// Business errors, turned into non-retryable application errors by the
// activities; ErrGatewayUnavailable is the one transient error, retried.
var (
	ErrDeclined           = errors.New("payment declined")
	ErrKeyConflict        = errors.New("idempotency key reused with a different request")
	ErrKeyVoided          = errors.New("charge key was already refunded")
	ErrInvalid            = errors.New("invalid charge request")
	ErrGatewayUnavailable = errors.New("card gateway unavailable")
	// ErrAlreadyCaptured is the gateway's answer to a void of a payment it
	// has captured: only a refund gives that money back.
	ErrAlreadyCaptured = errors.New("payment already captured")
)

// Application error types the order workflow and clients can match on.
const (
	DeclinedError    = "PaymentDeclined"
	KeyConflictError = "IdempotencyKeyConflict"
	KeyVoidedError   = "IdempotencyKeyVoided"
	InvalidError     = "InvalidRequest"
)

func (r ChargeRequest) validate() error {
	switch {
	case r.Key == "":
		return fmt.Errorf("%w: empty idempotency key", ErrInvalid)
	case r.AmountCents <= 0:
		return fmt.Errorf("%w: amount %d cents is not positive", ErrInvalid, r.AmountCents)
	case r.Token == "":
		return fmt.Errorf("%w: empty payment token", ErrInvalid)
	}
	return nil
}
