package continuousaudit

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
)

// AuditFailedError is the application error type of an audit run that
// found violations or stuck orders; its details hold the Summary.
const AuditFailedError = "AuditFailed"

// auditOptions bound one audit: it reads every store and Temporal's list,
// about a minute for 100,000 orders; a run that cannot read them is tried
// twice more, then the next scheduled run tries again.
var auditOptions = workflow.ActivityOptions{
	TaskQueue:           ordersaga.AuditTaskQueue,
	StartToCloseTimeout: 30 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval: 10 * time.Second,
		MaximumAttempts: 3,
	},
	Summary: "Audit the stores against Temporal",
}

// activities names the audit's activity for the workflow; the worker runs
// it, this nil pointer is never called.
var activities *Activities

// AuditWorkflow runs one audit and shows its findings: in its current
// details and result when it passes, and as its failure when it does not,
// so that the schedule's runs that found something stand out in the Web UI.
func AuditWorkflow(ctx workflow.Context) (Summary, error) {
	workflow.SetCurrentDetails(ctx, "Auditing the stores against Temporal…")
	var s Summary
	err := workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, auditOptions), activities.RunAudit).Get(ctx, &s)
	if err != nil {
		workflow.SetCurrentDetails(ctx, "**The audit could not run**: "+err.Error())
		return Summary{}, err
	}
	workflow.SetCurrentDetails(ctx, s.Markdown())
	if !s.OK {
		return Summary{}, temporal.NewNonRetryableApplicationError(s.Headline(), AuditFailedError, nil, s)
	}
	return s, nil
}
