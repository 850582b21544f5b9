package payment

import (
	"context"
	"testing"

	"github.com/ordersaga/ordersaga/internal/pgtest"
)

// replicaCounts are how many *Store values, as several workers of the
// payment service would hold, share one database in the replica tests.
var replicaCounts = []int{1, 4, concurrency}

// forEachReplicaCount runs fn on a new database per backend and replica
// count, with that many stores open on it.
func forEachReplicaCount(t *testing.T, fn func(t *testing.T, stores []*Store)) {
	pgtest.Replicas(t, DatabaseFile, replicaCounts, openStoreAt, fn)
}

func TestReplicasChargeSameKeyAtOnceCaptureOnce(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		req := chargeRequest("o1/charge", 4321, TokenVisa)
		results := make([]Charge, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = stores[i%len(stores)].Charge(context.Background(), req, 1)
		})
		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Charge #%d: %v", i, errs[i])
			} else if results[i] != results[0] {
				t.Errorf("Charge #%d = %+v, want %+v like #0", i, results[i], results[0])
			}
		}
		assertLedger(t, stores[0], ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 4321})
	})
}

func TestReplicasRefundSameKeyAtOnceRefundOnce(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		mustCharge(t, stores[0], chargeRequest("o1/charge", 2500, TokenVisa), 1)
		results := make([]RefundResult, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = stores[i%len(stores)].Refund(context.Background(), RefundRequest{Key: "o1/charge", OrderID: "o1"})
		})
		var refunded int64
		for i := range concurrency {
			if errs[i] != nil {
				t.Errorf("Refund #%d: %v", i, errs[i])
			}
			refunded += results[i].AmountCents
		}
		if refunded != 2500 {
			t.Errorf("%d cents refunded in all, want 2500", refunded)
		}
		assertLedger(t, stores[0], ledger{rows: 1, byStatus: map[string]int{Refunded: 1}})
	})
}
