package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/activities/payment"
	"github.com/ordersaga/ordersaga/workflows"
)

// serverStall is how long TestWaitOutlastsAStoppedServer keeps the dev
// server stopped: longer than one history poll (the SDK gives each 65 s),
// and than the gRPC keepalive's 30 s + 15 s after which the client calls
// the connection dead.
const serverStall = 70 * time.Second

// TestWaitOutlastsAStoppedServer stops the dev server (SIGSTOP: it keeps its
// port but answers nothing) for longer than a history poll while
// `starter place --wait` and `starter cancel --wait` wait, with no worker
// running, so that neither order can end meanwhile. Their polls fail; the
// starters must poll again rather than report the orders, still running, as
// having "ended otherwise" (exit 3). Once the server and a worker are back,
// the one exits 0 with the order COMPLETED, the other 0 with it CANCELLED.
func TestWaitOutlastsAStoppedServer(t *testing.T) {
	if testing.Short() {
		t.Skip("stops the dev server for 70 s")
	}
	s := newStack(t)
	w := s.startWorker(t, "worker")
	view(t, s.starter(t, "place", "--id", "stall-cancel", "--customer", "c-stall", "--item", "MUG-GOPHER:1",
		"--payment", payment.TokenVisa, "--address", shipTo, "--cancel-window", "1h", "-o", "json"), 0)
	s.waitStatus(t, "stall-cancel", workflows.AwaitingFulfillment)
	w.stop(t, syscall.SIGTERM)

	common := []string{"--temporal-address", s.address, "--ui-url", s.uiURL}
	place := startProcess(t, "place-wait", nil, starterBin, append([]string{"place", "--id", "stall-place", "--customer", "c-stall",
		"--item", "BOOK-GOPL:1", "--payment", payment.TokenVisa, "--address", shipTo, "--wait"}, common...)...)
	cancel := startProcess(t, "cancel-wait", nil, starterBin, append([]string{"cancel", "stall-cancel", "--signal", "--wait"}, common...)...)
	place.waitOutput(t, "Waiting for order stall-place to end", orderTimeout)
	cancel.waitOutput(t, "waiting for it to end", orderTimeout)

	s.stall(t, serverStall, place, cancel)
	s.startWorker(t, "worker-after")

	for _, c := range []struct {
		p    *process
		want string
	}{{place, "COMPLETED"}, {cancel, "CANCELLED"}} {
		select {
		case <-c.p.done:
		case <-time.After(orderTimeout):
			t.Fatalf("%s still waits %s after the server came back:\n%s", c.p.name, orderTimeout, c.p.tail(20))
		}
		if code := c.p.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(c.p.output(), c.want) {
			t.Errorf("%s exited %d, want 0 with the order %s:\n%s", c.p.name, code, c.want, c.p.tail(20))
		}
	}
}

// stall stops the dev server for d, then lets it go on. None of waiting
// may exit meanwhile: the server's silence tells them nothing about the
// orders.
func (s *server) stall(t *testing.T, d time.Duration, waiting ...*process) {
	t.Helper()
	pgid := -s.proc.cmd.Process.Pid
	if err := syscall.Kill(pgid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stop the dev server: %v", err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pgid, syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)
	exited := make(chan *process, len(waiting))
	for _, p := range waiting {
		go func() { <-p.done; exited <- p }()
	}
	select {
	case p := <-exited:
		resume()
		t.Fatalf("%s exited %d while the server was stopped:\n%s", p.name, p.cmd.ProcessState.ExitCode(), p.tail(20))
	case <-time.After(d): // the fault's length, not a wait for anything
		resume()
	}
}
