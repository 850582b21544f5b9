package continuousaudit

import (
	"context"

	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
	"github.com/ordersaga/ordersaga/internal/audit"
)

// Register registers the audit workflow and its activity, which runs
// audits with run, on w, a worker polling ordersaga.AuditTaskQueue.
func Register(w worker.Registry, run func(ctx context.Context) (audit.Report, error)) {
	w.RegisterWorkflowWithOptions(AuditWorkflow, workflow.RegisterOptions{Name: ordersaga.AuditWorkflowType})
	w.RegisterActivity(&Activities{Audit: run})
}
