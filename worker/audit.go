package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
	"github.com/ordersaga/ordersaga/internal/platform/connect"
	"github.com/ordersaga/ordersaga/internal/stores"
	"github.com/ordersaga/ordersaga/workflows"
)

// StuckAfterEnv holds --stuck-after's default, for `worker audit` and the
// audit service alike.
const StuckAfterEnv = "ORDERSAGA_AUDIT_STUCK_AFTER"

// registerStuckAfter adds --stuck-after to fs.
func registerStuckAfter(fs *pflag.FlagSet, d *time.Duration) {
	fs.DurationVar(d, "stuck-after", envDuration(StuckAfterEnv, audit.DefaultStuckAfter),
		"audit: how long a running order may make no progress before it fails the audit (env "+StuckAfterEnv+")")
}

func newAuditCommand(g *globals) *cobra.Command {
	var stuckAfter time.Duration
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the saga's invariants across the three stores and Temporal",
		Long: `audit opens the inventory, payment and shipping stores read-only (a store
that is not there is an error; nothing is created or migrated), lists every
order Temporal knows, and checks, placement by placement (one run of an
order's workflow, kept through resets, whose ID every record carries):
  - an order that ended COMPLETED holds one reservation, one captured charge
    equal to the reservation's total, and one shipment;
  - an order that ended FAILED or CANCELLED holds no reservation, no captured
    charge and no shipment; one that ended any other way ended outside the
    saga;
  - an order Temporal has forgotten (retention, a deleted workflow) is judged
    by the stores alone: everything live, or nothing;
  - for every SKU, units received = on hand + reserved;
  - captured charges add up to the totals of the completed orders;
  - no running order is stuck: orders in NEEDS_ATTENTION and orders whose
    workflow task fails are always listed, any order without progress for
    longer than --stuck-after fails the audit, each with what to do.
It prints what it checked and every finding, and exits 1 on any violation
or order stuck over --stuck-after.`,
		Example: "  worker audit\n  worker audit -o json --data-dir /var/lib/ordersaga --stuck-after 1h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cli.CheckOutput(g.output); err != nil {
				return err
			}
			if stuckAfter <= 0 {
				return fmt.Errorf("--stuck-after is %s: give a positive duration such as 30m", stuckAfter)
			}
			report, err := runAudit(cmd.Context(), g, stuckAfter)
			if err != nil {
				return err
			}
			if err := g.printReport(report); err != nil {
				return err
			}
			if !report.OK() {
				return exitError{code: 1}
			}
			return nil
		},
	}
	cli.RegisterOutput(cmd.Flags(), &g.output)
	registerStuckAfter(cmd.Flags(), &stuckAfter)
	return cmd
}

// runAudit audits the stores against Temporal, as the scheduled audit
// does (audit.RunAt); it opens the stores before it dials Temporal, so
// that a mistyped store is reported as such whether Temporal answers or
// not.
func runAudit(ctx context.Context, g *globals, stuckAfter time.Duration) (audit.Report, error) {
	st, closeStores, err := stores.OpenReadOnly(ctx, g.dataDir, g.dsns)
	if err != nil {
		return audit.Report{}, err
	}
	defer closeStores()
	c, opts, err := g.conn.Dial(nil)
	if err != nil {
		return audit.Report{}, err
	}
	defer c.Close()
	temporal := audit.TemporalClient{Client: c, Namespace: connect.Namespace(opts)}
	return audit.Run(ctx, st, temporal, audit.Options{StuckAfter: stuckAfter})
}

// printReport prints the report, in JSON with whether the audit passed.
func (g *globals) printReport(r audit.Report) error {
	return cli.RenderEscapingHTML(g.stdout, g.output, auditOutput{OK: r.OK(), Report: r}, printAuditText)
}

// auditOutput is audit's -o json: the report and whether it passed.
type auditOutput struct {
	OK bool `json:"ok"`
	audit.Report
}

// printAuditText prints the report for people: the headline, the stuck
// orders, each check and each violation, then the verdict.
func printAuditText(w io.Writer, out auditOutput) error {
	r := out.Report
	fmt.Fprintln(w, auditHeadline(r))
	for _, s := range r.Stuck {
		fmt.Fprintf(w, "%s  %s\n", s.Mark(), s)
	}
	for _, c := range r.Checks {
		mark := "ok  "
		if c.Violations > 0 {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s  %s: %s\n", mark, c.Name, c.Detail)
	}
	for _, v := range r.Violations {
		fmt.Fprintf(w, "VIOLATION  %s\n", v)
	}
	switch {
	case r.OK():
		fmt.Fprintf(w, "audit passed: no violations, no order stuck over %s\n", r.StuckAfter)
	default:
		fmt.Fprintf(w, "audit failed: %d violation(s), %d order(s) stuck over %s\n", len(r.Violations), r.Overdue(), r.StuckAfter)
	}
	return nil
}

// auditHeadline counts what the audit judged, and how.
func auditHeadline(r audit.Report) string {
	ended := 0
	var parts []string
	for _, s := range workflows.Statuses {
		if n := r.OrdersEnded[s]; n > 0 {
			ended += n
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	byStatus := ""
	if len(parts) > 0 {
		byStatus = " (" + strings.Join(parts, ", ") + ")"
	}
	line := fmt.Sprintf("audit: %d orders ended%s, %d running, %d forgotten by Temporal and judged by the stores alone (%d completed, %d undone)",
		ended, byStatus, r.OrdersRunning, r.ForgottenCompleted+r.ForgottenUndone, r.ForgottenCompleted, r.ForgottenUndone)
	if r.StartedDuringAudit > 0 {
		line += fmt.Sprintf(", %d started during the audit (judged next time)", r.StartedDuringAudit)
	}
	return line
}

// envDuration reads a flag's default duration from the environment, or
// def when it is unset; checkDurationEnvs refuses one that is set but is
// no duration, so that a typo never turns into the default unseen.
func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(cli.EnvOr(name, "")); err == nil {
		return v
	}
	return def
}

// checkDurationEnvs refuses an environment variable among names that is
// set to something that is not a duration.
func checkDurationEnvs(names ...string) error {
	for _, name := range names {
		if v := cli.EnvOr(name, ""); v != "" {
			if _, err := time.ParseDuration(v); err != nil {
				return fmt.Errorf("%s=%q is not a duration: give one such as 5m or 30m", name, v)
			}
		}
	}
	return nil
}
