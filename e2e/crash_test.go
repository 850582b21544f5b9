package e2e

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestWorkerKilledMidActivityAndInWindow kills the worker process with
// SIGKILL while some orders wait in their cancel window and others are in
// the middle of a (slow) charge, cancels one order while no worker runs,
// starts a new worker, and shows that every order ends as it should, that
// no order was charged twice, and that the audit is clean.
func TestWorkerKilledMidActivityAndInWindow(t *testing.T) {
	s := newStack(t)
	first := s.startWorker(t, "worker-1")

	place := func(id, token, window string) {
		view(t, s.starter(t, "place", "--id", id, "--customer", "c-"+id, "--item", "BOOK-GOPL:1", "--item", "STICKER-PACK:2",
			"--payment", token, "--address", shipTo, "--cancel-window", window, "-o", "json"), 0)
	}
	windowed := []string{"win-1", "win-2", "win-3"}
	charging := []string{"slow-1", "slow-2"}
	for _, id := range windowed {
		place(id, payment.TokenVisa, "15s")
	}
	place("late-cancel", payment.TokenVisa, "10m")
	for _, id := range charging {
		place(id, payment.TokenSlow, "0s")
	}

	// Wait until the windowed orders wait and the slow charges are running
	// in the worker (started, not only scheduled).
	for _, id := range append(windowed, "late-cancel") {
		s.waitStatus(t, id, workflows.AwaitingFulfillment)
	}
	for _, id := range charging {
		s.waitActivityStarted(t, id, "ChargePayment")
	}

	first.stop(t, syscall.SIGKILL)

	// A cancel sent while no worker runs waits in the server.
	if r := s.starter(t, "cancel", "late-cancel", "--signal", "--reason", "sent while the worker was down"); r.code != 0 {
		t.Fatalf("cancel while no worker runs: %s", r)
	}

	s.startWorker(t, "worker-2")
	want := map[string]workflows.Status{"late-cancel": workflows.Cancelled}
	for _, id := range append(windowed, charging...) {
		want[id] = workflows.Completed
	}
	st := s.stores(t)
	for id, status := range want {
		v := s.wait(t, id)
		if v.Status != status {
			t.Errorf("order %s ended %s, want %s: %+v", id, v.Status, status, v.OrderState)
			continue
		}
		c, found, err := st.payment.ChargeByKey(context.Background(), "order-"+id+"/charge")
		if err != nil || !found {
			t.Fatalf("order %s: no charge recorded (%v)", id, err)
		}
		if status == workflows.Completed && (c.Status != payment.Captured || c.AmountCents != v.TotalCents) {
			t.Errorf("order %s: charge %+v, want one capture of %d cents", id, c, v.TotalCents)
		}
	}
	charges, err := st.payment.Charges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(charges) != len(want) {
		t.Errorf("%d charges recorded for %d orders: %+v", len(charges), len(want), charges)
	}
	assertAuditClean(t, s, map[workflows.Status]int{workflows.Completed: len(want) - 1, workflows.Cancelled: 1})
}

// TestWorkerStopsGracefully sends SIGTERM to a worker in the middle of a
// (slow) charge: the worker lets the charge finish within its stop timeout,
// closes its stores and exits 0; a new worker finishes the order with that
// one charge.
func TestWorkerStopsGracefully(t *testing.T) {
	s := newStack(t)
	w := s.startWorker(t, "worker-1", "--stop-timeout", "20s")
	view(t, s.starter(t, "place", "--id", "g1", "--customer", "c-g1", "--item", "MUG-GOPHER:1",
		"--payment", payment.TokenSlow, "--address", shipTo, "--cancel-window", "0s", "-o", "json"), 0)
	s.waitActivityStarted(t, "g1", "ChargePayment")

	w.stop(t, syscall.SIGTERM)
	if w.err != nil {
		t.Fatalf("worker exited with %v after SIGTERM, want exit 0:\n%s", w.err, w.tail(20))
	}
	for _, line := range []string{"worker stopping", "payment captured", "worker stopped"} {
		if !strings.Contains(w.output(), line) {
			t.Errorf("worker log lacks %q:\n%s", line, w.tail(20))
		}
	}
	st := s.stores(t)
	if c, found, err := st.payment.ChargeByKey(context.Background(), "order-g1/charge"); err != nil || !found || c.Status != payment.Captured {
		t.Fatalf("the in-flight charge did not finish before the worker stopped: %+v found=%v err=%v", c, found, err)
	}

	s.startWorker(t, "worker-2")
	if v := s.wait(t, "g1"); v.Status != workflows.Completed {
		t.Fatalf("order g1 ended %s: %+v", v.Status, v.OrderState)
	}
	charges, err := st.payment.Charges(context.Background())
	if err != nil || len(charges) != 1 {
		t.Fatalf("charges = %+v (err %v), want the one", charges, err)
	}
	assertAuditClean(t, s, map[workflows.Status]int{workflows.Completed: 1})
}

// waitActivityStarted waits until the order's activity is running in a
// worker (started, not only scheduled).
func (s *stack) waitActivityStarted(t *testing.T, orderID, activity string) {
	t.Helper()
	oc := s.orders(t)
	eventually(t, orderTimeout, activity+" of "+orderID+" started", func() (bool, string) {
		d, err := oc.Temporal.DescribeWorkflowExecution(context.Background(), "order-"+orderID, "")
		if err != nil {
			return false, err.Error()
		}
		for _, a := range d.GetPendingActivities() {
			if a.GetActivityType().GetName() == activity && a.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED {
				return true, ""
			}
		}
		return false, fmt.Sprint(d.GetPendingActivities())
	})
}
