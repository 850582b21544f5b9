package shipping

import (
	"context"
	"testing"

	"github.com/ordersaga/ordersaga/internal/pgtest"
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
