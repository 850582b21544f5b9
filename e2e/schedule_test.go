package e2e

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/activities/inventory"
	"github.com/ordersaga/ordersaga/continuousaudit"
)

// TestScheduledAudit: a worker hosting the audit service creates the
// schedule, whose first run audits at once and passes; once the stores
// break a promise (stock changed behind the inventory store's back), the
// next run fails with the violation in its outcome and its current
// details (what the Web UI shows), the worker's gauge counts it and its
// log names it.
func TestScheduledAudit(t *testing.T) {
	s := newStack(t)
	metrics := "127.0.0.1:" + freePort(t)
	w := s.startWorker(t, "worker", "--services", "order,inventory,payment,shipping,audit", "--audit-every", "1h",
		"--metrics-addr", metrics, "--log-format", "json")
	r := s.starter(t, "place", "--id", "sched-1", "--customer", "c-1", "--item", "BOOK-GOPL:1",
		"--payment", "tok_visa", "--address", shipTo, "--cancel-window", "0s", "--wait")
	if r.code != 0 {
		t.Fatalf("place: %s", r)
	}
	c := s.orders(t).Temporal
	ctx := context.Background()

	first := s.waitAuditRun(t, nil)
	if first.Status != "Completed" {
		t.Fatalf("the first scheduled audit ended %s, want Completed", first.Status)
	}

	failed := s.driftStockAndAudit(t, first)
	err := c.GetWorkflow(ctx, failed.WorkflowID, failed.RunID).Get(ctx, nil)
	var appErr *temporal.ApplicationError
	if !errors.As(err, &appErr) || appErr.Type() != continuousaudit.AuditFailedError || !strings.HasPrefix(appErr.Message(), "audit failed: 1 violation(s)") {
		t.Fatalf("the failed audit's outcome = %v, want an %s error counting 1 violation", err, continuousaudit.AuditFailedError)
	}
	var summary continuousaudit.Summary
	if err := appErr.Details(&summary); err != nil || len(summary.FirstViolations) != 1 || !strings.Contains(summary.FirstViolations[0], "SKU MUG-GOPHER") {
		t.Errorf("the failed audit's summary = %+v (%v), want the MUG-GOPHER drift", summary, err)
	}
	if details := currentDetails(t, s.orders(t), failed.WorkflowID); !strings.Contains(details, "Violations:") || !strings.Contains(details, "SKU MUG-GOPHER") {
		t.Errorf("the failed audit's current details (Web UI):\n%s\nwant the violation listed", details)
	}
	eventually(t, 10*time.Second, "the violations gauge", func() (bool, string) {
		body := scrape(t, "http://"+metrics+"/metrics")
		got := sumSamples(body, continuousaudit.MetricViolations, nil)
		return got == 1, fmt.Sprintf("%s = %g", continuousaudit.MetricViolations, got)
	})
	if log := w.output(); !strings.Contains(log, `"msg":"audit violation"`) || !strings.Contains(log, "SKU MUG-GOPHER") {
		t.Errorf("the worker's log does not name the violation:\n%s", w.tail(20))
	}
}

// driftStockAndAudit breaks a promise behind the inventory store's back
// (MUG-GOPHER's stock changed in its database, no reservation saying
// why), triggers the audit schedule and waits for the run after first,
// which must fail on it; it returns that run.
func (s *stack) driftStockAndAudit(t *testing.T, first auditRun) auditRun {
	t.Helper()
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(s.dataDir, inventory.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE products SET on_hand = on_hand - 3 WHERE sku = 'MUG-GOPHER'`); err != nil {
		t.Fatalf("change stock behind the store's back: %v", err)
	}
	schedule := s.orders(t).Temporal.ScheduleClient().GetHandle(ctx, ordersaga.AuditScheduleID)
	if err := schedule.Trigger(ctx, client.ScheduleTriggerOptions{}); err != nil {
		t.Fatalf("trigger the audit schedule: %v", err)
	}
	run := s.waitAuditRun(t, func(run auditRun) bool { return run.RunID != first.RunID })
	if run.Status != "Failed" {
		t.Fatalf("the audit after the drift ended %s, want Failed", run.Status)
	}
	return run
}

// auditRun is one run of the audit schedule as Temporal lists it.
type auditRun struct {
	WorkflowID, RunID, Status string
}

// waitAuditRun waits until an audit run that matches has ended, and
// returns it.
func (s *stack) waitAuditRun(t *testing.T, match func(auditRun) bool) auditRun {
	t.Helper()
	var found auditRun
	eventually(t, orderTimeout, "an ended scheduled audit", func() (bool, string) {
		resp, err := s.orders(t).Temporal.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Namespace: "default", Query: fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus != 'Running'", ordersaga.AuditWorkflowType),
		})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range resp.Executions {
			run := auditRun{WorkflowID: e.GetExecution().GetWorkflowId(), RunID: e.GetExecution().GetRunId(), Status: e.GetStatus().String()}
			if match == nil || match(run) {
				found = run
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d ended audit runs, none matching", len(resp.Executions))
	})
	return found
}
