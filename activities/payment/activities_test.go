package payment

import (
	"errors"
	"testing"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

func newActivityEnv(t *testing.T, s *Store) (*testsuite.TestActivityEnvironment, *Activities) {
	t.Helper()
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestActivityEnvironment()
	a := &Activities{Store: s}
	env.RegisterActivity(a)
	return env, a
}

func applicationError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %T %v, want a *temporal.ApplicationError in it", err, err)
	}
	return appErr
}

func TestChargePaymentActivityCaptures(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)

	val, err := env.ExecuteActivity(a.ChargePayment, chargeRequest("o1/charge", 1500, TokenVisa))
	if err != nil {
		t.Fatalf("ChargePayment: %v", err)
	}
	var c Charge
	if err := val.Get(&c); err != nil {
		t.Fatal(err)
	}
	if c.Status != Captured || c.AmountCents != 1500 {
		t.Errorf("charge = %+v, want captured 1500", c)
	}
	assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 1500})
}

func TestChargePaymentActivityBusinessFailuresAreNonRetryable(t *testing.T) {
	tests := []struct {
		name       string
		setup      func(t *testing.T, s *Store)
		req        ChargeRequest
		wantType   string
		wantLedger ledger
	}{
		{
			name:       "declined",
			req:        chargeRequest("o1/charge", 1500, TokenDeclined),
			wantType:   DeclinedError,
			wantLedger: ledger{rows: 1, byStatus: map[string]int{Declined: 1}},
		},
		{
			name:       "unknown token",
			req:        chargeRequest("o1/charge", 1500, "tok_unknown"),
			wantType:   DeclinedError,
			wantLedger: ledger{rows: 1, byStatus: map[string]int{Declined: 1}},
		},
		{
			name:       "key reused for another amount",
			setup:      func(t *testing.T, s *Store) { mustCharge(t, s, chargeRequest("o1/charge", 1000, TokenVisa), 1) },
			req:        chargeRequest("o1/charge", 1500, TokenVisa),
			wantType:   KeyConflictError,
			wantLedger: ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 1000},
		},
		{
			// tok_flaky would time out at the gateway on this first
			// attempt: the key is refused before it is asked.
			name:  "key of another placement",
			setup: func(t *testing.T, s *Store) { mustCharge(t, s, placedCharge("p1"), 1) },
			req: ChargeRequest{Key: placedKey, OrderID: "o1", Placement: "p2", AmountCents: 5000,
				Token: TokenFlaky},
			wantType:   KeyConflictError,
			wantLedger: ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 5000},
		},
		{
			name:       "key voided by an earlier refund",
			setup:      func(t *testing.T, s *Store) { mustRefund(t, s, "o1/charge") },
			req:        chargeRequest("o1/charge", 1500, TokenVisa),
			wantType:   KeyVoidedError,
			wantLedger: ledger{rows: 1, byStatus: map[string]int{Voided: 1}},
		},
		{
			name:     "invalid request",
			req:      chargeRequest("o1/charge", 0, TokenVisa),
			wantType: InvalidError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t)
			if tt.setup != nil {
				tt.setup(t, s)
			}
			env, a := newActivityEnv(t, s)

			_, err := env.ExecuteActivity(a.ChargePayment, tt.req)
			appErr := applicationError(t, err)
			if !appErr.NonRetryable() {
				t.Errorf("error is retryable, want non-retryable: %v", err)
			}
			if appErr.Type() != tt.wantType {
				t.Errorf("error type = %q, want %q", appErr.Type(), tt.wantType)
			}
			assertLedger(t, s, tt.wantLedger)
		})
	}
}

// In the test environment the activity runs as attempt 1, so tok_flaky's
// gateway times out: that must be left to Temporal's retries.
func TestChargePaymentActivityGatewayTimeoutIsRetryable(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)

	_, err := env.ExecuteActivity(a.ChargePayment, chargeRequest("o1/charge", 1500, TokenFlaky))
	appErr := applicationError(t, err)
	if appErr.NonRetryable() {
		t.Errorf("gateway timeout came out non-retryable (type %q): %v", appErr.Type(), err)
	}
	if appErr.Type() == DeclinedError {
		t.Errorf("gateway timeout came out as %s", DeclinedError)
	}
	assertLedger(t, s, ledger{})
}

func TestChargePaymentActivityStoreFailureIsRetryable(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)
	s.Close()

	_, err := env.ExecuteActivity(a.ChargePayment, chargeRequest("o1/charge", 1500, TokenVisa))
	if err == nil {
		t.Fatal("ChargePayment on a closed store succeeded")
	}
	if appErr := applicationError(t, err); appErr.NonRetryable() {
		t.Errorf("store failure came out non-retryable (type %q): %v", appErr.Type(), err)
	}
}

func TestRefundPaymentActivityRefunds(t *testing.T) {
	s := openTestStore(t)
	mustCharge(t, s, chargeRequest("o1/charge", 1500, TokenVisa), 1)
	env, a := newActivityEnv(t, s)

	val, err := env.ExecuteActivity(a.RefundPayment, RefundRequest{Key: "o1/charge", OrderID: "o1"})
	if err != nil {
		t.Fatalf("RefundPayment: %v", err)
	}
	var res RefundResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != Refunded || res.AmountCents != 1500 {
		t.Errorf("result = %+v, want refunded 1500", res)
	}
	assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Refunded: 1}})
}

// A refund of a key that another placement of the order ID holds cannot
// succeed by retrying: it fails at once and leaves that charge alone.
func TestRefundPaymentActivityRefusesAnotherPlacementsKey(t *testing.T) {
	s := openTestStore(t)
	held := mustCharge(t, s, placedCharge("p1"), 1)
	env, a := newActivityEnv(t, s)

	_, err := env.ExecuteActivity(a.RefundPayment, placedRefund("p2"))
	appErr := applicationError(t, err)
	if !appErr.NonRetryable() || appErr.Type() != KeyConflictError {
		t.Errorf("error = %v (type %q, non-retryable %v), want a non-retryable %s", err, appErr.Type(), appErr.NonRetryable(), KeyConflictError)
	}
	if stored, _ := storedCharge(t, s, placedKey); stored != held {
		t.Errorf("stored charge = %+v, want the held %+v", stored, held)
	}
	assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 5000})
}

func TestRefundPaymentActivityStoreFailureIsRetryable(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)
	s.Close()

	_, err := env.ExecuteActivity(a.RefundPayment, RefundRequest{Key: "o1/charge", OrderID: "o1"})
	if err == nil {
		t.Fatal("RefundPayment on a closed store succeeded")
	}
	if appErr := applicationError(t, err); appErr.NonRetryable() {
		t.Errorf("store failure came out non-retryable: %v", err)
	}
}
