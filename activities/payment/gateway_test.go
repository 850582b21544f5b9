package payment

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// waitTimeout bounds the tests' waits for a gateway call to begin or a
// charge to end.
const waitTimeout = 10 * time.Second

// hold stops the first call that reaches it until the test lets it go:
// entered is closed when that call arrives, and the call goes on when the
// test closes proceed. Later calls pass.
type hold struct {
	entered, proceed chan struct{}
	once             sync.Once
}

func newHold() *hold { return &hold{entered: make(chan struct{}), proceed: make(chan struct{})} }

func (h *hold) wait(ctx context.Context) error {
	if h == nil {
		return nil
	}
	first := false
	h.once.Do(func() { first = true })
	if !first {
		return nil
	}
	close(h.entered)
	select {
	case <-h.proceed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// gatewayDouble is the simulated gateway with the calls it was asked
// recorded, an Authorize or Capture that can be held, and Refunds that fail
// transiently the first refundFailures times.
type gatewayDouble struct {
	*SimulatedGateway
	authorize, capture *hold

	mu             sync.Mutex
	calls          []string
	refundFailures int
}

func newGatewayDouble() *gatewayDouble {
	return &gatewayDouble{SimulatedGateway: NewSimulatedGateway()}
}

func (g *gatewayDouble) record(call string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = append(g.calls, call)
}

// called returns the calls the gateway was asked, in order.
func (g *gatewayDouble) called() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.calls...)
}

func (g *gatewayDouble) Authorize(ctx context.Context, req AuthorizeRequest) error {
	g.record("authorize " + req.Key)
	if err := g.authorize.wait(ctx); err != nil {
		return err
	}
	return g.SimulatedGateway.Authorize(ctx, req)
}

func (g *gatewayDouble) Capture(ctx context.Context, key string, amountCents int64) error {
	g.record("capture " + key)
	if err := g.capture.wait(ctx); err != nil {
		return err
	}
	return g.SimulatedGateway.Capture(ctx, key, amountCents)
}

func (g *gatewayDouble) Void(ctx context.Context, key string) error {
	g.record("void " + key)
	return g.SimulatedGateway.Void(ctx, key)
}

func (g *gatewayDouble) Refund(ctx context.Context, key string, amountCents int64) error {
	g.record("refund " + key)
	g.mu.Lock()
	fail := g.refundFailures > 0
	if fail {
		g.refundFailures--
	}
	g.mu.Unlock()
	if fail {
		return fmt.Errorf("%w: timed out refunding %s", ErrGatewayUnavailable, key)
	}
	return g.SimulatedGateway.Refund(ctx, key, amountCents)
}

// openWithGateway opens a store on a new database of backend b that asks
// g.
func openWithGateway(t *testing.T, b pgtest.Backend, g Gateway) *Store {
	t.Helper()
	s := openOn(t, b)
	s.Gateway = g
	return s
}

// simulated is the store's own simulated gateway, whose ledger the tests
// read.
func simulated(t *testing.T, s *Store) *SimulatedGateway {
	t.Helper()
	g, ok := s.gateway().(*SimulatedGateway)
	if !ok {
		t.Fatalf("store's gateway is a %T, want a *SimulatedGateway", s.gateway())
	}
	return g
}

// assertGateway checks what the gateway holds for key; a zero want means
// the gateway never saw it.
func assertGateway(t *testing.T, g *SimulatedGateway, key string, want GatewayPayment) {
	t.Helper()
	got, _ := g.Payment(key)
	if got != want {
		t.Errorf("gateway holds %+v for %s, want %+v", got, key, want)
	}
}

func awaitClosed(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(waitTimeout):
		t.Fatalf("%s did not happen within %s", what, waitTimeout)
	}
}

type chargeOutcome struct {
	charge Charge
	err    error
}

// chargeInBackground runs s.Charge(req) and sends its outcome on the
// returned channel.
func chargeInBackground(s *Store, req ChargeRequest) <-chan chargeOutcome {
	done := make(chan chargeOutcome, 1)
	go func() {
		c, err := s.Charge(context.Background(), req, 1)
		done <- chargeOutcome{c, err}
	}()
	return done
}

func awaitCharge(t *testing.T, done <-chan chargeOutcome) chargeOutcome {
	t.Helper()
	select {
	case out := <-done:
		return out
	case <-time.After(waitTimeout):
		t.Fatalf("charge did not end within %s", waitTimeout)
		return chargeOutcome{}
	}
}

