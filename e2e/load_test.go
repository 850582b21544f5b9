package e2e

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/orderclient"
	"github.com/ordersaga/ordersaga/workflows"
)

// loadReport is the part of `starter load -o json` the test reads.
type loadReport struct {
	Workflow string `json:"workflow"`
	Total    int    `json:"total"`
	Latency  struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
		P99 float64 `json:"p99"`
		Max float64 `json:"max"`
	} `json:"latency_ms"`
	PerSecond   float64 `json:"per_second"`
	MaxInFlight int     `json:"max_in_flight"`
	Outcomes    map[string]struct {
		Count int              `json:"count"`
		Want  workflows.Status `json:"want"`
		Ended map[string]int   `json:"ended"`
	} `json:"outcomes"`
	Mismatches []map[string]string `json:"mismatches"`
	Audit      *loadAudit          `json:"audit"`
}

// loadAudit is the part of the load's audit the test reads.
type loadAudit struct {
	OK            bool                     `json:"ok"`
	OrdersEnded   map[workflows.Status]int `json:"orders_ended"`
	OrdersRunning int                      `json:"orders_running"`
	Violations    []string                 `json:"violations"`
}

// TestLoad drives a small load of real orders and of the baseline workflow
// through the starter, checks that every one ended as its kind asked, that
// the report adds up and that the starter's own audit of the saga run
// passed, then that the worker's audit is clean too.
func TestLoad(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker", "--benchmark-baseline")

	saga := runLoad(t, s, "--orders", "20", "--concurrency", "5", "--mix", "success=60,declined=20,cancel=20", "--data-dir", s.dataDir)
	assertLoad(t, saga, "saga", 20, map[string]map[string]int{
		"success":  {"COMPLETED": 12},
		"declined": {"FAILED": 4},
		"cancel":   {"CANCELLED": 4},
	})
	assertLoadAudit(t, saga.Audit, map[workflows.Status]int{workflows.Completed: 12, workflows.Failed: 4, workflows.Cancelled: 4})
	assertCancelledByUpdate(t, s, 4)

	base := runLoad(t, s, "--workflow", "baseline", "--orders", "20", "--concurrency", "5")
	assertLoad(t, base, "baseline", 20, map[string]map[string]int{"baseline": {"COMPLETED": 20}})
	if base.Audit != nil {
		t.Errorf("baseline load: audit %+v, want none", base.Audit)
	}

	// A cancel window holds every order open at once; the text report
	// says so, and that the audit passed.
	r := s.starter(t, "load", "--orders", "6", "--concurrency", "6", "--window", "3s", "--mix", "success=1", "--data-dir", s.dataDir)
	for _, want := range []string{"(saga): 6 in", "window 3s, max 6 in flight", "All ended as asked.", "Audit: passed (", "orders ended, stock of "} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("starter load --window (text) lacks %q: %s", want, r)
		}
	}

	// Where there are no stores the report comes first, then the error
	// that says what to do; nothing is created there.
	nowhere := filepath.Join(t.TempDir(), "nowhere")
	r = s.starter(t, "load", "--orders", "1", "--concurrency", "1", "--mix", "success=1", "--data-dir", nowhere)
	if r.code != 1 || !strings.Contains(r.stdout, "All ended as asked.") || !strings.Contains(r.stdout, "Audit: not run: cannot open the stores to audit") ||
		!strings.HasPrefix(r.stderr, "starter: cannot open the stores to audit: ") || !strings.Contains(r.stderr, "no store at "+nowhere) ||
		!strings.Contains(r.stderr, "or pass --audit=false") {
		t.Errorf("starter load without stores: want the report, then a one-line error: %s", r)
	}
	if _, err := os.Stat(nowhere); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("starter load created the missing data directory: %v", err)
	}

	// Text output, as a script or CI log gets it: progress lines, then the report.
	r = s.starter(t, "load", "--workflow", "baseline", "--orders", "3", "--concurrency", "3", "--rate", "20")
	for _, want := range []string{"3/3 done (0 not as asked)", "Load ", "(baseline): 3 in", "rate limit 20/s", "Latency (ms): p50", "All ended as asked."} {
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("starter load (text) lacks %q: %s", want, r)
		}
	}

	assertAuditClean(t, s, map[workflows.Status]int{workflows.Completed: 12 + 6 + 1, workflows.Failed: 4, workflows.Cancelled: 4})
}

// assertLoadAudit checks the audit of the first saga run on a fresh
// server, whose orders are the only ones Temporal lists: it passed, and it
// saw every one of them, ended as its kind asked or, where Temporal's list
// (eventually consistent) had not caught up with its end yet, running.
func assertLoadAudit(t *testing.T, a *loadAudit, ended map[workflows.Status]int) {
	t.Helper()
	if a == nil || !a.OK || len(a.Violations) != 0 {
		t.Fatalf("saga load: audit %+v, want a pass", a)
	}
	total, judged := 0, 0
	for status, n := range ended {
		total += n
		if got := a.OrdersEnded[status]; got > n {
			t.Errorf("saga load: audit judged %d %s orders, want at most the run's %d", got, status, n)
		}
	}
	for _, n := range a.OrdersEnded {
		judged += n
	}
	if judged == 0 || judged+a.OrdersRunning != total {
		t.Errorf("saga load: audit judged %d ended orders (%v) and saw %d running; want the run's %d between them", judged, a.OrdersEnded, a.OrdersRunning, total)
	}
}

