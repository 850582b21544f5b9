package load

import (
	"context"
	"fmt"
	"strings"

	"github.com/ordersaga/ordersaga/internal/audit"
	"github.com/ordersaga/ordersaga/internal/platform/cli"
)

// OutcomeError reports jobs that ended otherwise than their kinds asked,
// or an audit that failed: the starter exits 3 on it, as on an order that
// place --wait or cancel --wait saw end otherwise than asked.
type OutcomeError struct{ msg string }

func (e *OutcomeError) Error() string { return e.msg }

// run connects and runs the plan, audits a saga run, then reports. It
// returns an *OutcomeError when any job ended otherwise than its kind
// asked or the audit failed, and an error after the report when the audit
// could not run.
func (cfg Config) run(ctx context.Context, p loadPlan) error {
	oc, done, err := cfg.Connect()
	if err != nil {
		return err
	}
	defer done()
	job := tracedOrders(cfg.Tracer(), p.run, sagaJob(oc, p.run, p.window))
	if p.workflow == loadBaseline {
		job = baselineJob(oc.Temporal, p.run)
	}
	d := &driver{plan: p, job: job}
	results, elapsed := d.drive(ctx, newProgress(cfg.Stdout, cfg.Output() == cli.JSON))
	if ctx.Err() != nil {
		return fmt.Errorf("load interrupted after %d of %d %s ended; the ones started go on", countEnded(results), len(p.kinds), unitOf(p))
	}
	rep := buildReport(p, results, elapsed)
	rep.MaxInFlight = d.maxInFlight
	auditErr := auditLoad(ctx, p, audit.TemporalClient{Client: oc.Temporal, Namespace: oc.Namespace}, &rep)
	if err := cli.Render(cfg.Stdout, cfg.Output(), rep, printLoadReport); err != nil {
		return err
	}
	if auditErr != nil {
		return auditErr
	}
	return rep.outcome(unitOf(p))
}

// outcome is the *OutcomeError of a report with mismatches or a failed
// audit, nil for one without.
func (rep loadReport) outcome(unit string) error {
	var problems []string
	if n := len(rep.Mismatches); n > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d %s ended otherwise than asked", n, rep.Total, unit))
	}
	if a := rep.Audit; a != nil && a.Report != nil && !a.OK {
		problems = append(problems, fmt.Sprintf("the audit found %d violation(s) and %d order(s) stuck over %s",
			len(a.Violations), a.Overdue(), a.StuckAfter))
	}
	if len(problems) == 0 {
		return nil
	}
	return &OutcomeError{msg: strings.Join(problems, "; ")}
}

func unitOf(p loadPlan) string {
	if p.workflow == loadBaseline {
		return "workflows"
	}
	return "orders"
}
