package continuousaudit

import (
	"context"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ordersaga/ordersaga/internal/audit"
)

// The audit's gauges, set after every scheduled audit in the metrics of
// the worker that ran it (`worker run --metrics-addr`): alert on any
// violation or stuck order, and on a last run that is too old.
const (
	// MetricViolations is how many violations the last audit found.
	MetricViolations = "ordersaga_audit_violations"
	// MetricStuckOrders is how many orders the last audit found without
	// progress for longer than its threshold (NEEDS_ATTENTION included).
	MetricStuckOrders = "ordersaga_audit_stuck_orders"
	// MetricNeedsAttention is how many orders wait for an operator.
	MetricNeedsAttention = "ordersaga_audit_needs_attention"
	// MetricLastRun is when the last audit ran, in Unix seconds.
	MetricLastRun = "ordersaga_audit_last_run_timestamp_seconds"
)

// maxLogged bounds how many violations and stuck orders one audit logs
// line by line; `worker audit` prints them all.
const maxLogged = 1000

// Activities run the audit for AuditWorkflow.
type Activities struct {
	// Audit runs one audit, as `worker audit` does: the stores opened
	// read-only, Temporal's orders listed, every check.
	Audit func(ctx context.Context) (audit.Report, error)
}

// RunAudit runs one audit and reports its findings in the worker's
// metrics and log; the workflow shows them in the Web UI. An audit that
// could not read the stores or Temporal fails, to be tried again.
func (a *Activities) RunAudit(ctx context.Context) (Summary, error) {
	start := time.Now()
	r, err := a.Audit(ctx)
	if err != nil {
		activity.GetLogger(ctx).Error("audit could not run", "error", err)
		return Summary{}, err
	}
	s := Summarize(r, start, time.Since(start))
	m := activity.GetMetricsHandler(ctx)
	m.Gauge(MetricViolations).Update(float64(s.Violations))
	m.Gauge(MetricStuckOrders).Update(float64(s.Stuck))
	m.Gauge(MetricNeedsAttention).Update(float64(s.NeedsAttention))
	m.Gauge(MetricLastRun).Update(float64(start.Unix()))
	logFindings(ctx, r, s)
	return s, nil
}

func logFindings(ctx context.Context, r audit.Report, s Summary) {
	logger := activity.GetLogger(ctx)
	if s.OK {
		logger.Info(s.Headline())
	} else {
		logger.Error(s.Headline())
	}
	for i, v := range r.Violations {
		if i == maxLogged {
			logger.Error("more violations: run worker audit for all of them", "more", len(r.Violations)-maxLogged)
			break
		}
		logger.Error("audit violation", "violation", v)
	}
	for i, st := range r.Stuck {
		if i == maxLogged {
			logger.Warn("more stuck orders: run worker audit for all of them", "more", len(r.Stuck)-maxLogged)
			break
		}
		logger.Warn("order without progress", "order_id", st.OrderID, "kind", st.Kind, "for", st.For,
			"overdue", st.Overdue, "detail", st.Detail, "action", st.Action)
	}
}
