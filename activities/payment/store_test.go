package payment

import (
	"context"
	"errors"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// concurrency is how many goroutines race on one key in the concurrent tests.
const concurrency = 20

func openTestStore(t *testing.T) *Store {
	t.Helper()
	return openStoreAt(t, filepath.Join(t.TempDir(), DatabaseFile))
}

// openStoreAt opens the store at source, a SQLite path or a PostgreSQL DSN,
// and closes it when t ends.
func openStoreAt(t *testing.T, source string) *Store {
	t.Helper()
	s, err := Open(context.Background(), source)
	if err != nil {
		t.Fatalf("Open(%s): %v", source, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func chargeRequest(key string, amountCents int64, token string) ChargeRequest {
	return ChargeRequest{Key: key, OrderID: "o1", AmountCents: amountCents, Token: token}
}

func mustCharge(t *testing.T, s *Store, req ChargeRequest, attempt int32) Charge {
	t.Helper()
	c, err := s.Charge(context.Background(), req, attempt)
	if err != nil {
		t.Fatalf("Charge(%+v, attempt %d): %v", req, attempt, err)
	}
	return c
}

func mustRefund(t *testing.T, s *Store, key string) RefundResult {
	t.Helper()
	res, err := s.Refund(context.Background(), RefundRequest{Key: key, OrderID: "o1"})
	if err != nil {
		t.Fatalf("Refund(%s): %v", key, err)
	}
	return res
}

// storedCharge returns the record kept under key, or ok false.
func storedCharge(t *testing.T, s *Store, key string) (Charge, bool) {
	t.Helper()
	c, found, err := s.ChargeByKey(context.Background(), key)
	if err != nil {
		t.Fatalf("ChargeByKey(%s): %v", key, err)
	}
	return c, found
}

// ledger is what the store holds: rows by status and the captured money.
type ledger struct {
	rows          int
	byStatus      map[string]int
	capturedCents int64
}

func readLedger(t *testing.T, s *Store) ledger {
	t.Helper()
	charges, err := s.Charges(context.Background())
	if err != nil {
		t.Fatalf("Charges: %v", err)
	}
	l := ledger{rows: len(charges), byStatus: map[string]int{}}
	for _, c := range charges {
		l.byStatus[c.Status]++
		if c.Status == Captured {
			l.capturedCents += c.AmountCents
		}
	}
	return l
}

func assertLedger(t *testing.T, s *Store, want ledger) {
	t.Helper()
	if want.byStatus == nil {
		want.byStatus = map[string]int{}
	}
	if got := readLedger(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("store holds %+v, want %+v", got, want)
	}
}

func runConcurrently(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

func TestChargeWithVisaCaptures(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		c := mustCharge(t, s, chargeRequest("o1/charge", 4999, TokenVisa), 1)

		if c.Status != Captured || c.AmountCents != 4999 || c.Key != "o1/charge" || c.OrderID != "o1" || c.ID == "" {
			t.Errorf("charge = %+v, want captured 4999 for o1 with an ID", c)
		}
		if stored, _ := storedCharge(t, s, "o1/charge"); stored != c {
			t.Errorf("stored charge = %+v, want %+v", stored, c)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 4999})
	})
}

func TestChargeDeclinedIsRecordedAndDeclinedAgain(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		for _, token := range []string{TokenDeclined, "tok_nobody_knows"} {
			t.Run(token, func(t *testing.T) {
				s := openOn(t, backend)
				req := chargeRequest("o1/charge", 2500, token)

				_, err := s.Charge(context.Background(), req, 1)
				if !errors.Is(err, ErrDeclined) {
					t.Fatalf("err = %v, want ErrDeclined", err)
				}
				if c, found := storedCharge(t, s, "o1/charge"); !found || c.Status != Declined || c.AmountCents != 2500 {
					t.Errorf("stored = %+v (found %v), want a declined record of 2500", c, found)
				}

				// Asked again (a retry, a duplicate delivery) the answer is
				// the recorded one, and still nothing is captured.
				for attempt := int32(2); attempt <= 3; attempt++ {
					if _, err := s.Charge(context.Background(), req, attempt); !errors.Is(err, ErrDeclined) {
						t.Errorf("attempt %d: err = %v, want ErrDeclined", attempt, err)
					}
				}
				assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Declined: 1}})
			})
		}
	})
}

