package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/ordersaga/ordersaga"
)

// Register registers the order workflow on w, a worker polling
// ordersaga.OrdersTaskQueue, under its public name.
func Register(w worker.WorkflowRegistry) {
	w.RegisterWorkflowWithOptions(OrderWorkflow, workflow.RegisterOptions{Name: ordersaga.OrderWorkflowType})
}
