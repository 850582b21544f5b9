package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestNeedsAttentionAndResume locks the payment database while an order
// compensates, so that its refund cannot succeed within the worker's
// --compensation-timeout: the order stops in NEEDS_ATTENTION, where status
// and list show it, and a resume is refused for an order that does not need
// attention. Once the lock is gone, `starter resume` lets the order refund,
// release and end FAILED, with one refund and a clean audit.
func TestNeedsAttentionAndResume(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker", "--compensation-timeout", "3s")
	view(t, s.starter(t, "place", "--id", "na-2", "--customer", "c-na", "--item", "MUG-GOPHER:1",
		"--payment", payment.TokenVisa, "--address", shipTo, "--cancel-window", "1h", "-o", "json"), 0)
	// The lock must be taken while na-1 waits in its window (charged, not
	// yet refunded): a window long enough for a loaded machine to see it.
	view(t, s.starter(t, "place", "--id", "na-1", "--customer", "c-na", "--item", "BOOK-GOPL:1",
		"--payment", payment.TokenVisa, "--address", "undeliverable: nowhere", "--cancel-window", "8s", "-o", "json"), 0)
	s.waitStatus(t, "na-1", workflows.AwaitingFulfillment)
	release := holdWriteLock(t, filepath.Join(s.dataDir, payment.DatabaseFile))
	s.waitStatus(t, "na-1", workflows.NeedsAttention)

	v := view(t, s.starter(t, "status", "na-1", "-o", "json"), 0)
	if v.Attention == nil || v.Attention.Compensation != workflows.CompensateRefund || v.Attention.Key != "order-na-1/charge" ||
		!strings.Contains(v.Attention.Error, "refund did not succeed within 3s") {
		t.Fatalf("status shows attention %+v, want the refund of order-na-1/charge timed out", v.Attention)
	}
	if r := s.starter(t, "status", "na-1"); !strings.Contains(r.stdout, "starter resume na-1") {
		t.Errorf("status text does not say how to resume:\n%s", r)
	}
	var listed []orderclient.Summary
	decode(t, s.starter(t, "list", "--status", "NEEDS_ATTENTION", "-o", "json"), &listed)
	if len(listed) != 1 || listed[0].OrderID != "na-1" {
		t.Errorf("list --status NEEDS_ATTENTION = %+v, want na-1 alone", listed)
	}
	if r := s.starter(t, "resume", "na-2"); r.code != 1 || !strings.Contains(r.stderr, "order na-2 is AWAITING_FULFILLMENT, not NEEDS_ATTENTION") {
		t.Errorf("resume of an order that needs no attention: %s", r)
	}

	release()
	// The audit lists the order that needs attention, with what to do,
	// but does not fail on it before the default threshold: an operator
	// is on it.
	report, r := s.audit(t)
	if r.code != 0 || !report.OK || len(report.Stuck) != 1 || report.Stuck[0].OrderID != "na-1" ||
		report.Stuck[0].Kind != audit.KindNeedsAttention || report.Stuck[0].Overdue || !strings.Contains(report.Stuck[0].Action, "starter resume na-1") {
		t.Errorf("audit while na-1 needs attention: want exit 0 and na-1 alone listed as %s, not overdue, with how to resume: %s",
			audit.KindNeedsAttention, r)
	}
	if r := s.worker(t, "audit"); r.code != 0 || !strings.Contains(r.stdout, "order na-1: "+audit.KindNeedsAttention) ||
		!strings.HasSuffix(r.stdout, "audit passed: no violations, no order stuck over 30m0s\n") {
		t.Errorf("audit text while na-1 needs attention: %s", r)
	}

	r = s.starter(t, "resume", "na-1", "--reason", "payment database unlocked")
	if r.code != 0 || !strings.Contains(r.stdout, "Order na-1 resumed: it tries its 2 remaining compensation(s) again") {
		t.Fatalf("resume: %s", r)
	}
	end := s.wait(t, "na-1")
	if end.Status != workflows.Failed || len(end.Resumes) != 1 || end.Resumes[0].Reason != "payment database unlocked" || end.Attention != nil {
		t.Fatalf("order na-1 ended %s, resumes %+v, attention %+v", end.Status, end.Resumes, end.Attention)
	}
	assertCompensations(t, end.OrderState, "cancel-shipment order-na-1/ship", "refund order-na-1/charge", "release order-na-1/reserve")
	if r := s.starter(t, "resume", "na-1"); r.code != 1 || !strings.Contains(r.stderr, "order na-1 already ended FAILED: there is nothing to resume") {
		t.Errorf("resume of an ended order: %s", r)
	}

	if answer, err := s.orders(t).Cancel(context.Background(), "na-2", "done with the test"); err != nil || !answer.Accepted {
		t.Fatalf("cancel of order na-2 in its window: %+v, %v", answer, err)
	}
	if v := s.wait(t, "na-2"); v.Status != workflows.Cancelled {
		t.Fatalf("order na-2 ended %s", v.Status)
	}
	charges, err := s.stores(t).payment.Charges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range charges {
		if c.Status != payment.Refunded {
			t.Errorf("charge %+v not refunded", c)
		}
	}
	assertAuditClean(t, s, map[workflows.Status]int{workflows.Failed: 1, workflows.Cancelled: 1})
}
