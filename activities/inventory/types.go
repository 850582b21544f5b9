// Package inventory is the inventory service: the catalog with its prices and
// stock on hand, and the reservations that orders hold against it. The order
// workflow reserves stock as its first step and releases it to undo.
package inventory

import (
	"errors"
	"fmt"
)

// Item is what a customer asks for: a quantity of one SKU.
type Item struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Line is an item priced from the catalog when it was reserved. The order's
// total is the sum of its lines, so the price a customer pays is the price
// the inventory service quoted, not one a client sent.
type Line struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	Qty            int    `json:"qty"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// AmountCents is the line's price.
func (l Line) AmountCents() int64 { return int64(l.Qty) * l.UnitPriceCents }

// Reservation statuses. A key's reservation goes reserved → released, or
// straight to voided; neither of those can be reserved again.
const (
	// Reserved: the units are taken out of stock on hand for this order.
	Reserved = "reserved"
	// Released: the units went back to stock on hand.
	Released = "released"
	// Voided: the key was released before anything was reserved with it
	// (a cancel overtook a slow reserve). A reserve that arrives later
	// with this key is refused, so it cannot take stock nobody will release.
	Voided = "voided"
)

// ReserveRequest takes stock for an order. Key is the idempotency key
// ("order-42/reserve"): the same key twice reserves once. Placement is the
// placement of the order that asks (see Reservation.Placement): a key that
// another placement holds is refused with ErrKeyConflict.
type ReserveRequest struct {
	Key       string `json:"key"`
	OrderID   string `json:"order_id"`
	Placement string `json:"placement,omitempty"`
	Items     []Item `json:"items"`
}

// Reservation is the stock held for one order.
type Reservation struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	OrderID string `json:"order_id"`
	// Placement is the placement of the order that wrote the record: one
	// run of the order's workflow, kept through Temporal's resets. Only that
	// placement's steps and compensations may return, change or undo the
	// record; empty for records written before placements existed, which
	// only requests without a placement may use.
	Placement  string `json:"placement,omitempty"`
	Status     string `json:"status"`
	Lines      []Line `json:"lines"`
	TotalCents int64  `json:"total_cents"`
}

// ReleaseRequest gives back the stock reserved with Key by Placement.
type ReleaseRequest struct {
	Key       string `json:"key"`
	OrderID   string `json:"order_id"`
	Placement string `json:"placement,omitempty"`
}

// ReleaseResult says what a release did: UnitsReturned is 0 when there was
// nothing to give back (never reserved, or already released).
type ReleaseResult struct {
	Key           string `json:"key"`
	Status        string `json:"status"`
	UnitsReturned int    `json:"units_returned"`
}

// Product is one catalog entry with its stock. Received counts every unit
// that ever came into stock (the seed and every admin adjustment), so that
// Received = OnHand + Reserved holds at all times: the stock invariant.
type Product struct {
	SKU            string `json:"sku"`
	Name           string `json:"name"`
	UnitPriceCents int64  `json:"unit_price_cents"`
	OnHand         int    `json:"on_hand"`
	Reserved       int    `json:"reserved"`
	Received       int    `json:"received"`
}

// Business errors: an order that hits one cannot succeed by retrying, so the
// activities turn them into non-retryable application errors of these types.
var (
	ErrOutOfStock  = errors.New("out of stock")
	ErrUnknownSKU  = errors.New("unknown SKU")
	ErrKeyConflict = errors.New("idempotency key reused with a different request")
	ErrKeyVoided   = errors.New("reservation key was already released")
	ErrInvalid     = errors.New("invalid reservation request")
)

// Application error types the order workflow and clients can match on.
const (
	OutOfStockError  = "OutOfStock"
	UnknownSKUError  = "UnknownSKU"
	KeyConflictError = "IdempotencyKeyConflict"
	KeyVoidedError   = "IdempotencyKeyVoided"
	InvalidError     = "InvalidRequest"
)

// validate refuses requests that no store state could make right; the order
// workflow validates orders before it gets here, so these only catch other
// callers' mistakes.
func (r ReserveRequest) validate() error {
	if r.Key == "" {
		return fmt.Errorf("%w: empty idempotency key", ErrInvalid)
	}
	if len(r.Items) == 0 {
		return fmt.Errorf("%w: no items", ErrInvalid)
	}
	seen := make(map[string]bool, len(r.Items))
	for _, it := range r.Items {
		if it.Qty < 1 {
			return fmt.Errorf("%w: %s quantity %d is below 1", ErrInvalid, it.SKU, it.Qty)
		}
		if seen[it.SKU] {
			return fmt.Errorf("%w: %s listed twice", ErrInvalid, it.SKU)
		}
		seen[it.SKU] = true
	}
	return nil
}