// assertCancelledByUpdate checks that the n orders Temporal lists as
// cancelled, a load's cancel orders on a fresh server, were cancelled as
// `starter cancel` does: each got one cancel-order update, and no signal.
func assertCancelledByUpdate(t *testing.T, s *stack, n int) {
	t.Helper()
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Canceled'", ordersaga.OrderWorkflowType)
	var cancelled []string
	eventually(t, orderTimeout, fmt.Sprintf("Temporal lists %d cancelled orders", n), func() (bool, string) {
		cancelled = cancelled[:0]
		for _, run := range s.listRuns(t, query) {
			cancelled = append(cancelled, strings.TrimPrefix(run.GetExecution().GetWorkflowId(), ordersaga.WorkflowIDPrefix))
		}
		return len(cancelled) == n, fmt.Sprint(cancelled)
	})
	for _, orderID := range cancelled {
		updates, signals := 0, 0
		for _, e := range s.history(t, orderID).GetEvents() {
			switch e.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
				if e.GetWorkflowExecutionUpdateAcceptedEventAttributes().GetAcceptedRequest().GetInput().GetName() == ordersaga.CancelOrderUpdate {
					updates++
				}
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
				signals++
			}
		}
		if updates != 1 || signals != 0 {
			t.Errorf("load's cancel order %s got %d cancel updates and %d signals, want 1 update alone", orderID, updates, signals)
		}
	}
}

// runLoad runs `starter load -o json` with args and decodes its report.
func runLoad(t *testing.T, s *stack, args ...string) loadReport {
	t.Helper()
	r := s.starter(t, append([]string{"load", "-o", "json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("starter load %v: %s", args, r)
	}
	var rep loadReport
	decode(t, r, &rep)
	return rep
}

// assertLoad checks a load report's totals, outcomes and latencies.
func assertLoad(t *testing.T, rep loadReport, workflow string, total int, ended map[string]map[string]int) {
	t.Helper()
	if rep.Workflow != workflow || rep.Total != total || rep.PerSecond <= 0 {
		t.Errorf("%s load: workflow %q, total %d, %.2f/s; want %q, %d, a positive rate", workflow, rep.Workflow, rep.Total, rep.PerSecond, workflow, total)
	}
	if len(rep.Mismatches) != 0 {
		t.Errorf("%s load: %d ended otherwise than asked: %v", workflow, len(rep.Mismatches), rep.Mismatches)
	}
	if len(rep.Outcomes) != len(ended) {
		t.Errorf("%s load: outcomes %v, want %v", workflow, rep.Outcomes, ended)
	}
	for kind, want := range ended {
		if got := rep.Outcomes[kind].Ended; !maps.Equal(got, want) {
			t.Errorf("%s load: %s ended %v, want %v", workflow, kind, got, want)
		}
	}
	l := rep.Latency
	if l.P50 <= 0 || l.P50 > l.P95 || l.P95 > l.P99 || l.P99 > l.Max {
		t.Errorf("%s load: latencies not positive and ordered: %+v", workflow, l)
	}
	if rep.MaxInFlight < 1 || rep.MaxInFlight > 5 {
		t.Errorf("%s load: max in flight %d, want 1 to 5 (--concurrency)", workflow, rep.MaxInFlight)
	}
}

// TestAwait waits for orders with orderclient.Await, one long poll on the
// run that Place started, through every way an order's workflow can end.
func TestAwait(t *testing.T) {
	s := newStack(t)
	s.startWorker(t, "worker")
	oc := s.orders(t)
	ctx, cancel := context.WithTimeout(context.Background(), orderTimeout)
	defer cancel()
	tests := []struct {
		name, token  string
		window       time.Duration
		end          func(orderID string) // ends an order held in its window
		wantStatus   workflows.Status
		wantTemporal string
		wantTotal    bool
	}{
		{name: "completed", token: "tok_visa", wantStatus: workflows.Completed, wantTemporal: "Completed", wantTotal: true},
		{name: "declined", token: "tok_declined", wantStatus: workflows.Failed, wantTemporal: "Failed"},
		{name: "cancelled", token: "tok_visa", window: time.Hour, end: func(id string) { s.cancelInWindow(t, id) },
			wantStatus: workflows.Cancelled, wantTemporal: "Canceled", wantTotal: true},
		{name: "cancelled through Temporal", token: "tok_visa", window: time.Hour, end: func(id string) { s.cancelThroughTemporal(t, id) },
			wantStatus: workflows.Cancelled, wantTemporal: "Canceled", wantTotal: true},
		{name: "terminated", token: "tok_visa", window: time.Hour, end: func(id string) {
			s.waitStatus(t, id, workflows.AwaitingFulfillment)
			if err := oc.Temporal.TerminateWorkflow(ctx, ordersaga.WorkflowID(id), "", "e2e"); err != nil {
				t.Fatal(err)
			}
		}, wantStatus: workflows.AwaitingFulfillment, wantTemporal: "Terminated"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := fmt.Sprintf("await-%d", i)
			placed, err := oc.Place(ctx, recordOrder(id, tt.token, tt.window))
			if err != nil {
				t.Fatal(err)
			}
			type awaited struct {
				v   orderclient.View
				err error
			}
			done := make(chan awaited, 1)
			go func() {
				v, err := oc.Await(ctx, placed)
				done <- awaited{v, err}
			}()
			if tt.end != nil {
				tt.end(id)
			}
			got := <-done
			v := got.v
			if got.err != nil || v.OrderID != id || v.Status != tt.wantStatus || v.TemporalStatus != tt.wantTemporal || v.RunID != placed.RunID {
				t.Fatalf("Await = %+v, %v; want order %s %s, Temporal status %s, run %s", v, got.err, id, tt.wantStatus, tt.wantTemporal, placed.RunID)
			}
			if tt.wantTotal && v.TotalCents <= 0 {
				t.Errorf("Await: total %d, want the order's total", v.TotalCents)
			}
		})
	}
}
