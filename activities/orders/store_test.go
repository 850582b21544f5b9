package orders

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// concurrency is how many placements race for one order ID in the
// concurrent tests.
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

func claimRequest(orderID, placement string) ClaimRequest {
	return ClaimRequest{OrderID: orderID, WorkflowID: "order-" + orderID, Placement: placement}
}

func mustClaim(t *testing.T, s *Store, req ClaimRequest) Claim {
	t.Helper()
	c, err := s.Claim(context.Background(), req)
	if err != nil {
		t.Fatalf("Claim(%+v): %v", req, err)
	}
	return c
}

// storedClaim returns the claim on orderID, or ok false.
func storedClaim(t *testing.T, s *Store, orderID string) (Claim, bool) {
	t.Helper()
	c, found, err := s.ClaimByOrderID(context.Background(), orderID)
	if err != nil {
		t.Fatalf("ClaimByOrderID(%s): %v", orderID, err)
	}
	return c, found
}

// assertRows fails t unless the register holds want rows.
func assertRows(t *testing.T, s *Store, want int) {
	t.Helper()
	var n int
	if err := s.db.QueryRowContext(context.Background(), `SELECT count(*) FROM order_ids`).Scan(&n); err != nil {
		t.Fatalf("count claims: %v", err)
	}
	if n != want {
		t.Errorf("register holds %d claim(s), want %d", n, want)
	}
}

// wantRefused fails t unless err refuses a claim on first's order ID, with
// the one-line message that names the first claim.
func wantRefused(t *testing.T, err error, first Claim) {
	t.Helper()
	if !errors.Is(err, ErrOrderIDUsed) {
		t.Fatalf("err = %v, want ErrOrderIDUsed", err)
	}
	if want := refusal(first); err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// refusal is what a claim on first's order ID by another placement is told.
func refusal(first Claim) string {
	return fmt.Sprintf("order ID %q already used: claimed %s by workflow %s (placement %s); order IDs cannot be reused, pick another",
		first.OrderID, first.ClaimedAt.Format(time.RFC3339), first.WorkflowID, first.Placement)
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

func TestClaimRecordsTheFirstClaim(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		before := time.Now()
		c := mustClaim(t, s, claimRequest("42", "p1"))
		after := time.Now()

		if c.OrderID != "42" || c.WorkflowID != "order-42" || c.Placement != "p1" {
			t.Errorf("claim = %+v, want order 42 by workflow order-42, placement p1", c)
		}
		if c.ClaimedAt.Location() != time.UTC || c.ClaimedAt.Before(before) || c.ClaimedAt.After(after) {
			t.Errorf("claimed at %v, want a UTC time between %v and %v", c.ClaimedAt, before, after)
		}
		if stored, found := storedClaim(t, s, "42"); !found || stored != c {
			t.Errorf("stored claim = %+v (found %v), want %+v", stored, found, c)
		}
		assertRows(t, s, 1)
	})
}

// A retry, a replay or a reset run claims again with the same placement:
// it gets the first claim back, as it was.
func TestClaimSamePlacementAgainReturnsTheFirstClaim(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		first := mustClaim(t, s, claimRequest("42", "p1"))

		for range 3 {
			if again := mustClaim(t, s, claimRequest("42", "p1")); again != first {
				t.Errorf("claim again = %+v, want the first claim %+v", again, first)
			}
		}
		if stored, _ := storedClaim(t, s, "42"); stored != first {
			t.Errorf("stored claim = %+v, want the first claim %+v", stored, first)
		}
		assertRows(t, s, 1)
	})
}

func TestClaimByAnotherPlacementIsRefused(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		tests := []struct {
			name string
			req  ClaimRequest
		}{
			{"another workflow", ClaimRequest{OrderID: "42", WorkflowID: "order-42-again", Placement: "p2"}},
			// A workflow deleted and started again under its ID is another
			// placement, and so another use of the order ID.
			{"same workflow ID", ClaimRequest{OrderID: "42", WorkflowID: "order-42", Placement: "p2"}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := openOn(t, backend)
				first := mustClaim(t, s, claimRequest("42", "p1"))

				_, err := s.Claim(context.Background(), tt.req)
				wantRefused(t, err, first)
				if stored, _ := storedClaim(t, s, "42"); stored != first {
					t.Errorf("stored claim = %+v, want the first claim %+v unchanged", stored, first)
				}
				// The refusal changed nothing: the first placement still holds it.
				if again := mustClaim(t, s, claimRequest("42", "p1")); again != first {
					t.Errorf("first placement's claim = %+v, want %+v", again, first)
				}
				assertRows(t, s, 1)
			})
		}
	})
}

func TestClaimOrderIDsAreIndependent(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		mustClaim(t, s, claimRequest("42", "p1"))
		if c := mustClaim(t, s, claimRequest("43", "p2")); c.OrderID != "43" || c.Placement != "p2" {
			t.Errorf("claim on 43 = %+v, want it held by p2", c)
		}
		if _, found := storedClaim(t, s, "44"); found {
			t.Error("ClaimByOrderID found a claim on an order ID nobody claimed")
		}
		assertRows(t, s, 2)
	})
}

func TestClaimRefusesInvalidRequests(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		s := openOn(t, backend)
		for _, tt := range []struct {
			name string
			req  ClaimRequest
			want string
		}{
			{"no order ID", ClaimRequest{WorkflowID: "order-", Placement: "p1"}, "empty order ID"},
			{"no workflow ID", ClaimRequest{OrderID: "42", Placement: "p1"}, "empty workflow ID"},
			{"no placement", ClaimRequest{OrderID: "42", WorkflowID: "order-42"}, "empty placement"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := s.Claim(context.Background(), tt.req)
				if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrOrderIDUsed) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("err = %v, want ErrInvalid saying %q", err, tt.want)
				}
			})
		}
		assertRows(t, s, 0)
	})
}

// Of many placements claiming one order ID at once, exactly one gets it.
func TestClaimManyPlacementsAtOnceOneWins(t *testing.T) {
	pgtest.Run(t, DatabaseFile, func(t *testing.T, backend pgtest.Backend) {
		assertOneWinner(t, []*Store{openOn(t, backend)})
	})
}

// assertOneWinner races concurrency placements for order ID "42", spread
// over stores, and checks that exactly one wins and the others are refused.
func assertOneWinner(t *testing.T, stores []*Store) {
	t.Helper()
	claims := make([]Claim, concurrency)
	errs := make([]error, concurrency)
	runConcurrently(concurrency, func(i int) {
		claims[i], errs[i] = stores[i%len(stores)].Claim(context.Background(), claimRequest("42", fmt.Sprintf("p%d", i)))
	})
	stored, found := storedClaim(t, stores[0], "42")
	if !found {
		t.Fatal("no claim on 42 recorded")
	}
	winners := 0
	for i := range concurrency {
		switch {
		case errs[i] == nil:
			winners++
			if claims[i] != stored {
				t.Errorf("winner #%d got %+v, but the register holds %+v", i, claims[i], stored)
			}
		case !errors.Is(errs[i], ErrOrderIDUsed):
			t.Errorf("claim #%d: %v, want ErrOrderIDUsed", i, errs[i])
		}
	}
	if winners != 1 {
		t.Errorf("%d placements won order ID 42, want exactly 1", winners)
	}
	assertRows(t, stores[0], 1)
}
