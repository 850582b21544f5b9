package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// loadAudit is the audit of a saga run's orders, as 'worker audit' makes
// it: the per-order and money checks judge the run's orders only, the
// stock check every SKU.
type loadAudit struct {
	// OK is set when the audit ran and found no violation.
	OK bool `json:"ok"`
	// Skipped is set by --audit=false.
	Skipped bool `json:"skipped,omitempty"`
	// Error says why the audit could not run.
	Error string `json:"error,omitempty"`
	// Audited counts the orders of the run that the audit judged: those
	// whose ending load learned. NotAudited counts the others.
	Audited    int `json:"orders_audited"`
	NotAudited int `json:"orders_not_audited"`
	// Report is what the audit checked and found; nil if it did not run.
	*audit.Report
}

// auditLoad audits the stores over a saga run's orders and puts the audit
// in rep; a baseline run gets none. It returns the error that kept the
// audit from running.
func auditLoad(ctx context.Context, p loadPlan, results []jobResult, rep *loadReport) error {
	if p.workflow != loadSaga {
		return nil
	}
	a := &loadAudit{NotAudited: len(results)}
	rep.Audit = a
	if !p.audit {
		a.Skipped = true
		return nil
	}
	orders, notAudited := auditOrders(results)
	r, err := auditStores(ctx, p, orders)
	if err != nil {
		a.Error = oneLine(err.Error())
		return err
	}
	a.Report, a.OK = &r, r.OK()
	a.Audited, a.NotAudited = len(orders), notAudited
	return nil
}

// auditOrders turns the jobs that learned their order's ending into the
// audit's orders, and counts those that did not.
func auditOrders(results []jobResult) (orders []audit.Order, notAudited int) {
	for _, r := range results {
		if !r.ended || r.err != nil || r.status == "" {
			notAudited++
			continue
		}
		orders = append(orders, audit.Order{ID: r.id, Status: r.status, TotalCents: r.totalCents, TemporalStatus: r.temporalStatus})
	}
	return orders, notAudited
}

// auditStores opens the stores where the plan says, without creating any,
// and audits them against orders.
func auditStores(ctx context.Context, p loadPlan, orders []audit.Order) (audit.Report, error) {
	st, closeStores, err := stores.OpenExisting(ctx, p.dataDir, p.dsns)
	if err != nil {
		return audit.Report{}, fmt.Errorf("cannot open the stores to audit: %w; run starter load where the worker's stores are (--data-dir or the --*-dsn flags), or pass --audit=false", err)
	}
	defer closeStores()
	r, err := audit.Run(ctx, st, orders)
	if err != nil {
		return audit.Report{}, fmt.Errorf("cannot audit the stores: %w; check that they are reachable, or pass --audit=false", err)
	}
	return r, nil
}

// printLoadAudit prints the audit's verdict in a line, then any violation.
func printLoadAudit(w io.Writer, a loadAudit) {
	notAudited := ""
	if a.NotAudited > 0 {
		notAudited = fmt.Sprintf("; %d not audited (ending unknown)", a.NotAudited)
	}
	switch {
	case a.Skipped:
		fmt.Fprintln(w, "Audit: skipped (--audit=false)")
	case a.Report == nil:
		fmt.Fprintf(w, "Audit: not run: %s\n", a.Error)
	case a.OK:
		fmt.Fprintf(w, "Audit: passed (%d orders, stock of %d SKUs, money: %s captured = %s completed)%s\n",
			a.Audited, a.SKUs, workflows.FormatCents(a.CapturedCents), workflows.FormatCents(a.CompletedCents), notAudited)
	default:
		fmt.Fprintf(w, "Audit: FAILED: %s (%d orders)%s\n", failedChecks(a.Checks), a.Audited, notAudited)
		for _, v := range a.Violations {
			fmt.Fprintf(w, "  %s\n", v)
		}
	}
}

// failedChecks names the checks with violations: "stock 1, money 1".
func failedChecks(checks []audit.Check) string {
	var parts []string
	for _, c := range checks {
		if c.Violations > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", c.Name, c.Violations))
		}
	}
	return strings.Join(parts, ", ")
}
