package payment

import (
	"context"
	"fmt"
	"strings"
	"sync"
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

// Gateway is a card gateway, in two phases as real ones are: Authorize
// holds the money on the card, Capture takes what was held, Void releases a
// hold that will not be captured, Refund gives captured money back. Every
// call is idempotent by the charge's key, which the gateway takes as its
// idempotency key: asked twice, it does the thing once and answers the same.
//
// The two phases let the store ask the slow part, Authorize, outside any
// transaction, and decide whether to take the money (Capture) or not (Void)
// once it holds the key's lock and knows whether a refund overtook the
// charge.
//
// Errors: ErrDeclined when the card is refused, ErrKeyConflict when the key
// was authorized for another request, ErrGatewayUnavailable (or any other
// error) when the call may succeed if asked again.
type Gateway interface {
	Authorize(ctx context.Context, req AuthorizeRequest) error
	Capture(ctx context.Context, key string, amountCents int64) error
	Void(ctx context.Context, key string) error
	Refund(ctx context.Context, key string, amountCents int64) error
}

// AuthorizeRequest asks the gateway to hold AmountCents on the card behind
// Token, under the idempotency key Key.
type AuthorizeRequest struct {
	Key         string
	Token       string
	AmountCents int64
	// Attempt is the charge activity's attempt number (1 for the first).
	// A real gateway has no use for it; the simulated one times TokenFlaky
	// out on the first FlakyFailures attempts.
	Attempt int32
}

// GatewayPayment is what the simulated gateway holds for one key: the
// amounts it authorized, captured and refunded, and whether it released
// the authorization.
type GatewayPayment struct {
	Token           string
	AuthorizedCents int64
	CapturedCents   int64
	RefundedCents   int64
	Released        bool
}

// SimulatedGateway is the card gateway the service uses: it knows the test
// tokens only and keeps its ledger in memory, one GatewayPayment per key,
// which tests read with Payment. Use NewSimulatedGateway.
//
// Its ledger lives in the worker's process, so a charge captured by another
// worker process or before a restart is unknown to it: it refunds such a
// charge on the store's word, where a real gateway, whose ledger is one and
// durable, would find the capture.
type SimulatedGateway struct {
	mu       sync.Mutex
	payments map[string]GatewayPayment
}

// NewSimulatedGateway returns a simulated gateway with an empty ledger.
func NewSimulatedGateway() *SimulatedGateway {
	return &SimulatedGateway{payments: map[string]GatewayPayment{}}
}

// Payment returns what the gateway holds for key, or ok false if it was
// never authorized or refunded there.
func (g *SimulatedGateway) Payment(key string) (p GatewayPayment, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok = g.payments[key]
	return p, ok
}

// Authorize approves, declines or fails transiently as the token says (see
// the test tokens). A key it already authorized is answered at once, as
// before, if the request is the same, and refused with ErrKeyConflict if
// not. Declines and failures are not kept: asked again, it decides again.
func (g *SimulatedGateway) Authorize(ctx context.Context, req AuthorizeRequest) error {
	if done, err := g.replayAuthorization(req); done {
		return err
	}
	if err := decide(ctx, req); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if p, ok := g.payments[req.Key]; ok { // authorized by another call meanwhile
		return sameAuthorization(p, req)
	}
	g.payments[req.Key] = GatewayPayment{Token: req.Token, AuthorizedCents: req.AmountCents}
	return nil
}

// replayAuthorization answers an Authorize whose key the gateway already
// authorized; done is false if it did not.
func (g *SimulatedGateway) replayAuthorization(req AuthorizeRequest) (done bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.payments[req.Key]
	if !ok || p.AuthorizedCents == 0 {
		return false, nil
	}
	return true, sameAuthorization(p, req)
}

func sameAuthorization(p GatewayPayment, req AuthorizeRequest) error {
	if p.Token != req.Token || p.AuthorizedCents != req.AmountCents {
		return fmt.Errorf("%w: the gateway holds %d cents for %s on another card or amount; order IDs cannot be reused", ErrKeyConflict, p.AuthorizedCents, req.Key)
	}
	return nil
}

// decide is the simulated issuer's answer for a new authorization: nil to
// approve, ErrDeclined, or ErrGatewayUnavailable.
func decide(ctx context.Context, req AuthorizeRequest) error {
	switch req.Token {
	case TokenVisa:
		return nil
	case TokenSlow:
		select {
		case <-time.After(SlowDelay):
			return nil
		case <-ctx.Done():
			return fmt.Errorf("%w: gave up waiting for %s: %w", ErrGatewayUnavailable, req.Key, ctx.Err())
		}
	case TokenDeclined:
		return fmt.Errorf("%w: card was declined by the issuer", ErrDeclined)
	case TokenFlaky:
		if req.Attempt <= FlakyFailures {
			return fmt.Errorf("%w: timed out on attempt %d", ErrGatewayUnavailable, req.Attempt)
		}
		return nil
	}
	return fmt.Errorf("%w: unknown payment token (test tokens: %s)", ErrDeclined, strings.Join(Tokens, ", "))
}

// Capture takes amountCents of the key's authorization; a key already
// captured is left as it is. It refuses a key it has not authorized or has
// released, and an amount above the authorized one.
func (g *SimulatedGateway) Capture(_ context.Context, key string, amountCents int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.payments[key]
	switch {
	case p.CapturedCents > 0:
		return nil
	case p.AuthorizedCents == 0:
		return fmt.Errorf("no authorization for %s to capture; authorize the charge first", key)
	case p.Released:
		return fmt.Errorf("the authorization for %s was released; charge again with a new key", key)
	case amountCents > p.AuthorizedCents:
		return fmt.Errorf("%d cents is more than the %d authorized for %s; capture at most the authorized amount", amountCents, p.AuthorizedCents, key)
	}
	p.CapturedCents = amountCents
	g.payments[key] = p
	return nil
}

// Void releases the key's authorization, so the money held on the card is
// free again. A key without one, or already refunded, is left as it is; a
// key whose money was captured is refused with ErrAlreadyCaptured, as card
// gateways refuse to void a capture: only Refund gives that money back.
func (g *SimulatedGateway) Void(_ context.Context, key string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	p, ok := g.payments[key]
	switch {
	case !ok || p.RefundedCents > 0:
		return nil
	case p.CapturedCents > 0:
		return fmt.Errorf("void %s: %w", key, ErrAlreadyCaptured)
	}
	p.Released = true
	g.payments[key] = p
	return nil
}

// Refund gives amountCents of the key's capture back; a key already
// refunded is left as it is. A key whose capture the gateway did not see
// is refunded on the store's word (see SimulatedGateway).
func (g *SimulatedGateway) Refund(_ context.Context, key string, amountCents int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := g.payments[key]
	switch {
	case p.RefundedCents > 0:
		return nil
	case p.CapturedCents > 0 && amountCents > p.CapturedCents:
		return fmt.Errorf("%d cents is more than the %d captured for %s; refund at most the captured amount", amountCents, p.CapturedCents, key)
	}
	p.RefundedCents = amountCents
	g.payments[key] = p
	return nil
}