// A refund that arrives while the gateway is authorizing the charge voids
// the key; the charge, once authorized, finds the void, releases the
// authorization and fails: the customer's money is held for a moment and
// never taken. A refund of another placement, as a reused order ID sends,
// voids the key for that placement, and the charge fails as a key
// conflict, releasing too.
func TestChargeOvertakenByRefundReleasesAndNeverCaptures(t *testing.T) {
	tests := []struct {
		name            string
		refundPlacement string
		wantErr         error
	}{
		{"refund of the same placement", "p1", ErrKeyVoided},
		{"refund of another placement", "p2", ErrKeyConflict},
	}
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				g := newGatewayDouble()
				g.authorize = newHold()
				s := openWithGateway(t, backend, g)

				done := chargeInBackground(s, placedCharge("p1"))
				awaitClosed(t, g.authorize.entered, "the charge's authorization")
				res := mustRefundAs(t, s, placedRefund(tt.refundPlacement))
				if want := (RefundResult{Key: placedKey, Status: Voided}); res != want {
					t.Errorf("Refund = %+v, want %+v", res, want)
				}
				close(g.authorize.proceed)

				if out := awaitCharge(t, done); !errors.Is(out.err, tt.wantErr) {
					t.Fatalf("overtaken charge: %+v, err = %v; want %v", out.charge, out.err, tt.wantErr)
				}
				assertGateway(t, g.SimulatedGateway, placedKey, GatewayPayment{Token: TokenVisa, AuthorizedCents: 5000, Released: true})
				if want := []string{"authorize " + placedKey, "void " + placedKey}; !reflect.DeepEqual(g.called(), want) {
					t.Errorf("gateway was asked %q, want %q", g.called(), want)
				}
				if void, _ := storedCharge(t, s, placedKey); void.Placement != tt.refundPlacement {
					t.Errorf("stored charge = %+v, want the void of placement %q", void, tt.refundPlacement)
				}
				assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Voided: 1}})
			})
		}
	})
}

// A refund that arrives while the gateway is capturing waits for the
// capture and its record (both hold the key's lock), and gives the money
// back: it never voids a key whose money the gateway has taken.
func TestRefundDuringCaptureRefundsTheCapture(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		g := newGatewayDouble()
		g.capture = newHold()
		s := openWithGateway(t, backend, g)

		done := chargeInBackground(s, placedCharge("p1"))
		awaitClosed(t, g.capture.entered, "the charge's capture")
		type refundOutcome struct {
			res RefundResult
			err error
		}
		refunded := make(chan refundOutcome, 1)
		go func() {
			res, err := s.Refund(context.Background(), placedRefund("p1"))
			refunded <- refundOutcome{res, err}
		}()
		close(g.capture.proceed)

		if out := awaitCharge(t, done); out.err != nil || out.charge.Status != Captured {
			t.Fatalf("charge = %+v, err = %v; want captured", out.charge, out.err)
		}
		select {
		case out := <-refunded:
			if want := (RefundResult{Key: placedKey, Status: Refunded, AmountCents: 5000}); out.err != nil || out.res != want {
				t.Errorf("Refund = %+v, %v; want %+v", out.res, out.err, want)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("refund did not end within %s", waitTimeout)
		}
		assertGateway(t, g.SimulatedGateway, placedKey, GatewayPayment{Token: TokenVisa, AuthorizedCents: 5000, CapturedCents: 5000, RefundedCents: 5000})
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Refunded: 1}})
	})
}

// A captured charge is refunded at the gateway, then marked refunded; a
// second refund finds it refunded and asks the gateway nothing.
func TestRefundGivesCapturedMoneyBackAtTheGatewayOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		g := newGatewayDouble()
		s := openWithGateway(t, backend, g)
		mustCharge(t, s, chargeRequest("o1/charge", 3999, TokenVisa), 1)

		if res := mustRefund(t, s, "o1/charge"); res != (RefundResult{Key: "o1/charge", Status: Refunded, AmountCents: 3999}) {
			t.Errorf("first Refund = %+v, want refunded 3999", res)
		}
		if res := mustRefund(t, s, "o1/charge"); res != (RefundResult{Key: "o1/charge", Status: Refunded}) {
			t.Errorf("second Refund = %+v, want refunded, 0", res)
		}

		assertGateway(t, g.SimulatedGateway, "o1/charge", GatewayPayment{Token: TokenVisa, AuthorizedCents: 3999, CapturedCents: 3999, RefundedCents: 3999})
		if want := []string{"authorize o1/charge", "capture o1/charge", "refund o1/charge"}; !reflect.DeepEqual(g.called(), want) {
			t.Errorf("gateway was asked %q, want %q", g.called(), want)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Refunded: 1}})
	})
}

