package orders

import (
	"errors"
	"testing"

	"go.temporal.io/sdk/converter"
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

// executors run the activity as the order workflow will, as a local
// activity, and as a regular one.
func executors(env *testsuite.TestActivityEnvironment) map[string]func(fn any, args ...any) (converter.EncodedValue, error) {
	return map[string]func(fn any, args ...any) (converter.EncodedValue, error){
		"local":   env.ExecuteLocalActivity,
		"regular": env.ExecuteActivity,
	}
}

func TestClaimOrderIDActivityClaims(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)
	for name, execute := range executors(env) {
		t.Run(name, func(t *testing.T) {
			val, err := execute(a.ClaimOrderID, claimRequest("42", "p1"))
			if err != nil {
				t.Fatalf("ClaimOrderID: %v", err)
			}
			var c Claim
			if err := val.Get(&c); err != nil {
				t.Fatal(err)
			}
			if stored, _ := storedClaim(t, s, "42"); !c.ClaimedAt.Equal(stored.ClaimedAt) || c.Placement != "p1" || c.WorkflowID != "order-42" {
				t.Errorf("claim = %+v, want the stored %+v", c, stored)
			}
		})
	}
	assertRows(t, s, 1)
}

func TestClaimOrderIDActivityBusinessFailuresAreNonRetryable(t *testing.T) {
	s := openTestStore(t)
	first := mustClaim(t, s, claimRequest("42", "p1"))
	env, a := newActivityEnv(t, s)
	for name, execute := range executors(env) {
		t.Run(name, func(t *testing.T) {
			_, err := execute(a.ClaimOrderID, claimRequest("42", "p2"))
			appErr := applicationError(t, err)
			if !appErr.NonRetryable() || appErr.Type() != OrderIDUsedError {
				t.Errorf("error type %q, non-retryable %v; want non-retryable %q: %v", appErr.Type(), appErr.NonRetryable(), OrderIDUsedError, err)
			}
			if want := refusal(first); appErr.Message() != want {
				t.Errorf("message = %q, want the register's one line %q", appErr.Message(), want)
			}

			_, err = execute(a.ClaimOrderID, ClaimRequest{OrderID: "43", WorkflowID: "order-43"})
			appErr = applicationError(t, err)
			if !appErr.NonRetryable() || appErr.Type() != InvalidError {
				t.Errorf("error type %q, non-retryable %v; want non-retryable %q: %v", appErr.Type(), appErr.NonRetryable(), InvalidError, err)
			}
		})
	}
	assertRows(t, s, 1)
}

func TestClaimOrderIDActivityStoreFailureIsRetryable(t *testing.T) {
	s := openTestStore(t)
	env, a := newActivityEnv(t, s)
	s.Close()
	for name, execute := range executors(env) {
		t.Run(name, func(t *testing.T) {
			_, err := execute(a.ClaimOrderID, claimRequest("42", "p1"))
			if err == nil {
				t.Fatal("ClaimOrderID on a closed store succeeded")
			}
			// A plain error, or a retryable application error: either way
			// Temporal retries it.
			var appErr *temporal.ApplicationError
			if errors.As(err, &appErr) && appErr.NonRetryable() {
				t.Errorf("store failure came out non-retryable (type %q): %v", appErr.Type(), err)
			}
		})
	}
}
