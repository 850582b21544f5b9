// Package shipping is the shipping service: it creates the shipment that
// sends an order's parcel to the customer and cancels it. Creating the
// shipment is the order's last step and its point of no return.
package shipping

import (
	"errors"
	"fmt"
	"strings"
)

// Shipment statuses.
const (
	// Created: the parcel is booked with the carrier and has a tracking number.
	Created = "created"
	// Cancelled: the booking was cancelled.
	Cancelled = "cancelled"
	// Voided: the key was cancelled before any shipment was created with it
	// (a cancel overtook a slow booking). A booking that arrives later with
	// this key is refused, so no parcel leaves for an order that gave up.
	Voided = "voided"
)

// Parcel line: a quantity of one SKU in the box.
type Parcel struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// ShipRequest books a shipment of Items to Address. Key is the idempotency
// key ("order-42/ship"): the same key twice books once. Placement is the
// placement of the order that asks (see Shipment.Placement): a key that
// another placement holds is refused with ErrKeyConflict.
type ShipRequest struct {
	Key       string   `json:"key"`
	OrderID   string   `json:"order_id"`
	Placement string   `json:"placement,omitempty"`
	Address   string   `json:"address"`
	Items     []Parcel `json:"items"`
}

// Shipment is one booking as the shipping service recorded it.
type Shipment struct {
	ID      string `json:"id"`
	Key     string `json:"key"`
	OrderID string `json:"order_id"`
	// Placement is the placement of the order that wrote the record: one
	// run of the order's workflow, kept through Temporal's resets. Only that
	// placement's booking and cancellation may return, change or undo the
	// record; empty for records written before placements existed, which
	// only requests without a placement may use.
	Placement      string `json:"placement,omitempty"`
	TrackingNumber string `json:"tracking_number"`
	Status         string `json:"status"`
}

// CancelRequest cancels the shipment booked with Key by Placement.
type CancelRequest struct {
	Key       string `json:"key"`
	OrderID   string `json:"order_id"`
	Placement string `json:"placement,omitempty"`
}

// CancelResult says what a cancellation did: Status is Cancelled when a
// booking was cancelled, and otherwise what the key already was.
type CancelResult struct {
	Key    string `json:"key"`
	Status string `json:"status"`
}

// UndeliverableMarker in an address (any case) makes it undeliverable, so
// that a failure at the last step is easy to produce.
const UndeliverableMarker = "undeliverable"

// Business errors, turned into non-retryable application errors by the
// activities.
var (
	ErrUndeliverable = errors.New("address is undeliverable")
	ErrKeyConflict   = errors.New("idempotency key reused with a different request")
	ErrKeyVoided     = errors.New("shipment key was already cancelled")
	ErrInvalid       = errors.New("invalid shipment request")
)

// Application error types the order workflow and clients can match on.
const (
	UndeliverableError = "Undeliverable"
	KeyConflictError   = "IdempotencyKeyConflict"
	KeyVoidedError     = "IdempotencyKeyVoided"
	InvalidError       = "InvalidRequest"
)

func (r ShipRequest) validate() error {
	switch {
	case r.Key == "":
		return fmt.Errorf("%w: empty idempotency key", ErrInvalid)
	case len(r.Items) == 0:
		return fmt.Errorf("%w: no items", ErrInvalid)
	case strings.TrimSpace(r.Address) == "":
		return fmt.Errorf("%w: empty address", ErrUndeliverable)
	case strings.Contains(strings.ToLower(r.Address), UndeliverableMarker):
		// The address itself stays out of the message: it travels to the
		// order's state, the Web UI's details and the logs.
		return fmt.Errorf("%w: the carrier does not deliver to the order's address", ErrUndeliverable)
	}
	seen := make(map[string]bool, len(r.Items))
	for _, it := range r.Items {
		switch {
		case it.SKU == "":
			return fmt.Errorf("%w: parcel line without a SKU", ErrInvalid)
		case it.Qty < 1:
			return fmt.Errorf("%w: %s quantity %d is below 1", ErrInvalid, it.SKU, it.Qty)
		case seen[it.SKU]:
			return fmt.Errorf("%w: %s listed twice", ErrInvalid, it.SKU)
		}
		seen[it.SKU] = true
	}
	return nil
}