// A refund the gateway fails leaves the charge captured and says why, so
// the compensation retries; the retry refunds, once.
func TestRefundThatTheGatewayFailsStaysCapturedUntilRetried(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		g := newGatewayDouble()
		g.refundFailures = 1
		s := openWithGateway(t, backend, g)
		mustCharge(t, s, chargeRequest("o1/charge", 2500, TokenVisa), 1)

		_, err := s.Refund(context.Background(), RefundRequest{Key: "o1/charge", OrderID: "o1"})
		if !errors.Is(err, ErrGatewayUnavailable) {
			t.Fatalf("Refund with the gateway down: err = %v, want ErrGatewayUnavailable", err)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 2500})
		assertGateway(t, g.SimulatedGateway, "o1/charge", GatewayPayment{Token: TokenVisa, AuthorizedCents: 2500, CapturedCents: 2500})

		if res := mustRefund(t, s, "o1/charge"); res != (RefundResult{Key: "o1/charge", Status: Refunded, AmountCents: 2500}) {
			t.Errorf("retried Refund = %+v, want refunded 2500", res)
		}
		assertGateway(t, g.SimulatedGateway, "o1/charge", GatewayPayment{Token: TokenVisa, AuthorizedCents: 2500, CapturedCents: 2500, RefundedCents: 2500})
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Refunded: 1}})
	})
}

// The activity leaves a failing gateway refund to Temporal's retries.
func TestRefundPaymentActivityGatewayFailureIsRetryable(t *testing.T) {
	s := openTestStore(t)
	g := newGatewayDouble()
	g.refundFailures = 1
	s.Gateway = g
	mustCharge(t, s, chargeRequest("o1/charge", 1500, TokenVisa), 1)
	env, a := newActivityEnv(t, s)

	_, err := env.ExecuteActivity(a.RefundPayment, RefundRequest{Key: "o1/charge", OrderID: "o1"})
	if appErr := applicationError(t, err); appErr.NonRetryable() {
		t.Errorf("gateway failure came out non-retryable (type %q): %v", appErr.Type(), err)
	}
	assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 1500})
}

// The gateway's side of the outcomes the store records: a capture for a
// charge, nothing for a decline or a key recorded first, and no second
// authorization for a repeated charge.
func TestChargeAsksTheGatewayAsTheRecordRequires(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name      string
			setup     func(t *testing.T, s *Store)
			req       ChargeRequest
			wantErr   error
			wantCalls []string
			want      GatewayPayment
		}{
			{
				name:      "approved",
				req:       chargeRequest("o1/charge", 1500, TokenVisa),
				wantCalls: []string{"authorize o1/charge", "capture o1/charge"},
				want:      GatewayPayment{Token: TokenVisa, AuthorizedCents: 1500, CapturedCents: 1500},
			},
			{
				name:      "declined",
				req:       chargeRequest("o1/charge", 1500, TokenDeclined),
				wantErr:   ErrDeclined,
				wantCalls: []string{"authorize o1/charge"},
			},
			{
				name:  "repeated",
				setup: func(t *testing.T, s *Store) { mustCharge(t, s, chargeRequest("o1/charge", 1500, TokenVisa), 1) },
				req:   chargeRequest("o1/charge", 1500, TokenVisa),
				want:  GatewayPayment{Token: TokenVisa, AuthorizedCents: 1500, CapturedCents: 1500},
			},
			{
				// Voiding a key the gateway never saw changes nothing
				// there; it is asked in case an earlier attempt captured.
				name:      "voided first",
				setup:     func(t *testing.T, s *Store) { mustRefund(t, s, "o1/charge") },
				req:       chargeRequest("o1/charge", 1500, TokenVisa),
				wantErr:   ErrKeyVoided,
				wantCalls: []string{"void o1/charge"},
			},
			{
				// An earlier attempt captured, then could not record it
				// (a crash, a lost connection at commit) before a cancel
				// voided the key: the retry gives the money back.
				name: "captured but not recorded, then voided",
				setup: func(t *testing.T, s *Store) {
					g := s.Gateway.(*gatewayDouble)
					ctx := context.Background()
					if err := errors.Join(g.SimulatedGateway.Authorize(ctx, AuthorizeRequest{Key: "o1/charge", Token: TokenVisa, AmountCents: 1500, Attempt: 1}),
						g.SimulatedGateway.Capture(ctx, "o1/charge", 1500)); err != nil {
						t.Fatal(err)
					}
					mustRefund(t, s, "o1/charge")
				},
				req:       chargeRequest("o1/charge", 1500, TokenVisa),
				wantErr:   ErrKeyVoided,
				wantCalls: []string{"void o1/charge", "refund o1/charge"},
				want:      GatewayPayment{Token: TokenVisa, AuthorizedCents: 1500, CapturedCents: 1500, RefundedCents: 1500},
			},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				g := newGatewayDouble()
				s := openWithGateway(t, backend, g)
				if tt.setup != nil {
					tt.setup(t, s)
				}
				before := len(g.called())

				_, err := s.Charge(context.Background(), tt.req, 1)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("Charge: err = %v, want %v", err, tt.wantErr)
				}
				if calls := g.called()[before:]; !slices.Equal(calls, tt.wantCalls) {
					t.Errorf("gateway was asked %q, want %q", calls, tt.wantCalls)
				}
				assertGateway(t, g.SimulatedGateway, "o1/charge", tt.want)
			})
		}
	})
}

