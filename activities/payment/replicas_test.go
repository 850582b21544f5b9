package payment

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
)

// replicaCounts are how many *Store values, as several workers of the
// payment service would hold, share one database in the replica tests.
var replicaCounts = []int{1, 4, concurrency}

// forEachReplicaCount runs fn on a new database per backend and replica
// count, with that many stores open on it. The stores on one database ask
// one gateway, as the service's workers ask the one card gateway.
func forEachReplicaCount(t *testing.T, fn func(t *testing.T, stores []*Store)) {
	gateways := map[string]*SimulatedGateway{}
	open := func(t *testing.T, source string) *Store {
		s := openStoreAt(t, source)
		if gateways[source] == nil {
			gateways[source] = NewSimulatedGateway()
		}
		s.Gateway = gateways[source]
		return s
	}
	pgtest.Replicas(t, DatabaseFile, replicaCounts, open, fn)
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
		assertGateway(t, simulated(t, stores[0]), "o1/charge", GatewayPayment{Token: TokenVisa, AuthorizedCents: 4321, CapturedCents: 4321})
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
		assertGateway(t, simulated(t, stores[0]), "o1/charge", GatewayPayment{Token: TokenVisa, AuthorizedCents: 2500, CapturedCents: 2500, RefundedCents: 2500})
	})
}

// placementOf is the placement of goroutine i in the tests where each
// goroutine stands for another placement of one order ID.
func placementOf(i int) string { return fmt.Sprintf("placement-%02d", i) }

// Placements of one order ID charging its key at once: one of them gets the
// key and the money is captured once, every other is refused.
func TestReplicasPlacementsChargeSameKeyAtOnceOneWins(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		results := make([]Charge, concurrency)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			results[i], errs[i] = stores[i%len(stores)].Charge(context.Background(), placedCharge(placementOf(i)), 1)
		})
		winner := onlySuccess(t, errs)
		if winner < 0 {
			return
		}
		if stored, _ := storedCharge(t, stores[0], placedKey); stored != results[winner] || stored.Placement != placementOf(winner) {
			t.Errorf("stored charge = %+v, want the winner's %+v", stored, results[winner])
		}
		assertLedger(t, stores[0], ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 5000})
	})
}

// Other placements charging and refunding a key at once that one placement
// holds: all refused, the holder's money stays captured.
func TestReplicasOtherPlacementsNeverUndoTheHolder(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		holder := mustCharge(t, stores[0], placedCharge("holder"), 1)
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			s := stores[i%len(stores)]
			if i%2 == 0 {
				_, errs[i] = s.Refund(context.Background(), placedRefund(placementOf(i)))
				return
			}
			_, errs[i] = s.Charge(context.Background(), placedCharge(placementOf(i)), 1)
		})
		for i, err := range errs {
			if !errors.Is(err, ErrKeyConflict) {
				t.Errorf("call #%d: err = %v, want ErrKeyConflict", i, err)
			}
		}
		if stored, _ := storedCharge(t, stores[0], placedKey); stored != holder {
			t.Errorf("stored charge = %+v, want the holder's %+v", stored, holder)
		}
		assertLedger(t, stores[0], ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 5000})
	})
}

// Placements charging and refunding a new key at once: whichever comes
// first owns the key, a charge or a void, and every other is refused; the
// money is captured once if a charge won and not at all if a refund did.
func TestReplicasPlacementsChargeAndRefundNewKeyAtOnceOneOwns(t *testing.T) {
	forEachReplicaCount(t, func(t *testing.T, stores []*Store) {
		errs := make([]error, concurrency)
		runConcurrently(concurrency, func(i int) {
			s := stores[i%len(stores)]
			if i%2 == 0 {
				_, errs[i] = s.Charge(context.Background(), placedCharge(placementOf(i)), 1)
				return
			}
			_, errs[i] = s.Refund(context.Background(), placedRefund(placementOf(i)))
		})
		winner := onlySuccess(t, errs)
		if winner < 0 {
			return
		}
		want := ledger{rows: 1, byStatus: map[string]int{Voided: 1}}
		if winner%2 == 0 {
			want = ledger{rows: 1, byStatus: map[string]int{Captured: 1}, capturedCents: 5000}
		}
		if stored, _ := storedCharge(t, stores[0], placedKey); stored.Placement != placementOf(winner) {
			t.Errorf("stored charge = %+v, want it recorded by %s", stored, placementOf(winner))
		}
		assertLedger(t, stores[0], want)

		// At the gateway: the winning charge's capture, or, if a refund
		// won, no capture and every authorization released.
		paid, authorized := simulated(t, stores[0]).Payment(placedKey)
		switch {
		case winner%2 == 0 && paid.CapturedCents != 5000:
			t.Errorf("gateway holds %+v, want the winner's capture of 5000", paid)
		case winner%2 == 1 && (paid.CapturedCents != 0 || authorized && !paid.Released):
			t.Errorf("gateway holds %+v, want nothing captured and any authorization released", paid)
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
