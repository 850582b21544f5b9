package inventory

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/ordersaga/ordersaga/internal/pgtest"
)

// replicaCounts are how many *Store values, as several workers of the
// inventory service would hold, share one database in the replica tests.
var replicaCounts = []int{1, 4, concurrency}

// forEachReplicaCount runs fn on a new database per backend and replica
// count, with that many stores open on it.
func forEachReplicaCount(t *testing.T, fn func(t *testing.T, stores []*Store)) {
	pgtest.Replicas(t, DatabaseFile, replicaCounts, openStoreAt, fn)
}

func TestReplicasReserveSameKeyAtOnceTakeStockOnce(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		before := products(t, stores[0])
		req := reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 2}, Item{SKU: "BOOK-GOPL", Qty: 1})
		results := make([]Reservation, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = stores[i%len(stores)].Reserve(context.Background(), req)
		})
		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Reserve #%d: %v", i, errs[i])
			} else if !reflect.DeepEqual(results[i], results[0]) {
				t.Errorf("Reserve #%d = %+v, want %+v like #0", i, results[i], results[0])
			}
		}
		after := products(t, stores[len(stores)-1])
		for sku, want := range map[string]int{"LAMP-LIMITED": 2, "BOOK-GOPL": 1} {
			if got := before[sku].OnHand - after[sku].OnHand; got != want {
				t.Errorf("%s: %d units taken, want %d", sku, got, want)
			}
		}
		if n := reservationCount(t, stores[0]); n != 1 {
			t.Errorf("%d reservations recorded, want 1", n)
		}
	})
}

func TestReplicasReserveOtherKeysNeverOversell(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		stock := onHand(t, stores[0], "LAMP-LIMITED")
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			id := fmt.Sprintf("o%d", i)
			_, errs[i] = stores[i%len(stores)].Reserve(context.Background(), reserveRequest(id+"/reserve", id, Item{SKU: "LAMP-LIMITED", Qty: 1}))
		})
		reserved := 0
		for i, err := range errs {
			switch {
			case err == nil:
				reserved++
			case !errors.Is(err, ErrOutOfStock):
				t.Errorf("Reserve #%d: %v, want success or ErrOutOfStock", i, err)
			}
		}
		if reserved != stock {
			t.Errorf("%d reservations succeeded, want %d (the stock on hand)", reserved, stock)
		}
		if n := onHand(t, stores[0], "LAMP-LIMITED"); n != 0 {
			t.Errorf("LAMP-LIMITED on hand = %d, want 0", n)
		}
	})
}

func TestReplicasReleaseSameKeyAtOnceReturnStockOnce(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		before := products(t, stores[0])
		mustReserve(t, stores[0], reserveRequest("o1/reserve", "o1", Item{SKU: "MUG-GOPHER", Qty: 3}))
		results := make([]ReleaseResult, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = stores[i%len(stores)].Release(context.Background(), ReleaseRequest{Key: "o1/reserve", OrderID: "o1"})
		})
		returned := 0
		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Release #%d: %v", i, errs[i])
			}
			returned += results[i].UnitsReturned
		}
		if returned != 3 {
			t.Errorf("%d units returned in all, want 3", returned)
		}
		assertStockUnchanged(t, stores[0], before)
	})
}

// A release racing the reserve of its key ends with the stock where it
// was, whichever comes first: released after it, or a voided key that the
// reserve is refused on.
func TestReplicasReserveAndReleaseSameKeyAtOnceLeaveStock(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		before := products(t, stores[0])
		req := reserveRequest("o1/reserve", "o1", Item{SKU: "LAMP-LIMITED", Qty: 1})
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			s := stores[i%len(stores)]
			if i%2 == 0 {
				_, errs[i] = s.Reserve(context.Background(), req)
				if errors.Is(errs[i], ErrKeyVoided) {
					errs[i] = nil
				}
				return
			}
			_, errs[i] = s.Release(context.Background(), ReleaseRequest{Key: req.Key, OrderID: req.OrderID})
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("call #%d: %v", i, err)
			}
		}
		// The last word: one more release, as the saga's compensation
		// would retry until it succeeds.
		mustRelease(t, stores[0], req.Key, req.OrderID)
		assertStockUnchanged(t, stores[0], before)
		if n := reservationCount(t, stores[0]); n != 1 {
			t.Errorf("%d reservations recorded, want 1", n)
		}
	})
}
