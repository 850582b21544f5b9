package e2e

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/orders"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/activities/shipping"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/internal/platform/pgtest"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestDemoOrdersOnPostgres runs the demo's orders with every store, the
// order service's register of order IDs included, in one PostgreSQL
// database, served by two workers at once as two replicas of every service
// would, and checks the stores, the register and the audit, which reads
// the same DSNs from the environment as the workers.
func TestDemoOrdersOnPostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	for _, env := range []string{"ORDERSAGA_ORDERS_DSN", "ORDERSAGA_INVENTORY_DSN", "ORDERSAGA_PAYMENT_DSN", "ORDERSAGA_SHIPPING_DSN"} {
		t.Setenv(env, dsn)
	}
	s := newStack(t)
	s.startWorker(t, "worker-a")
	s.startWorker(t, "worker-b")
	st := postgresStores(t, dsn)
	before := stock(t, st)

	r := s.starter(t, "place", "--id", "ok", "--customer", "alice", "--item", "BOOK-GOPL:1", "--item", "MUG-GOPHER:2",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "1s", "--wait", "-o", "json")
	ok := view(t, r, 0)
	if ok.Status != workflows.Completed {
		t.Fatalf("order ok: %+v", ok.OrderState)
	}
	r = s.starter(t, "place", "--id", "declined", "--customer", "bob", "--item", "TEE-TEMPORAL-M:1",
		"--payment", "tok_declined", "--address", shipTo, "--wait", "-o", "json")
	declined := view(t, r, 3)
	if declined.Status != workflows.Failed {
		t.Fatalf("order declined: %+v", declined.OrderState)
	}
	r = s.starter(t, "place", "--id", "cancel", "--customer", "carol", "--item", "STICKER-PACK:3",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "10m", "-o", "json")
	view(t, r, 0)
	s.waitStatus(t, "cancel", workflows.AwaitingFulfillment)
	r = s.starter(t, "cancel", "cancel", "--wait", "-o", "json")
	cancelled := view(t, r, 0)
	if cancelled.Status != workflows.Cancelled {
		t.Fatalf("order cancel: %+v", cancelled.OrderState)
	}

	// Each order claimed its ID in the register on PostgreSQL, as its
	// placement; nothing went to a SQLite file.
	reg, err := orders.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	for _, v := range []orderclient.View{ok, declined, cancelled} {
		claim, found, err := reg.ClaimByOrderID(context.Background(), v.OrderID)
		if err != nil || !found || v.Placement == "" || claim.Placement != v.Placement || claim.WorkflowID != ordersaga.WorkflowID(v.OrderID) {
			t.Errorf("order %s (placement %q): the register on PostgreSQL holds %+v (found %v, %v)", v.OrderID, v.Placement, claim, found, err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(s.dataDir, "*.db")); len(files) != 0 {
		t.Errorf("SQLite stores were created with every store on PostgreSQL: %q", files)
	}

	assertRecords(t, st, map[string][3]string{
		"ok":       {inventory.Reserved, payment.Captured, shipping.Created},
		"declined": {inventory.Released, payment.Declined, ""},
		"cancel":   {inventory.Released, payment.Refunded, ""},
	})
	after := stock(t, st)
	if after["BOOK-GOPL"].OnHand != before["BOOK-GOPL"].OnHand-1 || after["STICKER-PACK"].OnHand != before["STICKER-PACK"].OnHand {
		t.Errorf("stock on PostgreSQL: BOOK-GOPL %d -> %d, STICKER-PACK %d -> %d; want one book taken, the stickers given back",
			before["BOOK-GOPL"].OnHand, after["BOOK-GOPL"].OnHand, before["STICKER-PACK"].OnHand, after["STICKER-PACK"].OnHand)
	}
	assertAuditClean(t, s, map[workflows.Status]int{workflows.Completed: 1, workflows.Failed: 1, workflows.Cancelled: 1})
}

// postgresStores opens the three stores in the database at dsn.
func postgresStores(t *testing.T, dsn string) stores {
	t.Helper()
	ctx := context.Background()
	inv, err := inventory.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inv.Close() })
	pay, err := payment.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pay.Close() })
	shp, err := shipping.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shp.Close() })
	return stores{inv, pay, shp}
}
