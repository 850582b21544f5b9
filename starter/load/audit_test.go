package load

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// passedAudit judged 2 completed, 1 failed and 1 forgotten completed
// order, and notes an order in NEEDS_ATTENTION that is not yet overdue.
func passedAudit() *loadAudit {
	return &loadAudit{OK: true, Report: &audit.Report{
		OrdersEnded:   map[workflows.Status]int{workflows.Completed: 2, workflows.Failed: 1},
		OrdersRunning: 1, ForgottenCompleted: 1, StuckAfter: "30m0s",
		Stuck: []audit.Stuck{{OrderID: "load-s-3", Kind: audit.KindNeedsAttention, For: "2m0s",
			Detail: "a compensation could not be done", Action: "starter resume load-s-3"}},
		SKUs: 12, CapturedCents: 1497, CompletedCents: 1497, Violations: []string{},
		Checks: []audit.Check{{Name: "stock", Detail: "12 SKUs"}, {Name: "money", Detail: "captured $14.97"}},
	}}
}

// failedAudit found two violations and an order stuck past the threshold.
func failedAudit() *loadAudit {
	return &loadAudit{Report: &audit.Report{
		OrdersEnded: map[workflows.Status]int{workflows.Completed: 2}, OrdersRunning: 1, StuckAfter: "30m0s",
		Stuck: []audit.Stuck{{OrderID: "load-s-1", Kind: audit.KindNoProgress, For: "1h0m0s", Overdue: true,
			Detail: "no event since 10:00", Action: "check the workers"}},
		SKUs: 12, CompletedCents: 998,
		Checks: []audit.Check{{Name: "stock"}, {Name: "completed orders", Violations: 1}, {Name: "money", Violations: 1}, {Name: "orders in progress", Violations: 1}},
		Violations: []string{
			`order load-s-0 (COMPLETED): charge is "", want "CAPTURED"`,
			"money: charges captured for ended orders add up to $0.00, completed orders to $9.98",
		},
	}}
}

// stuckAudit found no violation, but an order stuck past the threshold.
func stuckAudit() *loadAudit {
	a := failedAudit()
	a.Violations = []string{}
	a.Checks = []audit.Check{{Name: "stock"}, {Name: "orders in progress", Violations: 1}}
	return a
}

func TestPrintLoadAudit(t *testing.T) {
	tests := []struct {
		name  string
		audit loadAudit
		want  string
	}{
		{"passed", *passedAudit(), "Audit: passed (4 orders ended, stock of 12 SKUs, money: $14.97 captured = $14.97 completed)\n" +
			"  NOTE   order load-s-3: needs_attention for 2m0s: a compensation could not be done; starter resume load-s-3\n"},
		{"failed", *failedAudit(), "Audit: FAILED: completed orders 1, money 1, orders in progress 1 (2 orders ended)\n" +
			"  order load-s-0 (COMPLETED): charge is \"\", want \"CAPTURED\"\n" +
			"  money: charges captured for ended orders add up to $0.00, completed orders to $9.98\n" +
			"  STUCK  order load-s-1: no_progress for 1h0m0s (over the threshold): no event since 10:00; check the workers\n"},
		{"stuck only", *stuckAudit(), "Audit: FAILED: orders in progress 1 (2 orders ended)\n" +
			"  STUCK  order load-s-1: no_progress for 1h0m0s (over the threshold): no event since 10:00; check the workers\n"},
		{"skipped", loadAudit{Skipped: true}, "Audit: skipped (--audit=false)\n"},
		{"not run", loadAudit{Error: "cannot open the stores to audit: no store at x"}, "Audit: not run: cannot open the stores to audit: no store at x\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			printLoadAudit(&buf, tt.audit)
			if buf.String() != tt.want {
				t.Errorf("audit printed\n%s\nwant\n%s", buf.String(), tt.want)
			}
		})
	}
}

// fakeTemporal is an audit.Temporal that lists runs of the order
// workflow, each its own placement; a running one has made no progress
// since lastEvent. With listErr, listing fails.
type fakeTemporal struct {
	runs      []audit.OrderRun
	lastEvent time.Time
	listErr   error
}

