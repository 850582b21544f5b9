package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestStarterRefusals checks the starter's refusals that need a server:
// each is a one-line error with a non-zero exit, and changes nothing.
func TestStarterRefusals(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker")

	first := s.starter(t, "place", "--id", "d1", "--customer", "alice", "--item", "MUG-GOPHER:1",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "0", "--wait", "-o", "json")
	done := view(t, first, 0)

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"duplicate order ID", []string{"place", "--id", "d1", "--customer", "bob", "--item", "BOOK-GOPL:1",
			"--payment", "tok_visa", "--address", shipTo}, []string{"d1", "already"}},
		{"bad input starts nothing", []string{"place", "--id", "d2", "--customer", " ", "--item", "BOOK-GOPL:1",
			"--payment", "tok_visa", "--address", shipTo}, []string{"customer"}},
		{"malformed item", []string{"place", "--id", "d3", "--customer", "bob", "--item", "BOOK-GOPL:zero",
			"--payment", "tok_visa", "--address", shipTo}, []string{"BOOK-GOPL:zero"}},
		{"cancel an unknown order", []string{"cancel", "nope"}, []string{"no such order", "nope"}},
		{"cancel an ended order", []string{"cancel", "d1"}, []string{"d1", "COMPLETED"}},
		{"status of an unknown order", []string{"status", "nope"}, []string{"no such order"}},
		{"watch an unknown order", []string{"watch", "nope"}, []string{"no such order"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.starter(t, tt.args...)
			if r.code != 1 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("want exit 1, empty stdout and one line on stderr: %s", r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not mention %q", r.stderr, w)
				}
			}
		})
	}

	// Nothing was started by the refusals: d1 ran once, and nothing else.
	eventually(t, 30*time.Second, "list shows d1 alone", func() (bool, string) {
		r := s.starter(t, "list", "-o", "json")
		var list []orderclient.Summary
		decode(t, r, &list)
		return len(list) == 1 && list[0].OrderID == "d1" && list[0].Status == workflows.Completed, r.stdout
	})
	if v := s.wait(t, "d1"); v.RunID != done.RunID || v.CustomerID != "alice" {
		t.Errorf("order d1 is now run %s of %s, want the first run %s of alice", v.RunID, v.CustomerID, done.RunID)
	}
	assertAuditClean(t, s, map[workflows.Status]int{workflows.Completed: 1})
}

// TestStarterWatch follows an order from its start to its end and sees
// every status in order. The services run split over two worker processes,
// as they would in separate deployments.
func TestStarterWatch(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker-order-inventory", "--services", "order,inventory")
	s.startWorker(t, "worker-payment-shipping", "--services", "payment,shipping")
	view(t, s.starter(t, "place", "--id", "w1", "--customer", "erin", "--item", "BOOK-GOPL:1",
		"--payment", "tok_flaky", "--address", shipTo, "--cancel-window", "1s", "-o", "json"), 0)

	r := s.starter(t, "watch", "w1")
	if r.code != 0 {
		t.Fatalf("watch: %s", r)
	}
	last := -1
	for _, status := range []workflows.Status{workflows.Pending, workflows.Reserving, workflows.Charging,
		workflows.AwaitingFulfillment, workflows.Shipping, workflows.Completed} {
		i := strings.Index(r.stdout, "  "+string(status))
		if i < 0 || i < last {
			t.Fatalf("watch output lacks %s after the states before it:\n%s", status, r.stdout)
		}
		last = i
	}
}
