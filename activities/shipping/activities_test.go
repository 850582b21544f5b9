package shipping

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

func TestCreateShipmentActivityReturnsShipment(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)

	val, err := env.ExecuteActivity(a.CreateShipment, shipRequest("o1/ship", testAddress, defaultParcel...))
	if err != nil {
		t.Fatalf("CreateShipment: %v", err)
	}
	var sh Shipment
	if err := val.Get(&sh); err != nil {
		t.Fatal(err)
	}
	if sh.Status != Created || sh.TrackingNumber == "" {
		t.Errorf("shipment = %+v, want created with a tracking number", sh)
	}
	assertStatuses(t, s, map[string]int{Created: 1})
}

func TestCreateShipmentActivityBusinessFailuresAreNonRetryable(t *testing.T) {
	tests := []struct {
		name         string
		setup        func(t *testing.T, s *Store)
		req          ShipRequest
		wantType     string
		wantStatuses map[string]int
	}{
		{
			name:         "undeliverable address",
			req:          shipRequest("o1/ship", "42 undeliverable lane", defaultParcel...),
			wantType:     UndeliverableError,
			wantStatuses: map[string]int{},
		},
		{
			name:         "empty address",
			req:          shipRequest("o1/ship", " ", defaultParcel...),
			wantType:     UndeliverableError,
			wantStatuses: map[string]int{},
		},
		{
			name:         "key reused for another address",
			setup:        func(t *testing.T, s *Store) { mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel...)) },
			req:          shipRequest("o1/ship", "elsewhere", defaultParcel...),
			wantType:     KeyConflictError,
			wantStatuses: map[string]int{Created: 1},
		},
		{
			name:         "key of another placement",
			setup:        func(t *testing.T, s *Store) { mustShip(t, s, placedShip("p1")) },
			req:          placedShip("p2"),
			wantType:     KeyConflictError,
			wantStatuses: map[string]int{Created: 1},
		},
		{
			name:         "key voided by an earlier cancel",
			setup:        func(t *testing.T, s *Store) { mustCancel(t, s, "o1/ship") },
			req:          shipRequest("o1/ship", testAddress, defaultParcel...),
			wantType:     KeyVoidedError,
			wantStatuses: map[string]int{Voided: 1},
		},
		{
			name:         "invalid request",
			req:          shipRequest("o1/ship", testAddress),
			wantType:     InvalidError,
			wantStatuses: map[string]int{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTestStore(t)
			if tt.setup != nil {
				tt.setup(t, s)
			}
			env, a := newActivityEnv(t, s)

			_, err := env.ExecuteActivity(a.CreateShipment, tt.req)
			appErr := applicationError(t, err)
			if !appErr.NonRetryable() {
				t.Errorf("error is retryable, want non-retryable: %v", err)
			}
			if appErr.Type() != tt.wantType {
				t.Errorf("error type = %q, want %q", appErr.Type(), tt.wantType)
			}
			assertStatuses(t, s, tt.wantStatuses)
		})
	}
}

func TestCreateShipmentActivityStoreFailureIsRetryable(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)
	s.Close()

	_, err := env.ExecuteActivity(a.CreateShipment, shipRequest("o1/ship", testAddress, defaultParcel...))
	if err == nil {
		t.Fatal("CreateShipment on a closed store succeeded")
	}
	if appErr := applicationError(t, err); appErr.NonRetryable() {
		t.Errorf("store failure came out non-retryable (type %q): %v", appErr.Type(), err)
	}
}

func TestCancelShipmentActivityCancels(t *testing.T) {
	s := openTestStore(t)
	mustShip(t, s, shipRequest("o1/ship", testAddress, defaultParcel...))
	env, a := newActivityEnv(t, s)

	val, err := env.ExecuteActivity(a.CancelShipment, CancelRequest{Key: "o1/ship", OrderID: "o1"})
	if err != nil {
		t.Fatalf("CancelShipment: %v", err)
	}
	var res CancelResult
	if err := val.Get(&res); err != nil {
		t.Fatal(err)
	}
	if res.Status != Cancelled {
		t.Errorf("result = %+v, want cancelled", res)
	}
	assertStatuses(t, s, map[string]int{Cancelled: 1})
}

// A cancellation of a key that another placement of the order ID holds
// cannot succeed by retrying: it fails at once and leaves that booking
// alone.
func TestCancelShipmentActivityRefusesAnotherPlacementsKey(t *testing.T) {
	s := openTestStore(t)
	held := mustShip(t, s, placedShip("p1"))
	env, a := newActivityEnv(t, s)

	_, err := env.ExecuteActivity(a.CancelShipment, placedCancel("p2"))
	appErr := applicationError(t, err)
	if !appErr.NonRetryable() || appErr.Type() != KeyConflictError {
		t.Errorf("error = %v (type %q, non-retryable %v), want a non-retryable %s", err, appErr.Type(), appErr.NonRetryable(), KeyConflictError)
	}
	if stored, _ := storedShipmentOf(t, s, placedKey); stored != held {
		t.Errorf("stored shipment = %+v, want the held %+v", stored, held)
	}
	assertStatuses(t, s, map[string]int{Created: 1})
}

func TestCancelShipmentActivityStoreFailureIsRetryable(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)
	s.Close()

	_, err := env.ExecuteActivity(a.CancelShipment, CancelRequest{Key: "o1/ship", OrderID: "o1"})
	if err == nil {
		t.Fatal("CancelShipment on a closed store succeeded")
	}
	if appErr := applicationError(t, err); appErr.NonRetryable() {
		t.Errorf("store failure came out non-retryable: %v", err)
	}
}
