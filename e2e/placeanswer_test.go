package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// answerBound is how long `starter place` may take to answer on a local
// stack whose worker runs: an answer that took longer would be no better
// than waiting for the order's end.
const answerBound = 20 * time.Second

// TestPlaceAnswersWithTheReservation places orders through `starter place`
// and checks that it answers with the reservation the inventory store
// holds, or exits 1 at once with the order's one-line refusal; that a
// second placement of a running ID is refused and leaves the first run
// alone; that an invalid order, which ends in the very workflow task the
// update arrives in, still answers; and that --wait still ends with 0 or 3.
func TestPlaceAnswersWithTheReservation(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker")
	place := func(id, item string, extra ...string) (result, time.Duration) {
		t.Helper()
		began := time.Now()
		r := s.starter(t, append([]string{"place", "--id", id, "--customer", "c-" + id, "--item", item,
			"--payment", payment.TokenVisa, "--address", shipTo, "--cancel-window", "1h"}, extra...)...)
		return r, time.Since(began)
	}

	t.Run("reserved", func(t *testing.T) {
		r, took := place("pa-ok", "BOOK-GOPL:2", "-o", "json")
		v := view(t, r, 0)
		if took > answerBound {
			t.Errorf("answered in %s, want under %s", took, answerBound)
		}
		if !v.Reserved || v.ReservationID == "" || v.Refusal != "" || len(v.Lines) != 1 || v.Lines[0].SKU != "BOOK-GOPL" || v.Lines[0].Qty != 2 {
			t.Fatalf("answer %+v: want reserved, one line of 2 × BOOK-GOPL, a reservation ID", v)
		}
		if v.TotalCents != v.Lines[0].AmountCents() || v.TotalCents <= 0 {
			t.Errorf("total %d, want the line's amount %d", v.TotalCents, v.Lines[0].AmountCents())
		}
		stored := reservationOf(t, s, "pa-ok")
		if stored.ID != v.ReservationID || stored.TotalCents != v.TotalCents || stored.Status != inventory.Reserved {
			t.Errorf("inventory holds %+v; the answer said reservation %s, total %d", stored, v.ReservationID, v.TotalCents)
		}
		if v.RunID == "" || v.TemporalStatus != "Running" {
			t.Errorf("run %q, Temporal status %q: want the running order's run", v.RunID, v.TemporalStatus)
		}

		// A second placement of the running ID is refused and runs nothing.
		again, _ := place("pa-ok", "MUG-GOPHER:1")
		if again.code != 1 || !strings.Contains(again.stderr, "already") || strings.Count(strings.TrimSpace(again.stderr), "\n") != 0 {
			t.Fatalf("second placement of a running ID: want exit 1 with one line saying it exists: %s", again)
		}
		now := view(t, s.starter(t, "status", "pa-ok", "-o", "json"), 0)
		if now.RunID != v.RunID || len(now.Lines) != 1 || now.Lines[0].SKU != "BOOK-GOPL" {
			t.Errorf("after the second placement the order is run %s with lines %+v; want the first run %s, untouched", now.RunID, now.Lines, v.RunID)
		}
	})

	t.Run("text", func(t *testing.T) {
		r, _ := place("pa-text", "MUG-GOPHER:1")
		if r.code != 0 || !strings.Contains(r.stdout, "Order pa-text reserved: 1 × MUG-GOPHER $") || !strings.Contains(r.stdout, ", reservation ") {
			t.Fatalf("want exit 0 and the reservation on one line: %s", r)
		}
	})

	refusals := []struct {
		name, id, item string
		want           string
	}{
		{"out of stock", "pa-oos", "LAMP-LIMITED:4", "order pa-oos refused: reserve failed: out of stock"},
		{"unknown SKU", "pa-sku", "NO-SUCH-SKU:1", "order pa-sku refused: reserve failed: unknown SKU: NO-SUCH-SKU"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			before := s.stores(t).contents(t)
			r, took := place(tt.id, tt.item, "-o", "json")
			if r.code != 1 || !strings.Contains(r.stderr, tt.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Fatalf("want exit 1 and one line with %q: %s", tt.want, r)
			}
			if took > answerBound {
				t.Errorf("refused in %s, want under %s", took, answerBound)
			}
			var v orderclient.View
			decode(t, r, &v)
			if v.Reserved || v.ReservationID != "" || !strings.Contains(r.stderr, v.Refusal) || v.Refusal == "" {
				t.Errorf("JSON answer %+v: want no reservation and the refusal of stderr", v)
			}
			// The release that follows the refusal voids the key, so that a
			// late reservation cannot take stock; nothing is held or charged.
			after := s.stores(t).contents(t)
			for _, res := range after.Reservations {
				if res.OrderID == tt.id && res.Status == inventory.Reserved {
					t.Errorf("the refused order holds stock: %+v", res)
				}
			}
			if len(after.Charges) != len(before.Charges) {
				t.Errorf("the refused order charged: charges %d → %d", len(before.Charges), len(after.Charges))
			}
		})
	}

	t.Run("order ID already used", func(t *testing.T) {
		const id = "pa-used"
		if r, _ := place(id, "BOOK-GOPL:1", "--cancel-window", "0s", "--wait"); r.code != 0 {
			t.Fatalf("first placement: want exit 0: %s", r)
		}
		s.deleteWorkflow(t, id)
		r, _ := place(id, "BOOK-GOPL:1")
		want := "order " + id + " refused: claim failed: order ID \"" + id + "\" already used"
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Fatalf("placement of a used ID: want exit 1 with %q: %s", want, r)
		}
	})

	t.Run("invalid order from another client", func(t *testing.T) {
		// The order's own checks refuse it in its first workflow task,
		// where the update arrives: the update is answered all the same.
		order := workflows.Order{ID: "pa-invalid", CustomerID: "c-1", PaymentToken: payment.TokenVisa, Address: shipTo}
		opts := client.StartWorkflowOptions{ID: ordersaga.WorkflowID(order.ID), TaskQueue: ordersaga.OrdersTaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL}
		tc := s.orders(t).Temporal
		ctx, cancel := context.WithTimeout(context.Background(), answerBound)
		defer cancel()
		handle, err := tc.UpdateWithStartWorkflow(ctx, client.UpdateWithStartWorkflowOptions{
			StartWorkflowOperation: tc.NewWithStartWorkflowOperation(opts, ordersaga.OrderWorkflowType, order),
			UpdateOptions:          client.UpdateWorkflowOptions{UpdateName: ordersaga.OrderPlacedUpdate, WaitForStage: client.WorkflowUpdateStageCompleted},
		})
		if err != nil {
			t.Fatalf("update-with-start: %v", err)
		}
		var answer workflows.PlacedResult
		if err := handle.Get(ctx, &answer); err != nil {
			t.Fatalf("the invalid order's answer: %v", err)
		}
		if answer.Reserved || answer.Status != workflows.Failed || !strings.HasPrefix(answer.Refusal, "invalid order: ") {
			t.Errorf("answer %+v: want FAILED, refused as an invalid order", answer)
		}
	})

	t.Run("--wait", func(t *testing.T) {
		if r, _ := place("pa-wait", "BOOK-GOPL:1", "--cancel-window", "0s", "--wait"); r.code != 0 ||
			!strings.Contains(r.stdout, "Order pa-wait reserved:") || !strings.Contains(r.stdout, "Order pa-wait: COMPLETED") {
			t.Errorf("--wait of an order that completes: want exit 0, the reservation, then COMPLETED: %s", r)
		}
		if r, _ := place("pa-wait-oos", "LAMP-LIMITED:4", "--wait"); r.code != 3 ||
			!strings.Contains(r.stdout, "Order pa-wait-oos refused: reserve failed: out of stock") || !strings.Contains(r.stdout, "Order pa-wait-oos: FAILED") {
			t.Errorf("--wait of a refused order: want exit 3, the refusal, then FAILED: %s", r)
		}
	})
}

