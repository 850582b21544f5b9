package load

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// loadAudit is the audit of the stores after a saga run, as 'worker
// audit' makes it: every order Temporal knows and every record in the
// stores, the run's orders among them.
type loadAudit struct {
	// OK is set when the audit ran and found nothing to act on.
	OK bool `json:"ok"`
	// Skipped is set by --audit=false.
	Skipped bool `json:"skipped,omitempty"`
	// Error says why the audit could not run.
	Error string `json:"error,omitempty"`
	// Report is what the audit checked and found; nil if it did not run.
	*audit.Report
}

// auditLoad audits the stores against temporal after a saga run and puts
// the audit in rep; a baseline run gets none. It returns the error that
// kept the audit from running.
func auditLoad(ctx context.Context, p loadPlan, temporal audit.Temporal, rep *loadReport) error {
	if p.workflow != loadSaga {
		return nil
	}
	a := &loadAudit{}
	rep.Audit = a
	if !p.audit {
		a.Skipped = true
		return nil
	}
	r, err := auditStores(ctx, p, temporal)
	if err != nil {
		a.Error = cli.OneLine(err)
		return err
	}
	a.Report, a.OK = &r, r.OK()
	return nil
}

// auditStores opens the stores where the plan says, read-only, and audits
// them against Temporal.
func auditStores(ctx context.Context, p loadPlan, temporal audit.Temporal) (audit.Report, error) {
	st, closeStores, err := stores.OpenReadOnly(ctx, p.dataDir, p.dsns)
	if err != nil {
		return audit.Report{}, fmt.Errorf("cannot open the stores to audit: %w; run starter load where the worker's stores are (--data-dir or the --*-dsn flags), or pass --audit=false", err)
	}
	defer closeStores()
	r, err := audit.Run(ctx, st, temporal, audit.Options{})
	if err != nil {
		return audit.Report{}, fmt.Errorf("cannot audit the stores: %w; check that they and Temporal are reachable, or pass --audit=false", err)
	}
	return r, nil
}

// printLoadAudit prints the audit's verdict in a line, then every
// violation and every stuck order it found: STUCK for those past the
// threshold, which fail it, NOTE for the others.
func printLoadAudit(w io.Writer, a loadAudit) {
	switch {
	case a.Skipped:
		fmt.Fprintln(w, "Audit: skipped (--audit=false)")
		return
	case a.Report == nil:
		fmt.Fprintf(w, "Audit: not run: %s\n", a.Error)
		return
	case a.OK:
		fmt.Fprintf(w, "Audit: passed (%d orders ended, stock of %d SKUs, money: %s captured = %s completed)\n",
			endedOrders(*a.Report), a.SKUs, workflows.FormatCents(a.CapturedCents), workflows.FormatCents(a.CompletedCents))
	default:
		fmt.Fprintf(w, "Audit: FAILED: %s (%d orders ended)\n", failedChecks(a.Checks), endedOrders(*a.Report))
	}
	for _, v := range a.Violations {
		fmt.Fprintf(w, "  %s\n", v)
	}
	for _, s := range a.Stuck {
		fmt.Fprintf(w, "  %s  %s\n", s.Mark(), s)
	}
}

// endedOrders counts the orders the audit judged as ended, whether
// Temporal still knows them or not.
func endedOrders(r audit.Report) int {
	n := r.ForgottenCompleted + r.ForgottenUndone
	for _, c := range r.OrdersEnded {
		n += c
	}
	return n
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
