package inventory

import (
	"errors"
	"reflect"
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

// applicationError returns err's *temporal.ApplicationError, failing the
// test if it has none.
func applicationError(t *testing.T, err error) *temporal.ApplicationError {
	t.Helper()
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) {
		t.Fatalf("err = %T %v, want a *temporal.ApplicationError in it", err, err)
	}
	return appErr
}

func TestReserveStockActivityReturnsReservation(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)

	val, err := env.ExecuteActivity(a.ReserveStock, reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 1}))
	if err != nil {
		t.Fatalf("ReserveStock: %v", err)
	}
	var res Reservation
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != Reserved || res.TotalCents != 8999 || len(res.Lines) != 1 {
		t.Errorf("reservation = %+v, want 1 reserved line of 8999", res)
	}
	if n := onHand(t, s, "LAMP-LIMITED"); n != 2 {
		t.Errorf("LAMP-LIMITED on hand = %d, want 2", n)
	}
}

func TestReserveStockActivityBusinessFailuresAreNonRetryable(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(t *testing.T, s *Store)
		req      ReserveRequest
		wantType string
	}{
		{
			name:     "out of stock",
			req:      reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 1}, Item{SKU: "LAMP-LIMITED", Qty: 4}),
			wantType: OutOfStockError,
		},
		{
			name:     "unknown SKU",
			req:      reserveRequest("o1/reserve", "o1", Item{SKU: "NO-SUCH-THING", Qty: 1}),
			wantType: UnknownSKUError,
		},
		{
			name: "key reused for other items",
			setup: func(t *testing.T, s *Store) {
				mustReserve(t, s, reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 1}))
			},
			req:      reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 2}),
			wantType: KeyConflictError,
		},
		{
			name:     "key of another placement",
			setup:    func(t *testing.T, s *Store) { mustReserve(t, s, placedReserve("p1")) },
			req:      placedReserve("p2"),
			wantType: KeyConflictError,
		},
		{
			name:     "key voided by an earlier release",
			setup:    func(t *testing.T, s *Store) { mustRelease(t, s, "o1/reserve", "o1") },
			req:      reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 1}),
			wantType: KeyVoidedError,
		},
		{
			name:     "invalid request",
			req:      reserveRequest("o1/reserve", "o1"),
			wantType: InvalidError,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t)
			if tt.setup != nil {
				tt.setup(t, s)
			}
			before := products(t, s)
			env, a := newActivityEnv(t, s)

			_, err := env.ExecuteActivity(a.ReserveStock, tt.req)
			appErr := applicationError(t, err)
			if !appErr.NonRetryable() {
				t.Errorf("error is retryable, want non-retryable: %v", err)
			}
			if appErr.Type() != tt.wantType {
				t.Errorf("error type = %q, want %q", appErr.Type(), tt.wantType)
			}
			assertStockUnchanged(t, s, before)
		})
	}
}

func TestReserveStockActivityStoreFailureIsRetryable(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)
	s.Close() // every query now fails with "sql: database is closed"

	_, err := env.ExecuteActivity(a.ReserveStock, reserveRequest("o1/reserve", "o1", Item{SKU: "BOOK-GOPL", Qty: 1}))
	if err == nil {
		t.Fatal("ReserveStock on a closed store succeeded")
	}
	if appErr := applicationError(t, err); appErr.NonRetryable() {
		t.Errorf("store failure came out non-retryable (type %q): %v", appErr.Type(), err)
	}
}

func TestReleaseStockActivityReturnsStock(t *testing.T) {
	s := openTestStore(t)
	mustReserve(t, s, reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 3}))
	env, a := newActivityEnv(t, s)

	val, err := env.ExecuteActivity(a.ReleaseStock, ReleaseRequest{Key: "o1/reserve", OrderID: "o1"})
	if err != nil {
		t.Fatalf("ReleaseStock: %v", err)
	}
	var res ReleaseResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != Released || res.UnitsReturned != 3 {
		t.Errorf("result = %+v, want released, 3 units", res)
	}
	if n := onHand(t, s, "LAMP-LIMITED"); n != 3 {
		t.Errorf("LAMP-LIMITED on hand = %d, want 3", n)
	}
}

// A release of a key that another placement of the order ID holds cannot
// succeed by retrying: it fails at once and leaves that reservation alone.
func TestReleaseStockActivityRefusesAnotherPlacementsKey(t *testing.T) {
	s := openTestStore(t)
	held := mustReserve(t, s, placedReserve("p1"))
	before := products(t, s)
	env, a := newActivityEnv(t, s)

	_, err := env.ExecuteActivity(a.ReleaseStock, placedRelease("p2"))
	appErr := applicationError(t, err)
	if !appErr.NonRetryable() || appErr.Type() != KeyConflictError {
		t.Errorf("error = %v (type %q, non-retryable %v), want a non-retryable %s", err, appErr.Type(), appErr.NonRetryable(), KeyConflictError)
	}
	assertStockUnchanged(t, s, before)
	if stored, _ := storedReservation(t, s, placedKey); !reflect.DeepEqual(stored, held) {
		t.Errorf("stored reservation = %+v, want the held %+v", stored, held)
	}
}

func TestReleaseStockActivityStoreFailureIsRetryable(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)
	s.Close()

	_, err := env.ExecuteActivity(a.ReleaseStock, ReleaseRequest{Key: "o1/reserve", OrderID: "o1"})
	if err == nil {
		t.Fatal("ReleaseStock on a closed store succeeded")
	}
	if appErr := applicationError(t, err); appErr.NonRetryable() {
		t.Errorf("store failure came out non-retryable: %v", err)
	}
}

// The activity's error message is the business reason, which the order's
// state shows to people.
func TestReserveStockActivityErrorSaysWhy(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)
	_, err := env.ExecuteActivity(a.ReserveStock, reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 5}))
	appErr := applicationError(t, err)
	if want := "out of stock: LAMP-LIMITED has 3 on hand, order needs 5"; appErr.Message() != want {
		t.Errorf("message = %q, want %q", appErr.Message(), want)
	}
}
