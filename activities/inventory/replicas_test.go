package inventory

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
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

// placementOf is the placement of goroutine i in the tests where each
// goroutine stands for another placement of one order ID.
func placementOf(i int) string { return fmt.Sprintf("placement-%02d", i) }

// Placements of one order ID reserving its key at once: one of them gets
// the key and takes the stock once, every other is refused.
func TestReplicasPlacementsReserveSameKeyAtOnceOneWins(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		before := products(t, stores[0])
		results := make([]Reservation, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			req := reserveRequest(placedKey, "o1", Item{SKU: "LAMP-LIMITED", Qty: 1}, Item{SKU: "BOOK-GOPL", Qty: 1})
			req.Placement = placementOf(i)
			results[i], errs[i] = stores[i%len(stores)].Reserve(context.Background(), req)
		})
		winner := onlySuccess(t, errs)
		if winner < 0 {
			return
		}
		stored, _ := storedReservation(t, stores[0], placedKey)
		if !reflect.DeepEqual(stored, results[winner]) || stored.Placement != placementOf(winner) {
			t.Errorf("stored reservation = %+v, want the winner's %+v", stored, results[winner])
		}
		after := products(t, stores[len(stores)-1])
		for _, sku := range []string{"LAMP-LIMITED", "BOOK-GOPL"} {
			if got := before[sku].OnHand - after[sku].OnHand; got != 1 {
				t.Errorf("%s: %d units taken, want 1", sku, got)
			}
		}
	})
}

// Other placements reserving and releasing a key at once that one
// placement holds: all refused, the holder's stock stays taken.
func TestReplicasOtherPlacementsNeverUndoTheHolder(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		holder := mustReserve(t, stores[0], placedReserve("holder"))
		before := products(t, stores[0])
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			s := stores[i%len(stores)]
			if i%2 == 0 {
				_, errs[i] = s.Release(context.Background(), placedRelease(placementOf(i)))
				return
			}
			_, errs[i] = s.Reserve(context.Background(), placedReserve(placementOf(i)))
		})
		for i, err := range errs {
			if !errors.Is(err, ErrKeyConflict) {
				t.Errorf("call #%d: err = %v, want ErrKeyConflict", i, err)
			}
		}
		assertStockUnchanged(t, stores[0], before)
		if stored, _ := storedReservation(t, stores[0], placedKey); !reflect.DeepEqual(stored, holder) {
			t.Errorf("stored reservation = %+v, want the holder's %+v", stored, holder)
		}
	})
}

// Placements reserving and releasing a new key at once: whichever comes
// first owns the key, a reservation or a void, and every other is refused;
// the stock is taken once if a reserve won and not at all if a release did.
func TestReplicasPlacementsReserveAndReleaseNewKeyAtOnceOneOwns(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		before := products(t, stores[0])
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			s := stores[i%len(stores)]
			if i%2 == 0 {
				_, errs[i] = s.Reserve(context.Background(), placedReserve(placementOf(i)))
				return
			}
			_, errs[i] = s.Release(context.Background(), placedRelease(placementOf(i)))
		})
		winner := onlySuccess(t, errs)
		if winner < 0 {
			return
		}
		stored, _ := storedReservation(t, stores[0], placedKey)
		wantStatus, taken := Voided, 0
		if winner%2 == 0 {
			wantStatus, taken = Reserved, 2
		}
		if stored.Placement != placementOf(winner) || stored.Status != wantStatus {
			t.Errorf("stored reservation = %+v, want %s by %s", stored, wantStatus, placementOf(winner))
		}
		if got := before["LAMP-LIMITED"].OnHand - onHand(t, stores[0], "LAMP-LIMITED"); got != taken {
			t.Errorf("LAMP-LIMITED: %d units taken, want %d", got, taken)
		}
	})
}

// onlySuccess checks that exactly one of errs is nil and every other is
// ErrKeyConflict, and returns the index of the nil one, or -1.
func onlySuccess(t *testing.T, errs []error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("calls #%d and #%d both succeeded, want one", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, ErrKeyConflict):
			t.Errorf("call #%d: err = %v, want ErrKeyConflict", i, err)
		}
	}
	if winner < 0 {
		t.Error("no call succeeded, want one")
	}
	return winner
}