func (f fakeTemporal) Runs(_ context.Context, fn func(audit.OrderRun) error) error {
	if f.listErr != nil {
		return f.listErr
	}
	for _, r := range f.runs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (f fakeTemporal) FirstRunID(_ context.Context, workflowID, runID string) (string, error) {
	for _, r := range f.runs {
		if r.WorkflowID == workflowID && (runID == "" || r.RunID == runID) {
			return r.RunID, nil
		}
	}
	return "", audit.ErrGone
}

func (f fakeTemporal) Inspect(_ context.Context, workflowID, runID string) (audit.Inspection, error) {
	if _, err := f.FirstRunID(context.Background(), workflowID, runID); err != nil {
		return audit.Inspection{}, err
	}
	return audit.Inspection{LastEventAt: f.lastEvent, LastEvent: "ACTIVITY_TASK_COMPLETED"}, nil
}

// orderRun is a run of order id's workflow, as Temporal lists it.
func orderRun(id, temporalStatus string, status workflows.Status) audit.OrderRun {
	return audit.OrderRun{WorkflowID: ordersaga.WorkflowID(id), RunID: "run-" + id, Start: time.Now().Add(-time.Hour),
		Status: temporalStatus, OrderStatus: status, Placed: true}
}

// TestAuditLoad audits real, empty SQLite stores against a fake Temporal:
// the orders Temporal lists are judged with the stores, a completed order
// that holds nothing is a violation and an order without progress for an
// hour fails the audit; no stores, or a Temporal that cannot list, is an
// error that says what to do, and no stores creates nothing.
func TestAuditLoad(t *testing.T) {
	withStores := t.TempDir()
	_, closeStores, err := stores.Open(context.Background(), withStores, stores.DSNs{})
	if err != nil {
		t.Fatal(err)
	}
	closeStores()
	missing := filepath.Join(t.TempDir(), "nowhere")
	saga := func(audit bool, dir string) loadPlan {
		return loadPlan{workflow: loadSaga, audit: audit, dataDir: dir}
	}
	declined := fakeTemporal{runs: []audit.OrderRun{orderRun("load-r-a", "Failed", workflows.Failed)}}
	tests := []struct {
		name         string
		plan         loadPlan
		temporal     fakeTemporal
		wantSkipped  bool
		wantErr      []string // what the error says, in this order
		wantOK       bool
		wantEnded    int
		wantOverdue  int
		wantViolated string // a violation it must report
	}{
		{name: "baseline has none", plan: loadPlan{workflow: loadBaseline}},
		{name: "skipped", plan: saga(false, missing), wantSkipped: true},
		{name: "no stores", plan: saga(true, missing), temporal: declined,
			wantErr: []string{"cannot open the stores to audit: ", "no store at " + filepath.Join(missing, "inventory.db"),
				"; run starter load where the worker's stores are (--data-dir or the --*-dsn flags), or pass --audit=false"}},
		{name: "Temporal cannot list", plan: saga(true, withStores), temporal: fakeTemporal{listErr: errors.New("list orders in Temporal: unavailable")},
			wantErr: []string{"cannot audit the stores: list orders in Temporal: unavailable; check that they and Temporal are reachable, or pass --audit=false"}},
		{name: "nothing anywhere", plan: saga(true, withStores), wantOK: true},
		{name: "passed", plan: saga(true, withStores), temporal: declined, wantOK: true, wantEnded: 1},
		{name: "violations", plan: saga(true, withStores), wantEnded: 1,
			temporal:     fakeTemporal{runs: []audit.OrderRun{orderRun("load-r-a", "Completed", workflows.Completed)}},
			wantViolated: "order load-r-a (workflow order-load-r-a, run run-load-r-a) (COMPLETED): reservation is none"},
		{name: "stuck", plan: saga(true, withStores), wantOverdue: 1, temporal: fakeTemporal{
			runs:      []audit.OrderRun{orderRun("load-r-b", "Running", workflows.AwaitingFulfillment)},
			lastEvent: time.Now().Add(-time.Hour),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rep loadReport
			err := auditLoad(context.Background(), tt.plan, tt.temporal, &rep)
			if tt.wantErr != nil {
				if err == nil || !containsInOrder(err.Error(), tt.wantErr) {
					t.Errorf("auditLoad error = %v, want one saying %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatalf("auditLoad: %v", err)
			}
			a := rep.Audit
			if tt.plan.workflow == loadBaseline {
				if a != nil {
					t.Errorf("audit = %+v, want none", a)
				}
				return
			}
			wantError := ""
			if err != nil {
				wantError = cli.OneLine(err)
			}
			if a == nil || a.Skipped != tt.wantSkipped || a.OK != tt.wantOK || a.Error != wantError {
				t.Fatalf("audit = %+v; want skipped %v, ok %v, error %q", a, tt.wantSkipped, tt.wantOK, wantError)
			}
			ran := !tt.wantSkipped && tt.wantErr == nil
			if (a.Report != nil) != ran {
				t.Fatalf("audit ran = %v, want it to run only when asked and the stores and Temporal answered", a.Report != nil)
			}
			if !ran {
				return
			}
			if got := endedOrders(*a.Report); got != tt.wantEnded || a.Overdue() != tt.wantOverdue {
				t.Errorf("audit judged %d ended, %d overdue; want %d, %d", got, a.Overdue(), tt.wantEnded, tt.wantOverdue)
			}
			violations := strings.Join(a.Violations, "\n")
			if (tt.wantViolated == "") != (len(a.Violations) == 0) || !strings.Contains(violations, tt.wantViolated) {
				t.Errorf("violations = %q, want one containing %q", a.Violations, tt.wantViolated)
			}
		})
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("auditing a missing data directory created it: %v", err)
	}
}

// containsInOrder reports whether s holds each of parts, one after the
// other.
func containsInOrder(s string, parts []string) bool {
	for _, p := range parts {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return true
}