// The simulated gateway is idempotent by key, as the store relies on.
func TestSimulatedGatewayIsIdempotentByKey(t *testing.T) {
	ctx := context.Background()
	visa := AuthorizeRequest{Key: "k", Token: TokenVisa, AmountCents: 700, Attempt: 1}
	tests := []struct {
		name    string
		calls   func(g *SimulatedGateway) error
		wantErr error
		want    GatewayPayment
	}{
		{
			name: "authorize twice holds once",
			calls: func(g *SimulatedGateway) error {
				return errors.Join(g.Authorize(ctx, visa), g.Authorize(ctx, visa))
			},
			want: GatewayPayment{Token: TokenVisa, AuthorizedCents: 700},
		},
		{
			name: "authorize the key for another amount",
			calls: func(g *SimulatedGateway) error {
				other := visa
				other.AmountCents = 800
				return errors.Join(g.Authorize(ctx, visa), g.Authorize(ctx, other))
			},
			wantErr: ErrKeyConflict,
			want:    GatewayPayment{Token: TokenVisa, AuthorizedCents: 700},
		},
		{
			name: "capture twice takes once",
			calls: func(g *SimulatedGateway) error {
				return errors.Join(g.Authorize(ctx, visa), g.Capture(ctx, "k", 700), g.Capture(ctx, "k", 700))
			},
			want: GatewayPayment{Token: TokenVisa, AuthorizedCents: 700, CapturedCents: 700},
		},
		{
			name: "a released authorization is never captured",
			calls: func(g *SimulatedGateway) error {
				return errors.Join(g.Authorize(ctx, visa), g.Void(ctx, "k"), g.Capture(ctx, "k", 700))
			},
			wantErr: errAny,
			want:    GatewayPayment{Token: TokenVisa, AuthorizedCents: 700, Released: true},
		},
		{
			name: "void leaves a capture",
			calls: func(g *SimulatedGateway) error {
				return errors.Join(g.Authorize(ctx, visa), g.Capture(ctx, "k", 700), g.Void(ctx, "k"))
			},
			wantErr: ErrAlreadyCaptured,
			want:    GatewayPayment{Token: TokenVisa, AuthorizedCents: 700, CapturedCents: 700},
		},
		{
			name: "refund twice gives back once",
			calls: func(g *SimulatedGateway) error {
				return errors.Join(g.Authorize(ctx, visa), g.Capture(ctx, "k", 700), g.Refund(ctx, "k", 700), g.Refund(ctx, "k", 700))
			},
			want: GatewayPayment{Token: TokenVisa, AuthorizedCents: 700, CapturedCents: 700, RefundedCents: 700},
		},
		{
			name:    "capture without authorization",
			calls:   func(g *SimulatedGateway) error { return g.Capture(ctx, "k", 700) },
			wantErr: errAny,
		},
		{
			name: "decline holds nothing",
			calls: func(g *SimulatedGateway) error {
				return g.Authorize(ctx, AuthorizeRequest{Key: "k", Token: TokenDeclined, AmountCents: 700, Attempt: 1})
			},
			wantErr: ErrDeclined,
		},
		{
			// A capture by another worker process or before a restart.
			name:  "refund of a capture the gateway did not see",
			calls: func(g *SimulatedGateway) error { return g.Refund(ctx, "k", 700) },
			want:  GatewayPayment{RefundedCents: 700},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := NewSimulatedGateway()
			err := tt.calls(g)
			switch {
			case tt.wantErr == nil && err != nil,
				tt.wantErr == errAny && err == nil,
				tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			assertGateway(t, g, "k", tt.want)
		})
	}
}

// errAny stands for any error in TestSimulatedGatewayIsIdempotentByKey.
var errAny = errors.New("any error")
