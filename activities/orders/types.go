// Package orders is the order service's own store: the register of every
// order ID ever placed and the placement that holds it. Temporal refuses a
// second workflow with an order's ID only for as long as it remembers the
// first (the namespace's retention); this register remembers for ever, so
// an order ID is used once, whatever Temporal has forgotten. The order
// workflow claims its order ID here as its first step, before it touches
// stock, money or parcels.
package orders

import (
	"errors"
	"fmt"
	"time"
)

// ClaimRequest claims OrderID for one placement of it. A placement is one
// run of the order's workflow, kept through Temporal's resets (the run's
// first run ID); WorkflowID is the workflow it runs as ("order-42").
type ClaimRequest struct {
	OrderID    string `json:"order_id"`
	WorkflowID string `json:"workflow_id"`
	Placement  string `json:"placement"`
	// InputEncrypted is whether the order's input reached the worker
	// encrypted. A worker that requires encryption refuses the claim of an
	// order sent in clear, so that it does not run silently.
	InputEncrypted bool `json:"input_encrypted"`
}

// Claim is an order ID as the register holds it: which placement claimed
// it, as which workflow, and when.
type Claim struct {
	OrderID    string    `json:"order_id"`
	WorkflowID string    `json:"workflow_id"`
	Placement  string    `json:"placement"`
	ClaimedAt  time.Time `json:"claimed_at"`
}

// Business errors, turned into non-retryable application errors by the
// activity.
var (
	// ErrOrderIDUsed: another placement claimed the order ID first.
	ErrOrderIDUsed = errors.New("order ID already used")
	ErrInvalid     = errors.New("invalid claim")
	// ErrInputNotEncrypted: the order's input reached a worker that
	// requires encryption in clear. It names the fix: the variables are
	// internal/platform/connect's CodecKeyFileEnv and CodecKeysEnv.
	ErrInputNotEncrypted = errors.New("order input arrived unencrypted and this worker requires encryption: " +
		"place it with the workers' key ring (ORDERSAGA_CODEC_KEY_FILE or ORDERSAGA_CODEC_KEYS)")
)

// Application error types the order workflow and clients can match on.
const (
	OrderIDUsedError = "OrderIDUsed"
	InvalidError     = "InvalidRequest"
	// EncryptionRequiredError is ErrInputNotEncrypted. A failure's type is
	// never encrypted: a client without the key ring, which cannot read
	// the message, can still tell this refusal by its type.
	EncryptionRequiredError = "EncryptionRequired"
)

func (r ClaimRequest) validate() error {
	switch {
	case r.OrderID == "":
		return fmt.Errorf("%w: empty order ID", ErrInvalid)
	case r.WorkflowID == "":
		return fmt.Errorf("%w: empty workflow ID", ErrInvalid)
	case r.Placement == "":
		return fmt.Errorf("%w: empty placement", ErrInvalid)
	}
	return nil
}
