package shipping

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// replicaCounts are how many *Store values, as several workers of the
// shipping service would hold, share one database in the replica tests.
var replicaCounts = []int{1, 4, concurrency}

// forEachReplicaCount runs fn on a new database per backend and replica
// count, with that many stores open on it.
func forEachReplicaCount(t *testing.T, fn func(t *testing.T, stores []*Store)) {
	pgtest.Replicas(t, DatabaseFile, replicaCounts, openStoreAt, fn)
}

func TestReplicasShipSameKeyAtOnceCreateOneShipment(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		req := shipRequest("o1/ship", testAddress, defaultParcel...)
		results := make([]Shipment, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = stores[i%len(stores)].Ship(context.Background(), req)
		})
		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Ship #%d: %v", i, errs[i])
			} else if results[i] != results[0] {
				t.Errorf("Ship #%d = %+v, want %+v like #0", i, results[i], results[0])
			}
		}
		assertStatuses(t, stores[0], map[string]int{Created: 1})
	})
}

func TestReplicasCancelSameKeyAtOnceCancelOnce(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		mustShip(t, stores[0], shipRequest("o1/ship", testAddress, defaultParcel...))
		results := make([]CancelResult, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = stores[i%len(stores)].Cancel(context.Background(), CancelRequest{Key: "o1/ship", OrderID: "o1"})
		})
		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Cancel #%d: %v", i, errs[i])
			} else if results[i].Status != Cancelled {
				t.Errorf("Cancel #%d = %+v, want status %s", i, results[i], Cancelled)
			}
		}
		assertStatuses(t, stores[0], map[string]int{Cancelled: 1})
	})
}

// placementOf is the placement of goroutine i in the tests where each
// goroutine stands for another placement of one order ID.
func placementOf(i int) string { return fmt.Sprintf("placement-%02d", i) }

// Placements of one order ID shipping its key at once: one of them gets the
// key and one parcel is booked, every other is refused.
func TestReplicasPlacementsShipSameKeyAtOnceOneWins(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		results := make([]Shipment, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = stores[i%len(stores)].Ship(context.Background(), placedShip(placementOf(i)))
		})
		winner := onlySuccess(t, errs)
		if winner < 0 {
			return
		}
		if stored, _ := storedShipmentOf(t, stores[0], placedKey); stored != results[winner] || stored.Placement != placementOf(winner) {
			t.Errorf("stored shipment = %+v, want the winner's %+v", stored, results[winner])
		}
		assertStatuses(t, stores[0], map[string]int{Created: 1})
	})
}

// Other placements shipping and cancelling a key at once that one
// placement holds: all refused, the holder's parcel stays booked.
func TestReplicasOtherPlacementsNeverUndoTheHolder(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		holder := mustShip(t, stores[0], placedShip("holder"))
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			s := stores[i%len(stores)]
			if i%2 == 0 {
				_, errs[i] = s.Cancel(context.Background(), placedCancel(placementOf(i)))
				return
			}
			_, errs[i] = s.Ship(context.Background(), placedShip(placementOf(i)))
		})
		for i, err := range errs {
			if !errors.Is(err, ErrKeyConflict) {
				t.Errorf("call #%d: err = %v, want ErrKeyConflict", i, err)
			}
		}
		if stored, _ := storedShipmentOf(t, stores[0], placedKey); stored != holder {
			t.Errorf("stored shipment = %+v, want the holder's %+v", stored, holder)
		}
		assertStatuses(t, stores[0], map[string]int{Created: 1})
	})
}

// Placements shipping and cancelling a new key at once: whichever comes
// first owns the key, a booking or a void, and every other is refused.
func TestReplicasPlacementsShipAndCancelNewKeyAtOnceOneOwns(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			s := stores[i%len(stores)]
			if i%2 == 0 {
				_, errs[i] = s.Ship(context.Background(), placedShip(placementOf(i)))
				return
			}
			_, errs[i] = s.Cancel(context.Background(), placedCancel(placementOf(i)))
		})
		winner := onlySuccess(t, errs)
		if winner < 0 {
			return
		}
		want := map[string]int{Voided: 1}
		if winner%2 == 0 {
			want = map[string]int{Created: 1}
		}
		if stored, _ := storedShipmentOf(t, stores[0], placedKey); stored.Placement != placementOf(winner) {
			t.Errorf("stored shipment = %+v, want it recorded by %s", stored, placementOf(winner))
		}
		assertStatuses(t, stores[0], want)
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