// reservationOf is the inventory store's reservation of the order.
func reservationOf(t *testing.T, s *stack, orderID string) inventory.Reservation {
	t.Helper()
	for _, r := range s.stores(t).contents(t).Reservations {
		if r.OrderID == orderID {
			return r
		}
	}
	t.Fatalf("the inventory holds no reservation of order %s", orderID)
	return inventory.Reservation{}
}

// TestPlaceWithoutWorker: with no worker the order cannot answer; place
// says so after --answer-timeout and exits 0, the order placed and waiting
// for a worker, which then runs it to its end. --answer-timeout 0 only
// starts the order, at once.
func TestPlaceWithoutWorker(t *testing.T) {
	s := newStack(t)
	place := func(id string, extra ...string) result {
		return s.starter(t, append([]string{"place", "--id", id, "--customer", "c-" + id, "--item", "BOOK-GOPL:1",
			"--payment", payment.TokenVisa, "--address", shipTo, "--cancel-window", "0s", "-o", "json"}, extra...)...)
	}

	v := view(t, place("nw-1", "--answer-timeout", "2s"), 0)
	if v.Reserved || v.Refusal != "" || v.TemporalStatus != "Running" || !strings.Contains(v.Note, "did not answer within 2s") ||
		!strings.Contains(v.Note, "is a worker running") {
		t.Fatalf("unanswered placement %+v: want the running order, unreserved, with a note that no worker answered", v)
	}
	started := view(t, place("nw-2", "--answer-timeout", "0"), 0)
	if started.Reserved || started.RunID == "" || started.Note != "" {
		t.Fatalf("--answer-timeout 0: %+v; want the started order only", started)
	}

	s.startWorker(t, "worker")
	for _, id := range []string{"nw-1", "nw-2"} {
		if end := s.wait(t, id); end.Status != workflows.Completed || end.ReservationID == "" {
			t.Errorf("order %s ended %s (reservation %q); want COMPLETED once a worker runs", id, end.Status, end.ReservationID)
		}
	}
}
