package payment

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Test tokens, in the style of card gateways' test cards. They are the only
// tokens the simulated gateway knows.
const (
	// TokenVisa is a card that is always approved.
	TokenVisa = "tok_visa"
	// TokenDeclined is a card that is always declined.
	TokenDeclined = "tok_declined"
	// TokenFlaky is a card whose gateway times out on the first
	// FlakyFailures attempts and approves after that, to show retries.
	TokenFlaky = "tok_flaky"
	// TokenSlow is a card the gateway takes SlowDelay to approve, to show
	// a cancel or a worker crash in the middle of a charge.
	TokenSlow = "tok_slow"
)

// SlowDelay is how long the gateway takes to approve TokenSlow.
const SlowDelay = 3 * time.Second

// FlakyFailures is how many attempts TokenFlaky fails before it approves.
const FlakyFailures = 2

// Tokens lists the test tokens, for help texts and error messages.
var Tokens = []string{TokenVisa, TokenDeclined, TokenFlaky, TokenSlow}

// authorize is the simulated card gateway: it approves, declines, or fails
// transiently. attempt is the activity's attempt number (1 for the first).
// A real gateway would also be given key, as its idempotency key.
func authorize(ctx context.Context, key, token string, attempt int32) error {
	switch token {
	case TokenVisa:
		return nil
	case TokenSlow:
		select {
		case <-time.After(SlowDelay):
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%w: gave up waiting for %s: %w", ErrGatewayUnavailable, key, ctx.Err())
		}
	case TokenDeclined:
		return fmt.Errorf("%w: card was declined by the issuer", ErrDeclined)
	case TokenFlaky:
		if attempt <= FlakyFailures {
			return fmt.Errorf("%w: timed out on attempt %d", ErrGatewayUnavailable, attempt)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown payment token (test tokens: %s)", ErrDeclined, strings.Join(Tokens, ", "))
}
