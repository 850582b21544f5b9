// Package workflows holds the order saga: OrderWorkflow, the order it runs,
// the state it reports, and the compensation stack that undoes its steps.
package workflows

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/internal/platform/codec"
)

// Order is what a customer placed: the workflow's input. It is also the
// format of `starter place --file order.json`.
type Order struct {
	// ID is the order's ID, chosen by the client; the workflow runs as
	// "order-<ID>", so an order ID can be used once.
	ID         string           `json:"id"`
	CustomerID string           `json:"customer_id"`
	Items      []inventory.Item `json:"items"`
	// PaymentToken stands for the customer's card, as a card gateway's
	// token does (test tokens: tok_visa, tok_declined, tok_flaky).
	PaymentToken string `json:"payment_token"`
	Address      string `json:"address"`
	// CancelWindow is how long the order waits, charged and reserved, for
	// the customer to change their mind before it ships. Zero ships at once.
	CancelWindow Duration `json:"cancel_window"`

	// inputEncrypted is whether the order reached the worker encrypted, as
	// the worker's data converter found it (RecordEncrypted). Unexported,
	// it is never serialised: no client can claim it.
	inputEncrypted bool
}

var _ codec.EncryptionRecorder = (*Order)(nil)

// RecordEncrypted records whether the order's payload arrived encrypted.
// The worker's data converter calls it when it decodes the order workflow's
// input; the order's claim passes it on, so that a worker that requires
// encryption refuses an order that a client sent in clear.
func (o *Order) RecordEncrypted(encrypted bool) { o.inputEncrypted = encrypted }

// Limits on what one order may hold. They keep an order's history small and
// its lines readable, and turn a runaway client into a clear error.
const (
	MaxIDLength       = 64
	MaxCustomerLength = 128
	MaxTextLength     = 512
	MaxLines          = 100
	MaxQty            = 10000
	MaxCancelWindow   = 7 * 24 * time.Hour
)

// Validate returns the first thing wrong with the order, phrased so that
// the person who typed it knows what to change. The starter calls it before
// it starts anything, and the workflow calls it again, because a client can
// start the workflow without the starter.
func (o Order) Validate() error { return o.validate(true) }

// validate checks the order; strict adds the rules on the fields' characters
// (the customer ID is an opaque ID, the token printable ASCII, the address
// free of control characters). Only orders started before those rules
// existed are checked without them (validateBeforeStrictFields), so that
// they replay as they ran.
func (o Order) validate(strict bool) error {
	if err := checkID("order ID", o.ID, MaxIDLength); err != nil {
		return err
	}
	if strings.TrimSpace(o.CustomerID) == "" {
		return fmt.Errorf("customer is empty: give the customer's ID")
	}
	if len(o.CustomerID) > MaxCustomerLength {
		return fmt.Errorf("customer ID is %d characters long: the limit is %d", len(o.CustomerID), MaxCustomerLength)
	}
	if strict {
		// The customer ID is indexed in plain text (the CustomerId search
		// attribute): an opaque ID keeps names and emails out of it.
		if err := checkID("customer ID", o.CustomerID, MaxCustomerLength); err != nil {
			return fmt.Errorf("%w; give the customer's ID in your systems, never a name or an email: it is searchable in plain text", err)
		}
	}
	if err := validateItems(o.Items); err != nil {
		return err
	}
	if strings.TrimSpace(o.PaymentToken) == "" {
		return fmt.Errorf("payment token is empty: give a card token such as tok_visa")
	}
	if len(o.PaymentToken) > MaxTextLength {
		return fmt.Errorf("payment token is %d characters long: the limit is %d", len(o.PaymentToken), MaxTextLength)
	}
	if strict {
		if i, r, bad := firstRune(o.PaymentToken, func(r rune) bool { return r <= ' ' || r > '~' }); bad {
			return fmt.Errorf("payment token has %q at position %d: a card token is printable ASCII without spaces, such as tok_visa", r, i+1)
		}
	}
	if strings.TrimSpace(o.Address) == "" {
		return fmt.Errorf("address is empty: give the shipping address")
	}
	if len(o.Address) > MaxTextLength {
		return fmt.Errorf("address is %d characters long: the limit is %d", len(o.Address), MaxTextLength)
	}
	if strict {
		if i, r, bad := firstRune(o.Address, func(r rune) bool { return r != '\n' && unicode.IsControl(r) || r == utf8.RuneError }); bad {
			return fmt.Errorf("address has %q at position %d: use printable text (line breaks are fine)", r, i+1)
		}
	}
	if w := time.Duration(o.CancelWindow); w < 0 || w > MaxCancelWindow {
		return fmt.Errorf("cancel window %s is out of range: use 0 to %s", w, MaxCancelWindow)
	}
	return nil
}

// firstRune finds the first rune of s for which bad holds: its byte
// position and the rune.
func firstRune(s string, bad func(rune) bool) (int, rune, bool) {
	for i, r := range s {
		if bad(r) {
			return i, r, true
		}
	}
	return 0, 0, false
}

func validateItems(items []inventory.Item) error {
	if len(items) == 0 {
		return fmt.Errorf("order has no items: add at least one SKU:QTY")
	}
	if len(items) > MaxLines {
		return fmt.Errorf("order has %d lines: the limit is %d; split the items over several orders", len(items), MaxLines)
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if err := checkID("SKU", it.SKU, MaxIDLength); err != nil {
			return err
		}
		if it.Qty < 1 || it.Qty > MaxQty {
			return fmt.Errorf("quantity of %s is %d: use 1 to %d", it.SKU, it.Qty, MaxQty)
		}
		if seen[it.SKU] {
			return fmt.Errorf("SKU %s is listed twice: give its total quantity once", it.SKU)
		}
		seen[it.SKU] = true
	}
	return nil
}

// checkID accepts letters, digits, '.', '_' and '-', starting with a letter
// or digit: safe in a workflow ID, an idempotency key and a URL.
func checkID(what, id string, max int) error {
	if id == "" {
		return fmt.Errorf("%s is empty: give up to %d letters, digits, '.', '_' and '-'", what, max)
	}
	if len(id) > max {
		return fmt.Errorf("%s is %d characters long: the limit is %d", what, len(id), max)
	}
	for i, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			i > 0 && (r == '.' || r == '_' || r == '-')
		if !ok {
			return fmt.Errorf("%s %q has %q at position %d: use letters, digits, '.', '_' and '-', starting with a letter or digit", what, id, r, i+1)
		}
	}
	return nil
}

// Duration is a time.Duration that reads and writes as a Go duration string
// ("10s", "1m30s") in JSON, so order files and the Web UI show "10s" rather
// than 10000000000.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string such as \"10s\" or \"1m30s\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %s: use a form such as \"10s\" or \"1m30s\"", QuoteInput(s))
	}
	*d = Duration(v)
	return nil
}
