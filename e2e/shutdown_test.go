package e2e

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/workflows"
)

// TestSecondSignalForcesTheWorkerOut: a worker asked to stop waits for its
// in-flight activities (here a charge held up by a locked payment store)
// up to --stop-timeout; a second SIGINT ends it at once, saying so, and the
// abandoned charge is retried by the next worker: the order completes with
// one charge.
func TestSecondSignalForcesTheWorkerOut(t *testing.T) {
	s := newStack(t)
	w := s.startWorker(t, "worker", "--stop-timeout", "1m")
	// The store must exist before its lock is taken: a first order.
	view(t, s.starter(t, "place", "--id", "sig-0", "--customer", "c-sig", "--item", "MUG-GOPHER:1",
		"--payment", payment.TokenVisa, "--address", shipTo, "--wait", "-o", "json"), 0)
	release := holdWriteLock(t, filepath.Join(s.dataDir, payment.DatabaseFile))
	view(t, s.starter(t, "place", "--id", "sig-1", "--customer", "c-sig", "--item", "BOOK-GOPL:1",
		"--payment", payment.TokenVisa, "--address", shipTo, "-o", "json"), 0)
	s.waitStatus(t, "sig-1", workflows.Charging)

	signal := func() {
		if err := syscall.Kill(-w.cmd.Process.Pid, syscall.SIGINT); err != nil {
			t.Fatalf("signal the worker: %v", err)
		}
	}
	signal()
	w.waitOutput(t, "worker stopping", workerStartTimeout)
	signal()
	select {
	case <-w.done:
	case <-time.After(10 * time.Second): // the graceful stop would wait for the locked charge up to 1m
		t.Fatalf("the worker did not exit within 10 s of a second SIGINT:\n%s", w.tail(20))
	}
	out := w.output()
	if code := w.cmd.ProcessState.ExitCode(); code != 130 || !strings.Contains(out, "worker forced to exit by a second signal") || strings.Contains(out, "worker stopped") {
		t.Errorf("after a second SIGINT the worker exited %d; want 130, saying it was forced, without a graceful stop:\n%s", code, w.tail(20))
	}

	release()
	s.startWorker(t, "worker-after")
	if v := s.wait(t, "sig-1"); v.Status != workflows.Completed {
		t.Errorf("order sig-1 ended %s after the forced exit, want COMPLETED", v.Status)
	}
	for _, c := range s.stores(t).contents(t).Charges {
		if c.OrderID == "sig-1" && (c.Key != "order-sig-1/charge" || c.Status != payment.Captured) {
			t.Errorf("order sig-1's charge %s is %s, want order-sig-1/charge captured", c.Key, c.Status)
		}
	}
}