// A declined record answers for the key: the gateway is not asked again,
// so a token that would now be approved does not change the outcome.
func TestChargeDeclinedKeyDoesNotAskGatewayAgain(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		if _, err := s.Charge(context.Background(), chargeRequest("o1/charge", 2500, TokenDeclined), 1); !errors.Is(err, ErrDeclined) {
			t.Fatalf("err = %v, want ErrDeclined", err)
		}
		if _, err := s.Charge(context.Background(), chargeRequest("o1/charge", 2500, TokenVisa), 2); !errors.Is(err, ErrDeclined) {
			t.Errorf("second charge: err = %v, want the recorded ErrDeclined", err)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Declined: 1}})
	})
}

func TestChargeFlakyGatewayFailsTwiceThenCaptures(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		req := chargeRequest("o1/charge", 1299, TokenFlaky)

		for attempt := int32(1); attempt <= FlakyFailures; attempt++ {
			_, err := s.Charge(context.Background(), req, attempt)
			if !errors.Is(err, ErrGatewayUnavailable) {
				t.Fatalf("attempt %d: err = %v, want ErrGatewayUnavailable", attempt, err)
			}
			if errors.Is(err, ErrDeclined) {
				t.Fatalf("attempt %d: a gateway timeout must not read as declined: %v", attempt, err)
			}
			if _, found := storedCharge(t, s, "o1/charge"); found {
				t.Fatalf("attempt %d: a record was kept for a transient failure", attempt)
			}
		}

		c := mustCharge(t, s, req, FlakyFailures+1)
		if c.Status != Captured || c.AmountCents != 1299 {
			t.Errorf("charge on attempt %d = %+v, want captured 1299", FlakyFailures+1, c)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 1299})
	})
}

func TestChargeSameKeyTwiceCapturesOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		req := chargeRequest("o1/charge", 7777, TokenVisa)
		first := mustCharge(t, s, req, 1)
		second := mustCharge(t, s, req, 2)
		if first != second {
			t.Errorf("second Charge = %+v, want the first %+v", second, first)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 7777})
	})
}

func TestChargeConcurrentSameKeyCapturesOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		req := chargeRequest("o1/charge", 4321, TokenVisa)

		results := make([]Charge, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = s.Charge(context.Background(), req, 1)
		})

		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Charge #%d: %v", i, errs[i])
				continue
			}
			if results[i] != results[0] {
				t.Errorf("Charge #%d = %+v, want %+v like #0", i, results[i], results[0])
			}
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 4321})
	})
}

func TestChargeConcurrentDeclinedKeepsOneRecord(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		req := chargeRequest("o1/charge", 4321, TokenDeclined)

		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			_, errs[i] = s.Charge(context.Background(), req, 1)
		})
		for i, err := range errs {
			if !errors.Is(err, ErrDeclined) {
				t.Errorf("Charge #%d: err = %v, want ErrDeclined", i, err)
			}
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Declined: 1}})
	})
}

func TestChargeSameKeyDifferentRequestConflicts(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name string
			req  ChargeRequest
		}{
			{"other amount", chargeRequest("o1/charge", 5001, TokenVisa)},
			{"other order", ChargeRequest{Key: "o1/charge", OrderID: "o2", AmountCents: 5000, Token: TokenVisa}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				first := mustCharge(t, s, chargeRequest("o1/charge", 5000, TokenVisa), 1)

				_, err := s.Charge(context.Background(), tt.req, 1)
				if !errors.Is(err, ErrKeyConflict) {
					t.Fatalf("err = %v, want ErrKeyConflict", err)
				}
				if stored, _ := storedCharge(t, s, "o1/charge"); stored != first {
					t.Errorf("stored = %+v, want the first %+v", stored, first)
				}
				assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 5000})
			})
		}
	})
}

func TestChargeRejectsInvalidRequests(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name string
			req  ChargeRequest
		}{
			{"zero amount", chargeRequest("o1/charge", 0, TokenVisa)},
			{"negative amount", chargeRequest("o1/charge", -100, TokenVisa)},
			{"empty token", chargeRequest("o1/charge", 100, "")},
			{"empty key", chargeRequest("", 100, TokenVisa)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				_, err := s.Charge(context.Background(), tt.req, 1)
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				assertLedger(t, s, ledger{})
			})
		}
	})
}

func TestRefundGivesCapturedMoneyBackOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		c := mustCharge(t, s, chargeRequest("o1/charge", 3999, TokenVisa), 1)

		first := mustRefund(t, s, "o1/charge")
		if want := (RefundResult{Key: "o1/charge", Status: Refunded, AmountCents: 3999}); first != want {
			t.Errorf("first Refund = %+v, want %+v", first, want)
		}
		second := mustRefund(t, s, "o1/charge")
		if want := (RefundResult{Key: "o1/charge", Status: Refunded, AmountCents: 0}); second != want {
			t.Errorf("second Refund = %+v, want %+v", second, want)
		}
		stored, _ := storedCharge(t, s, "o1/charge")
		if stored.Status != Refunded || stored.AmountCents != c.AmountCents || stored.ID != c.ID {
			t.Errorf("stored = %+v, want the charge %s marked refunded", stored, c.ID)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Refunded: 1}})
	})
}

func TestRefundConcurrentRefundsOnce(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		mustCharge(t, s, chargeRequest("o1/charge", 2000, TokenVisa), 1)

		results := make([]RefundResult, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = s.Refund(context.Background(), RefundRequest{Key: "o1/charge", OrderID: "o1"})
		})

		var refunded int64
		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Refund #%d: %v", i, errs[i])
				continue
			}
			if results[i].Status != Refunded {
				t.Errorf("Refund #%d status = %q, want %q", i, results[i].Status, Refunded)
			}
			refunded += results[i].AmountCents
		}
		if refunded != 2000 {
			t.Errorf("refunds gave back %d cents in all, want 2000", refunded)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Refunded: 1}})
	})
}

func TestRefundOfNothingVoidsKey(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)

		res := mustRefund(t, s, "o1/charge")
		if want := (RefundResult{Key: "o1/charge", Status: Voided}); res != want {
			t.Errorf("Refund = %+v, want %+v", res, want)
		}

		// The charge the refund overtook arrives late: refused, nothing taken.
		_, err := s.Charge(context.Background(), chargeRequest("o1/charge", 3000, TokenVisa), 1)
		if !errors.Is(err, ErrKeyVoided) {
			t.Fatalf("Charge after void: err = %v, want ErrKeyVoided", err)
		}
		if again := mustRefund(t, s, "o1/charge"); again.Status != Voided || again.AmountCents != 0 {
			t.Errorf("second Refund = %+v, want voided, 0", again)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Voided: 1}})
	})
}

func TestRefundOfDeclinedChargeChangesNothing(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		if _, err := s.Charge(context.Background(), chargeRequest("o1/charge", 3000, TokenDeclined), 1); !errors.Is(err, ErrDeclined) {
			t.Fatalf("err = %v, want ErrDeclined", err)
		}

		res := mustRefund(t, s, "o1/charge")
		if want := (RefundResult{Key: "o1/charge", Status: Declined}); res != want {
			t.Errorf("Refund = %+v, want %+v", res, want)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Declined: 1}})
	})
}

func TestChargesKeepsKeysApart(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		a := mustCharge(t, s, ChargeRequest{Key: "o1/charge", OrderID: "o1", AmountCents: 100, Token: TokenVisa}, 1)
		b := mustCharge(t, s, ChargeRequest{Key: "o2/charge", OrderID: "o2", AmountCents: 250, Token: TokenVisa}, 1)
		if a.ID == b.ID {
			t.Errorf("two keys got the same charge ID %s", a.ID)
		}
		mustRefund(t, s, "o1/charge")
		assertLedger(t, s, ledger{rows: 2, byStatus: map[string]int{Refunded: 1, Captured: 1}, capturedCents: 250})
	})
}

func TestChargeAfterRefundIsRefused(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		req := chargeRequest("o1/charge", 3000, TokenVisa)
		mustCharge(t, s, req, 1)
		mustRefund(t, s, "o1/charge")

		// A retry of the charge that arrives after its order refunded it must
		// not report money that is no longer taken.
		_, err := s.Charge(context.Background(), req, 2)
		if !errors.Is(err, ErrKeyVoided) {
			t.Fatalf("Charge after refund: err = %v, want ErrKeyVoided", err)
		}
		assertLedger(t, s, ledger{rows: 1, byStatus: map[string]int{Refunded: 1}})
	})
}

func TestChargeSlowGatewayGivesUpWhenCancelled(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		// The activity's deadline passes while the gateway thinks (SlowDelay).
		ctx, cancel := context.WithTimeout(context.Background(), SlowDelay/6)
		defer cancel()

		_, err := s.Charge(ctx, chargeRequest("o1/charge", 3000, TokenSlow), 1)
		if !errors.Is(err, ErrGatewayUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Charge past its deadline: err = %v, want ErrGatewayUnavailable wrapping context.DeadlineExceeded", err)
		}
		assertLedger(t, s, ledger{rows: 0, byStatus: map[string]int{}})
	})
}
